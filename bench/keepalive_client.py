#!/usr/bin/env python3
"""Sends N sequential GET requests on one kept-alive connection and checks
every answer is a 200 with a body, so that an instruction count taken
around it is a count of N served requests. usage: keepalive_client.py PORT PATH N"""
import socket
import sys


def read_response(sock, pending):
    """Reads one response (headers and a Content-Length body) from sock;
    returns (status, rest of the buffer)."""
    while b"\r\n\r\n" not in pending:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("the server closed the connection mid-run")
        pending += chunk
    head, _, pending = pending.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        if name.strip().lower() == b"connection" and value.strip().lower() == b"close":
            raise SystemExit("the server asked to close the connection mid-run")
    while len(pending) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("the server closed the connection mid-body")
        pending += chunk
    return status, pending[length:]


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__.splitlines()[-1].strip())
    port, path, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        pending = b""
        for i in range(count):
            sock.sendall(request)
            status, pending = read_response(sock, pending)
            if status != 200:
                raise SystemExit(f"request {i + 1} got {status}")


if __name__ == "__main__":
    main()
