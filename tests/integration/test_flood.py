"""One address flooding the server with new connections must not starve
the others (issue 26, finding 3).

A connection over --max-connections-per-ip used to hold an HTTP slot (and,
over HTTPS, a TLS slot and a handshake) for 0.5 to 1.5 s before it was
closed, so one address that kept opening connections filled the totals:
with 64 connections, 8 per address and 64 TLS, 300 new connections a second
from 127.0.0.1 made 19 of 26 HTTPS requests from 127.0.0.2 fail. Now the
HTTP daemon's accept policy and the TLS listener refuse such a connection
as it is accepted, before it takes anything shared.

Here 127.0.0.1 opens new connections without pause (over TLS each sends the
start of a ClientHello and stops, as a handshake would stall), keeping the
latest few hundred open, while 127.0.0.2 makes requests one after another.
Every one of the victim's requests must be answered 200; the time bounds
are generous, only there to end a broken run, and nothing is asserted
about latency. The flood is bounded by the victim's requests and by a
connection count.
"""
import math
import re
import socket
import threading
import time

import pytest

import rawhttp
from tls import client_context, client_hello, start_tls_server

LIMITS = ["--max-connections", "64", "--max-connections-per-ip", "8",
          "--max-tls-connections", "64"]
VICTIM_REQUESTS = 20
VICTIM_TIMEOUT_S = 60.0
FLOOD_MAX_CONNECTIONS = 20000
FLOOD_HELD = 200  # attacker sockets kept open at once (the oldest is closed)
FLOOD_BEFORE_VICTIM = 100  # connections opened before the victim starts


class Flood(threading.Thread):
    """New connections from 127.0.0.1 until stopped or the count is reached."""

    def __init__(self, port, first_bytes):
        super().__init__(daemon=True)
        self.port = port
        self.first_bytes = first_bytes
        self.stopping = threading.Event()
        self.opened = 0

    def run(self):
        held = []
        try:
            while not self.stopping.is_set() and self.opened < FLOOD_MAX_CONNECTIONS:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.settimeout(1.0)
                try:
                    sock.bind(("127.0.0.1", 0))
                    sock.connect(("127.0.0.1", self.port))
                    if self.first_bytes:
                        sock.send(self.first_bytes)
                except OSError:
                    sock.close()
                    continue
                self.opened += 1
                held.append(sock)
                if len(held) > FLOOD_HELD:
                    held.pop(0).close()
        finally:
            for sock in held:
                sock.close()

    def wait_going(self):
        deadline = time.monotonic() + VICTIM_TIMEOUT_S
        while self.opened < FLOOD_BEFORE_VICTIM and time.monotonic() < deadline:
            assert self.is_alive(), "the flood ended early"
            time.sleep(0.01)
        assert self.opened >= FLOOD_BEFORE_VICTIM, f"the flood opened only {self.opened}"

    def stop(self):
        self.stopping.set()
        self.join(timeout=VICTIM_TIMEOUT_S)
        assert not self.is_alive()


@pytest.mark.parametrize("transport", ["http", "https"])
def test_a_flood_from_one_address_leaves_the_others_served(server, tls_files, transport):
    if transport == "http":
        srv = server(*LIMITS)
        port, tls, first_bytes = srv.port, None, rawhttp.request("/healthz")[:10]
    else:
        srv = start_tls_server(server, tls_files, "ec", *LIMITS)
        port, tls = srv.tls_port, client_context(tls_files)
        first_bytes = client_hello(tls_files)[:50]
    flood = Flood(port, first_bytes)
    started = time.monotonic()
    flood.start()
    answers = []
    try:
        flood.wait_going()
        for _ in range(VICTIM_REQUESTS):
            try:
                received, _ = rawhttp.exchange(
                    port, rawhttp.request("/healthz", headers={"Connection": "close"}),
                    source="127.0.0.2", bound_s=VICTIM_TIMEOUT_S, tls=tls)
            except OSError as error:  # refused, reset, or the handshake failed
                answers.append(repr(error))
                continue
            response = rawhttp.one_response(received)
            answers.append(response.status if response is not None else None)
    finally:
        flood.stop()
    elapsed_s = time.monotonic() - started
    print(f"\n{transport} flood: {flood.opened} connections from 127.0.0.1; the victim's "
          f"answers {answers}")
    assert answers == [200] * VICTIM_REQUESTS, answers
    # The refusals' log line is throttled: one per 10 s at most (the next
    # says how many were left out), however many connections were refused.
    srv.wait_for_log(r"refused a (TLS )?connection from 127\.0\.0\.1: over the limit")
    lines = re.findall(r"refused a (?:TLS )?connection from 127\.0\.0\.1", srv.stdout())
    assert len(lines) <= 1 + math.ceil(elapsed_s / 10), (len(lines), elapsed_s)
