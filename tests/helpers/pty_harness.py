#!/usr/bin/env python3
"""A tiny expect: runs a command on a new pseudo-terminal and drives it with a script.

Usage:
  pty_harness.py [--rows R] [--cols C] [--timeout S] [--term TERM]
                 [-e STEP]... [--script FILE] -- COMMAND [ARGS...]

The command starts as a session leader with the pty slave as its controlling terminal and
stdin/stdout/stderr, with the window size R x C (default 24 x 80). Steps run in order (-e steps
first, then the lines of --script; blank lines and lines starting with '#' are skipped):

  expect REGEX        wait until REGEX (Python re) matches the output after the previous match
  send TEXT           write TEXT; backslash escapes are decoded: \\r \\n \\t \\x1b \\x04 \\\\ ...
  sendline TEXT       send TEXT followed by \\r (the Enter key)
  resize ROWS COLS    TIOCSWINSZ on the master: the kernel sends SIGWINCH to the foreground job
  signal NAME         send a signal (TERM, HUP, INT, ...) to the command's process group
  close               close the master side (the command's terminal hangs up)
  timeout SECONDS     the deadline for each following step (default --timeout, 10 s)
  wait-exit           wait for the command to end

Every step has a deadline; nothing sleeps blindly. At the end (after wait-exit, or after the last
step, which then hangs up the terminal and waits for the command), the transcript (all output,
raw) is written to stdout and the harness exits with the command's status (128+N when killed by
signal N).

On failure (a deadline passed, a bad step, the command ended before an expected match) the
transcript is written to stdout, the reason to stderr, the command's process group is hung up and
then killed, and the exit status is 99.

Examples:
  pty_harness.py --rows 40 --cols 120 -e 'expect [#$] $' -e 'sendline stty size' \\
      -e 'expect 40 120' -e 'sendline exit 5' -e wait-exit -- droidspaces --name=c enter
  pty_harness.py -e 'expect Console of' -e 'send \\x1b\\x04' -e wait-exit -- droidspaces ... start -f
"""

import argparse
import errno
import fcntl
import os
import re
import select
import signal
import struct
import sys
import termios
import time

HARNESS_FAILURE = 99


class HarnessError(Exception):
    pass


def decode_escapes(text):
    """'\\x1b\\x04' -> bytes 1b 04; non-ASCII text stays UTF-8."""
    return text.encode("utf-8").decode("unicode_escape").encode("latin-1")


def set_window_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def status_code(status):
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return 1


class Session:
    def __init__(self, argv, rows, cols, term):
        self.output = bytearray()
        self.cursor = 0  # expect searches the decoded output from here
        self.status = None
        self.eof = False
        master, slave = os.openpty()
        set_window_size(slave, rows, cols)
        env = dict(os.environ)
        if term:
            env["TERM"] = term
        pid = os.fork()
        if pid == 0:  # the command: session leader, the slave as its controlling terminal
            try:
                os.close(master)
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(slave, fd)
                if slave > 2:
                    os.close(slave)
                for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGQUIT):
                    signal.signal(sig, signal.SIG_DFL)
                os.execvpe(argv[0], argv, env)
            except OSError as e:
                os.write(2, f"pty_harness: exec {argv[0]}: {e.strerror}\r\n".encode())
            os._exit(127)
        os.close(slave)
        self.pid = pid
        self.master = master
        os.set_blocking(master, False)
        # Readable when the command ends: waits need no polling.
        self.pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None

    # --- output -----------------------------------------------------------------------------

    def _read_some(self, timeout):
        """Reads what the command wrote within `timeout` seconds; False at EOF."""
        if self.eof:
            return False
        ready, _, _ = select.select([self.master], [], [], max(0.0, timeout))
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError as e:
            if e.errno == errno.EAGAIN:
                return True
            if e.errno != errno.EIO:
                raise
            data = b""
        if not data:  # EIO: every slave fd is closed
            self.eof = True
            return False
        self.output += data
        return True

    def text(self):
        return self.output.decode("utf-8", errors="replace")

    def _wait_readable(self, timeout):
        """Waits up to `timeout` for output or the command's end."""
        fds = [fd for fd in (None if self.eof else self.master, self.pidfd) if fd is not None]
        if fds:
            select.select(fds, [], [], max(0.0, timeout))
        else:  # no pidfd (Python < 3.9) and no terminal: short bounded waits
            time.sleep(min(timeout, 0.02))

    def _reap(self, flags=os.WNOHANG):
        if self.status is None:
            pid, status = os.waitpid(self.pid, flags)
            if pid == self.pid:
                self.status = status_code(status)
        return self.status is not None

    # --- steps ------------------------------------------------------------------------------

    def expect(self, pattern, timeout):
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.text(), self.cursor)
            if match:
                self.cursor = match.end()
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise HarnessError(f"timed out after {timeout:g} s waiting for /{pattern}/")
            if not self._read_some(min(left, 0.5)):
                raise HarnessError(f"the command closed its terminal before /{pattern}/ appeared")

    def send(self, data, timeout):
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([], [self.master], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise HarnessError(f"timed out after {timeout:g} s writing to the terminal")
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                continue
            view = view[n:]
            self._read_some(0)  # keep the command's output flowing while writing

    def resize(self, rows, cols):
        set_window_size(self.master, rows, cols)

    def signal(self, name):
        sig = getattr(signal, "SIG" + name.upper().removeprefix("SIG"), None)
        if not isinstance(sig, signal.Signals):
            raise HarnessError(f"unknown signal {name}")
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def close(self):
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
            self.eof = True

    def wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        while not self._reap():
            left = deadline - time.monotonic()
            if left <= 0:
                raise HarnessError(f"the command did not exit within {timeout:g} s")
            self._wait_readable(left)
            self._read_some(0)
        # Output still buffered in the pty (jobs left behind may keep it open: bounded drain).
        drain_deadline = time.monotonic() + 0.5
        while not self.eof and time.monotonic() < drain_deadline:
            before = len(self.output)
            self._read_some(0.05)
            if len(self.output) == before:
                break
        return self.status

    def kill(self):
        """Failure cleanup: hang up, then kill what is left of the command's process group."""
        self.close()
        for sig, wait in ((signal.SIGHUP, 1.0), (signal.SIGKILL, 5.0)):
            if self._reap():
                return
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + wait
            while not self._reap() and time.monotonic() < deadline:
                self._wait_readable(deadline - time.monotonic())


def parse_steps(args):
    steps = list(args.e or [])
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            steps += [line.rstrip("\n") for line in f]
    parsed = []
    for step in steps:
        if not step.strip() or step.lstrip().startswith("#"):
            continue
        verb, _, rest = step.lstrip().partition(" ")
        if verb not in ("expect", "send", "sendline", "resize", "signal", "close", "timeout",
                        "wait-exit"):
            raise HarnessError(f"unknown step '{step}'")
        if verb == "resize":
            parts = rest.split()
            if len(parts) != 2 or not all(p.isdigit() for p in parts):
                raise HarnessError(f"resize takes ROWS COLS: '{step}'")
        if verb == "timeout":
            try:
                float(rest)
            except ValueError:
                raise HarnessError(f"timeout takes SECONDS: '{step}'") from None
        parsed.append((verb, rest))
    return parsed


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--cols", type=int, default=80)
    parser.add_argument("--timeout", type=float, default=10.0, help="per-step deadline (s)")
    parser.add_argument("--term", default=os.environ.get("TERM") or "xterm-256color",
                        help="TERM for the command")
    parser.add_argument("-e", action="append", metavar="STEP", help="a script step")
    parser.add_argument("--script", metavar="FILE", help="more steps, one per line")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()

    try:
        steps = parse_steps(args)
    except HarnessError as e:
        print(f"pty_harness: {e}", file=sys.stderr)
        return HARNESS_FAILURE

    session = Session(args.command, args.rows, args.cols, args.term)
    timeout = args.timeout
    try:
        waited = False
        for verb, rest in steps:
            if verb == "expect":
                session.expect(rest, timeout)
            elif verb == "send":
                session.send(decode_escapes(rest), timeout)
            elif verb == "sendline":
                session.send(decode_escapes(rest) + b"\r", timeout)
            elif verb == "resize":
                rows, cols = (int(p) for p in rest.split())
                session.resize(rows, cols)
            elif verb == "signal":
                session.signal(rest.strip())
            elif verb == "close":
                session.close()
            elif verb == "timeout":
                timeout = float(rest)
            elif verb == "wait-exit":
                session.wait_exit(timeout)
                waited = True
        if not waited:
            session.close()
            session.wait_exit(timeout)
    except HarnessError as e:
        session.kill()
        sys.stdout.write(session.text())
        sys.stdout.flush()
        print(f"\npty_harness: {e}", file=sys.stderr)
        return HARNESS_FAILURE
    sys.stdout.write(session.text())
    sys.stdout.flush()
    session.close()
    return session.status


if __name__ == "__main__":
    sys.exit(main())
