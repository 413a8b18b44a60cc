#!/usr/bin/python3
"""Memory a server holds per idle keep-alive connection, and what it gives
back once they close. For bench/idle-memory.sh; figures only.

usage: bench/idle_clients.py --port PORT --pid PID --connections N
                             [--tls CAFILE] [--settle S] [--path PATH] [--half BYTES]

Opens N connections to 127.0.0.1:PORT one after another (with TLS given a CA
file: a full handshake each), sends one GET PATH on each and reads its whole
answer, and keeps them all open and idle. One second after the last, reads
the server's VmRSS and checks which connections the server still holds (a
closed one reads as end of file); then closes them all and reads VmRSS again
SETTLE seconds later. With --half, each connection sends only the first
BYTES of a request head (the request line and one long header, never
ended) and waits, as a slow or hostile client would. Prints one JSON object:

  connections, answered (200s), open_at_held (still open when RSS was read),
  rss_kib_before, rss_kib_held, rss_kib_after,
  bytes_per_connection = (held - before) / open_at_held.

tests/integration/test_idle_memory.py imports open_idle().
"""
import argparse
import json
import selectors
import socket
import ssl
import time


def request_bytes(path):
    return f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


def half_request_bytes(path, size):
    """The first `size` bytes of a request head that never ends."""
    head = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nX-Fill: ".encode()
    return head + b"f" * max(0, size - len(head))


def read_answer(sock):
    """Reads one response with its Content-Length body; returns its status,
    or None if the connection ended first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return int(lines[0].split()[1])


def open_idle(port, count, path="/healthz", context=None, timeout_s=30.0, send=None,
              answered=True):
    """`count` connections, one after another, each sent a GET `path` (or
    the bytes `send`) and, if `answered`, its answer read before the next
    opens; returns (sockets, answered 200s). The caller closes them."""
    payload = request_bytes(path) if send is None else send
    conns, ok = [], 0
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
            if context is not None:
                sock = context.wrap_socket(sock, server_hostname="localhost")
            conns.append(sock)
            sock.sendall(payload)
            if answered and read_answer(sock) == 200:
                ok += 1
        return conns, ok
    except BaseException:
        for sock in conns:
            sock.close()
        raise


def still_open(conns):
    """How many of the connections the server has not closed: a connection
    the server closed is readable (end of file, or a TLS close_notify)."""
    selector = selectors.DefaultSelector()
    try:
        for sock in conns:
            selector.register(sock, selectors.EVENT_READ)
        readable = len(selector.select(timeout=0))
    finally:
        selector.close()
    return len(conns) - readable


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit(f"no VmRSS for process {pid}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True, help="the server's, for /proc")
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--tls", metavar="CAFILE", default=None)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--path", default="/healthz")
    parser.add_argument("--half", type=int, metavar="BYTES", default=None)
    args = parser.parse_args()
    context = None
    if args.tls:
        context = ssl.create_default_context(cafile=args.tls)
        context.check_hostname = False
    before = rss_kib(args.pid)
    send = None if args.half is None else half_request_bytes(args.path, args.half)
    conns, answered = open_idle(args.port, args.connections, args.path, context, send=send,
                                answered=send is None)
    try:
        time.sleep(1.0)
        held = rss_kib(args.pid)
        open_at_held = still_open(conns)
    finally:
        for sock in conns:
            sock.close()
    time.sleep(args.settle)
    after = rss_kib(args.pid)
    print(json.dumps({
        "connections": args.connections,
        "answered": answered,
        "open_at_held": open_at_held,
        "rss_kib_before": before,
        "rss_kib_held": held,
        "rss_kib_after": after,
        "bytes_per_connection": round((held - before) * 1024 / max(1, open_at_held)),
    }))


if __name__ == "__main__":
    main()
