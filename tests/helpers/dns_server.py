#!/usr/bin/env python3
"""A tiny DNS server for the networking suites: answers every A query with one address.

Usage: dns_server.py LISTEN_IP ANSWER_IP
Runs inside the suite's "outside" network namespace only; nothing else is ever asked.
"""
import socket
import struct
import sys


def answer(query: bytes, address: bytes) -> bytes:
    if len(query) < 12:
        return b""
    ident, flags, qdcount = struct.unpack("!HHH", query[:6])
    if qdcount != 1:
        return b""
    pos = 12
    while pos < len(query) and query[pos] != 0:
        pos += query[pos] + 1
    pos += 5  # the name's terminator, QTYPE, QCLASS
    if pos > len(query):
        return b""
    question = query[12:pos]
    qtype = struct.unpack("!H", query[pos - 4:pos - 2])[0]
    header = struct.pack("!HHHHHH", ident, 0x8180, 1, 1 if qtype == 1 else 0, 0, 0)
    if qtype != 1:
        return header + question
    record = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + address
    return header + question + record


def main() -> None:
    listen, reply = sys.argv[1], socket.inet_aton(sys.argv[2])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((listen, 53))
    while True:
        data, peer = sock.recvfrom(512)
        out = answer(data, reply)
        if out:
            sock.sendto(out, peer)


if __name__ == "__main__":
    main()
