#!/usr/bin/env python3
"""A small Server-Sent Events client for tests/92-server-streams.bats (standard library only).

  sse_client.py [common] stream PATH [--until EVENT] [--count N]
      GETs PATH and prints each event as one line "EVENT DATA" (DATA is the JSON text) until
      EVENT arrives (printed too), N events were printed, the server ends the stream or the
      timeout passes (exit 1 then). With --method POST and --data-file/--data, the body is sent
      (--content-type sets its type).
  sse_client.py [common] terminal NAME [-e STEP]...
      Opens a terminal on container NAME, attaches to its output and runs the steps in order:
        send TEXT         POST .../input {"data": TEXT} (\\r, \\n, \\t, \\xHH understood)
        expect REGEX      wait until the output (since the last expect) matches
        resize ROWS COLS  POST .../resize
        pidfile PATH      write the shell's host PID to PATH
        close             close the output stream abruptly (the client goes away)
        delete            DELETE the session
        wait-exit         wait for the "exit" event; prints "exit N"
      Prints everything the terminal wrote at the end ("--- output" then the text).
common: --base URL (default $BASE), --token T (default $TOKEN), --timeout SECONDS (default 30).
Exit status: 0 when everything happened in time, 1 otherwise.
"""

import argparse
import base64
import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.parse


def connect(base, timeout):
    url = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)


def headers(args, extra=None):
    h = {"Authorization": "Bearer " + args.token}
    if extra:
        h.update(extra)
    return h


def request(args, method, path, body=None):
    """One JSON request; returns (status, parsed body or text)."""
    conn = connect(args.base, args.timeout)
    data = None if body is None else json.dumps(body)
    extra = {"Content-Type": "application/json"} if data is not None else {}
    conn.request(method, path, body=data, headers=headers(args, extra))
    resp = conn.getresponse()
    text = resp.read().decode("utf-8", "replace")
    conn.close()
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, text


class EventReader:
    """Reads SSE events from a streaming response in a thread."""

    def __init__(self, resp, conn):
        self.resp = resp
        self.conn = conn
        self.events = []  # (type, data text)
        self.ended = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        buf = b""
        try:
            while True:
                chunk = self.resp.read1(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n\n" in buf:
                    frame, buf = buf.split(b"\n\n", 1)
                    self._frame(frame.decode("utf-8", "replace"))
        except Exception:  # closed under us (close step), reset: the stream ended either way
            pass
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def _frame(self, frame):
        etype, data = "message", []
        for line in frame.split("\n"):
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                etype = value
            elif field == "data":
                data.append(value)
        if not data:
            return
        with self.cond:
            self.events.append((etype, "\n".join(data)))
            self.cond.notify_all()

    def wait(self, predicate, deadline):
        """Waits until predicate(events, ended) is true or the deadline passes."""
        with self.cond:
            while not predicate(self.events, self.ended):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.2))
            return True

    def close(self):
        # shutdown() rather than close(): the socket is ended for the server at once even while
        # the reader thread still holds it.
        try:
            import socket

            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        self.conn.close()


def open_stream(args, path, method="GET", body=None, content_type=None):
    conn = connect(args.base, args.timeout)
    extra = {"Accept": "text/event-stream"}
    if content_type:
        extra["Content-Type"] = content_type
    conn.request(method, path, body=body, headers=headers(args, extra))
    resp = conn.getresponse()
    return conn, resp


def cmd_stream(args):
    body = None
    if args.data_file:
        body = open(args.data_file, "rb")
    elif args.data is not None:
        body = args.data.encode()
    conn, resp = open_stream(args, args.path, args.method, body, args.content_type)
    if resp.status != 200:
        print("HTTP %d %s" % (resp.status, resp.read().decode("utf-8", "replace").strip()))
        return 1
    reader = EventReader(resp, conn)
    deadline = time.monotonic() + args.timeout
    printed = 0
    ok = False
    while True:
        have = printed
        reader.wait(lambda ev, ended: len(ev) > have or ended, deadline)
        with reader.cond:
            new = reader.events[printed:]
            ended = reader.ended
        for etype, data in new:
            print(etype, data, flush=True)
            printed += 1
            if (args.until and etype == args.until) or (args.count and printed >= args.count):
                ok = True
                break
        if ok:
            break
        if ended and printed == len(reader.events):
            ok = not args.until and not args.count
            print("(stream ended)", flush=True)
            break
        if time.monotonic() >= deadline:
            print("(timed out)", flush=True)
            break
    reader.close()
    return 0 if ok else 1


def unescape(text):
    return re.sub(
        r"\\(r|n|t|\\|x[0-9a-fA-F]{2})",
        lambda m: {"r": "\r", "n": "\n", "t": "\t", "\\": "\\"}.get(m.group(1))
        or chr(int(m.group(1)[1:], 16)),
        text,
    )


def cmd_terminal(args):
    base_path = "/api/v1/containers/%s/terminal" % urllib.parse.quote(args.name)
    status, doc = request(args, "POST", base_path, {"rows": 24, "cols": 80})
    if status != 201:
        print("open: HTTP %d %s" % (status, doc))
        return 1
    sid, pid = doc["id"], doc.get("pid")
    conn, resp = open_stream(args, base_path + "/" + sid)
    if resp.status != 200:
        print("attach: HTTP %d" % resp.status)
        return 1
    reader = EventReader(resp, conn)
    deadline = time.monotonic() + args.timeout
    seen = 0  # output bytes already matched by an expect

    def output():
        with reader.cond:
            raw = b"".join(
                base64.b64decode(json.loads(d)["data"]) for t, d in reader.events if t == "output"
            )
        return raw.decode("utf-8", "replace")

    ok = True
    for step in args.e:
        verb, _, rest = step.partition(" ")
        if verb == "send":
            status, doc = request(args, "POST", base_path + "/%s/input" % sid,
                                  {"data": unescape(rest)})
            ok = status == 200
        elif verb == "expect":
            pattern = re.compile(rest)
            found = reader.wait(lambda ev, ended: pattern.search(output()[seen:]), deadline)
            if found:
                m = pattern.search(output()[seen:])
                seen += m.end()
            ok = bool(found)
        elif verb == "resize":
            rows, cols = rest.split()
            status, doc = request(args, "POST", base_path + "/%s/resize" % sid,
                                  {"rows": int(rows), "cols": int(cols)})
            ok = status == 200
        elif verb == "pidfile":
            with open(rest, "w") as f:
                f.write("%s\n" % pid)
        elif verb == "close":
            reader.close()
        elif verb == "delete":
            status, doc = request(args, "DELETE", base_path + "/%s" % sid)
            ok = status == 200
        elif verb == "wait-exit":
            ok = reader.wait(lambda ev, ended: any(t == "exit" for t, _ in ev), deadline)
            if ok:
                with reader.cond:
                    code = [json.loads(d) for t, d in reader.events if t == "exit"][0]
                print("exit %s" % code["exit_code"])
        else:
            print("unknown step: " + step)
            ok = False
        if not ok:
            print("step failed: %s (status %s %s)" % (step, status if verb in (
                "send", "resize", "delete") else "-", doc if verb in ("send", "resize", "delete")
                else ""))
            break
    print("--- output")
    print(output())
    reader.close()
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", default=os.environ.get("BASE"))
    p.add_argument("--token", default=os.environ.get("TOKEN"))
    p.add_argument("--timeout", type=float, default=30)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stream")
    s.add_argument("path")
    s.add_argument("--until")
    s.add_argument("--count", type=int)
    s.add_argument("--method", default="GET")
    s.add_argument("--data")
    s.add_argument("--data-file")
    s.add_argument("--content-type")
    t = sub.add_parser("terminal")
    t.add_argument("name")
    t.add_argument("-e", action="append", default=[])
    args = p.parse_args()
    return cmd_stream(args) if args.cmd == "stream" else cmd_terminal(args)


if __name__ == "__main__":
    sys.exit(main())
