#!/usr/bin/python3
"""Many TLS clients at once against one server, from one process.

usage: bench/tls_clients.py --port TLS_PORT --cafile CA --pid SERVER_PID
                            [--connections N] [--stuck N] [--samples N]

Two measurements, printed as one JSON object (figures only; nothing passes
or fails here):

  many:  N connections handshake together (non-blocking sockets driven by
         selectors), are all held open, then each makes one GET /healthz.
         Reports the wall time, errors, the server's threads and RSS before,
         while open and after, and RSS per connection.
  stuck: N clients each send half a ClientHello and stop. Meanwhile a
         well-behaved client makes SAMPLES fresh HTTPS connections, each a
         handshake and GET /healthz; reports each one's latency.

tests/integration/test_tls_scale.py imports open_many() and stuck_clients().
"""
import argparse
import json
import os
import selectors
import socket
import ssl
import statistics
import time

from idle_clients import read_answer

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
HALF_HELLO_BYTES = 50


def open_many(port, context, count, bound_s):
    """`count` TLS connections to 127.0.0.1:port with the handshake done,
    driven together. Returns (connections, handshakes left unfinished when
    none had finished or failed for bound_s, handshakes the server failed
    or reset); the connections are blocking again.

    bound_s bounds a stall, not the whole: a slow server that keeps
    finishing handshakes gets all the time it needs, a stuck one is given
    up on bound_s after its last progress."""
    selector = selectors.DefaultSelector()
    done = []
    failed = 0
    try:
        for _ in range(count):
            # Connected first: newer Pythons refuse to wrap a socket that
            # is still connecting.
            raw = socket.create_connection(("127.0.0.1", port), timeout=bound_s)
            raw.setblocking(False)
            tls = context.wrap_socket(raw, server_hostname="localhost",
                                      do_handshake_on_connect=False)
            selector.register(tls, selectors.EVENT_WRITE)
        deadline = time.monotonic() + bound_s
        while selector.get_map() and time.monotonic() < deadline:
            settled = len(done) + failed
            for key, _ in selector.select(timeout=1.0):
                tls = key.fileobj
                try:
                    tls.do_handshake()
                except ssl.SSLWantReadError:
                    selector.modify(tls, selectors.EVENT_READ)
                except ssl.SSLWantWriteError:
                    selector.modify(tls, selectors.EVENT_WRITE)
                except OSError:  # ssl.SSLError included
                    selector.unregister(tls)
                    tls.close()
                    failed += 1
                else:
                    selector.unregister(tls)
                    tls.setblocking(True)
                    done.append(tls)
            if len(done) + failed > settled:
                deadline = time.monotonic() + bound_s
        return done, len(selector.get_map()), failed
    except BaseException:
        for tls in done:
            tls.close()
        raise
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()
        selector.close()


def client_hello(context):
    """The first bytes a real client sends, captured through memory BIOs."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def stuck_clients(port, context, count, timeout_s):
    """`count` clients that send half a ClientHello and then nothing."""
    half = client_hello(context)[:HALF_HELLO_BYTES]
    clients = []
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
            clients.append(s)
            s.sendall(half)
        return clients
    except BaseException:
        for s in clients:
            s.close()
        raise


def healthz_status(tls):
    """Sends GET /healthz and returns the status of the answer."""
    tls.sendall(HEALTHZ)
    return read_answer(tls)


def process_figures(pid):
    status = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.split()
    return {"threads": len(os.listdir(f"/proc/{pid}/task")), "rss_kib": int(status["VmRSS"][0])}


def measure_many(args, context):
    before = process_figures(args.pid)
    start = time.monotonic()
    connections, unfinished, failed = open_many(args.port, context, args.connections, args.bound)
    handshakes_s = time.monotonic() - start
    try:
        held = process_figures(args.pid)
        statuses = []
        for tls in connections:
            tls.settimeout(args.bound)
            try:
                statuses.append(healthz_status(tls))
            except OSError:
                statuses.append(None)
        answered = process_figures(args.pid)
    finally:
        for tls in connections:
            tls.close()
    time.sleep(1)
    after = process_figures(args.pid)
    ok = statuses.count(200)
    return {
        "connections": args.connections,
        "handshakes_s": round(handshakes_s, 2),
        "unfinished_handshakes": unfinished,
        "failed_handshakes": failed,
        "answered_200": ok,
        "errors": args.connections - ok,
        "threads_before": before["threads"],
        "threads_held": held["threads"],
        "threads_answered": answered["threads"],
        "rss_kib_before": before["rss_kib"],
        "rss_kib_held": held["rss_kib"],
        "rss_kib_answered": answered["rss_kib"],
        "rss_kib_after": after["rss_kib"],
        "rss_bytes_per_connection": round((answered["rss_kib"] - before["rss_kib"]) * 1024 /
                                          max(1, args.connections)),
    }


def measure_stuck(args, context):
    clients = stuck_clients(args.port, context, args.stuck, args.bound)
    latencies = []
    failures = 0
    try:
        held = process_figures(args.pid)
        for _ in range(args.samples):
            start = time.monotonic()
            try:
                raw = socket.create_connection(("127.0.0.1", args.port), timeout=args.bound)
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    ok = healthz_status(tls) == 200
            except OSError:
                ok = False
            latencies.append(time.monotonic() - start)
            failures += not ok
            time.sleep(0.2)
    finally:
        for s in clients:
            s.close()
    return {
        "stuck": args.stuck,
        "threads_with_stuck": held["threads"],
        "rss_kib_with_stuck": held["rss_kib"],
        "healthz_samples": args.samples,
        "healthz_failures": failures,
        "healthz_ms_median": round(statistics.median(latencies) * 1000, 1),
        "healthz_ms_max": round(max(latencies) * 1000, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cafile", required=True)
    parser.add_argument("--pid", type=int, required=True, help="the server's, for /proc")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--stuck", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--bound", type=float, default=300.0,
                        help="seconds without progress before giving up")
    args = parser.parse_args()
    context = ssl.create_default_context(cafile=args.cafile)
    result = {"many": measure_many(args, context), "stuck": measure_stuck(args, context)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
