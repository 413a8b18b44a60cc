"""Hardening (issue 6): every limit the server enforces, pushed past its
edge with raw sockets or curl against the real binary.

  - connections: in total (--max-connections: the next one waits in the
    listen backlog until a slot frees) and per client address
    (--max-connections-per-ip: the next one is closed as it is accepted,
    unanswered, so it costs no slot), over HTTP and HTTPS;
  - request size: headers that do not fit --connection-memory-limit get
    libmicrohttpd's 431 (JSON, as built), targets over --max-url-length our JSON 414, and a
    body where none is taken 413, without the server reading it;
  - slow clients: --request-timeout ends a trickling client that the idle
    timeout never would, and 200 slowloris connections leave /healthz
    answering;
  - allocation failure inside /bench (an address-space limit set on the
    running server) is a 503 JSON error and the server keeps serving.

docs/reliability.md records what each case sent and what happened. Time
bounds are generous: they only keep a broken server from hanging the suite.
"""
import contextlib
import os
import re
import resource
import socket
import threading
import time
from pathlib import Path

import pytest

import rawhttp
from binary import NOT_A_RELEASE_BUILD, SANITIZER_BUILD
from bounds import CLOSE_BOUND_S
from curl import assert_json_error
from metrics import sample, scrape
from net import send_ignoring_reset
from proc import fd_count
from server import HEALTHY, LONG_BENCH_ARGS, LONG_BENCH_THREADS
from tls import client_context, client_hello, start_tls_server

def assert_healthy(srv, source="127.0.0.1"):
    response = rawhttp.one_response(rawhttp.exchange(
        srv.port, rawhttp.request("/healthz", headers={"Connection": "close"}), source)[0])
    assert response is not None and response.status == 200, response
    assert response.json == HEALTHY, response.describe()


def held_connection(srv, source="127.0.0.1", port=None, tls=None):
    """A kept-alive connection that has had one answer, so the server has
    certainly accepted it (to the HTTPS port, given port and tls)."""
    sock, response = rawhttp.served_connection(port or srv.port, source, tls=tls,
                                               patience_s=CLOSE_BOUND_S)
    assert response is not None and response.status == 200, response
    return sock


# --------------------------------------------------------------------------
# Connections

def test_total_connection_limit_queues_the_next_connection(server):
    srv = server("--max-connections", "8", "--max-connections-per-ip", "0")
    held = [held_connection(srv) for _ in range(8)]
    try:
        extra = rawhttp.connect(srv.port)
        extra.sendall(rawhttp.request("/healthz"))
        # The kernel completed the handshake, but the server does not
        # accept a ninth connection: no answer while all eight are open.
        assert rawhttp.read_response(extra, bound_s=1.5) is None
        held.pop().close()
        response = rawhttp.read_response(extra, bound_s=CLOSE_BOUND_S)
        assert response is not None and response.status == 200, response
        extra.close()
    finally:
        for sock in held:
            sock.close()


@pytest.mark.parametrize("transport", ["http", "https"])
def test_per_ip_connection_limit_refuses_at_accept(server, curl, tls_files, transport):
    """The connection over --max-connections-per-ip is closed as it is
    accepted, before anything is read or set up for it: its request gets
    no answer (it was answered 503 from a slot of its own, held for up to
    1.5 s, so a flood of new connections from one address filled the
    total; issue 26). Over HTTPS it is refused before the handshake. It is
    logged at info level with the address and counted by reason."""
    if transport == "http":
        srv = server("--max-connections-per-ip", "4")
        port, tls, what = srv.port, None, "connection"
    else:
        srv = start_tls_server(server, tls_files, "ec", "--max-connections-per-ip", "4")
        port, tls, what = srv.tls_port, client_context(tls_files), "TLS connection"
    held = [held_connection(srv, port=port, tls=tls) for _ in range(4)]
    try:
        with rawhttp.connect(port) as extra:
            # A request (or, over TLS, a ClientHello): never answered.
            send_ignoring_reset(extra, rawhttp.request("/healthz") if tls is None
                                else client_hello(tls_files))
            received, closed = rawhttp.read_until_closed(extra, CLOSE_BOUND_S)
        assert closed and received == b"", received[:300]
        srv.wait_for_log(rf" info refused a {what} from 127\.0\.0\.1: over the limit of 4 "
                         r"per address$")
        assert_healthy(srv, source="127.0.0.2")  # another address is not affected
        for sock in held:  # nor are the connections already open
            sock.sendall(rawhttp.request("/healthz"))
            assert rawhttp.read_response(sock).status == 200
    finally:
        for sock in held:
            sock.close()
    families = scrape(curl, srv)
    assert sample(families, "tinyserver_connections_refused", reason="per_address_limit") == 1
    # Released slots count again.
    deadline = time.monotonic() + CLOSE_BOUND_S
    while True:
        response = rawhttp.one_response(rawhttp.exchange(port, rawhttp.request(
            "/healthz", headers={"Connection": "close"}), tls=tls)[0])
        if (response is not None and response.status == 200) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert response is not None and response.status == 200, response


def test_connection_over_per_ip_limit_that_sends_nothing_is_closed_soon(server):
    """It holds no slot for the request deadline: closed as it is
    accepted, unanswered."""
    srv = server("--max-connections-per-ip", "1", "--request-timeout", "60")
    held = held_connection(srv)
    try:
        with rawhttp.connect(srv.port) as idle:
            received, closed = rawhttp.read_until_closed(idle, CLOSE_BOUND_S)
        assert closed and received == b"", received
    finally:
        held.close()


# --------------------------------------------------------------------------
# Request size

def header_request(size, path="/healthz"):
    return rawhttp.request(path, headers={"X-Filler": "a" * size, "Connection": "close"})


@pytest.mark.parametrize("args, fits, too_big", [
    ((), 30_000, 33_000),  # the default --connection-memory-limit, 32768
    (("--connection-memory-limit", "8192"), 4_000, 9_000),
], ids=["default-32768", "8192"])
def test_oversized_headers_get_431(server, args, fits, too_big):
    srv = server(*args)
    ok = rawhttp.one_response(rawhttp.exchange(srv.port, header_request(fits))[0])
    assert ok is not None and ok.status == 200, ok
    received, closed = rawhttp.exchange(srv.port, header_request(too_big))
    refused = rawhttp.one_response(received)
    # libmicrohttpd's own answer (in JSON, as built), and the connection closes.
    assert refused is not None and refused.status == 431, received[:300]
    assert_json_error(refused, 431)
    assert closed
    many = rawhttp.request(headers={f"X-{i}": "v" for i in range(too_big // 8)})
    refused = rawhttp.one_response(rawhttp.exchange(srv.port, many)[0])
    assert refused is not None and refused.status == 431, refused
    assert_healthy(srv)


def target_of_length(length):
    """/healthz?pad=aaa... exactly `length` bytes long (healthz ignores
    its query, so only the length decides the answer)."""
    prefix = "/healthz?pad="
    return prefix + "a" * (length - len(prefix))


@pytest.mark.parametrize("args, limit", [((), 8192), (("--max-url-length", "100"), 100)],
                         ids=["default-8192", "100"])
def test_url_over_max_url_length_gets_414_json(server, args, limit):
    srv = server(*args)
    ok = rawhttp.one_response(rawhttp.exchange(srv.port, rawhttp.request(
        target_of_length(limit), headers={"Connection": "close"}))[0])
    assert ok is not None and ok.status == 200, ok
    refused = rawhttp.one_response(rawhttp.exchange(srv.port, rawhttp.request(
        target_of_length(limit + 1)))[0])
    assert refused is not None and refused.status == 414, refused
    assert refused.headers.get("content-type") == "application/json", refused.describe()
    assert refused.json and refused.json.get("error"), refused.describe()
    assert_healthy(srv)


def test_url_beyond_connection_memory_gets_libmicrohttpd_414(server):
    # Past what the connection's memory holds, libmicrohttpd answers
    # itself before tinyserver sees the request (in JSON, as built).
    srv = server("--max-url-length", "1048576")
    received, closed = rawhttp.exchange(srv.port, rawhttp.request(target_of_length(40_000)))
    refused = rawhttp.one_response(received)
    assert refused is not None and refused.status == 414, received[:300]
    assert_json_error(refused, 414)
    assert closed
    assert_healthy(srv)


BODY_LENGTH = 10 * 1024 * 1024


@pytest.mark.parametrize("framing", ["content-length", "chunked", "expect-100"])
def test_body_is_refused_without_being_read(server, framing):
    """413 arrives right after the headers, before a byte of the body is
    sent, and the connection closes: the server never reads the body."""
    srv = server()
    headers = {
        "content-length": {"Content-Length": str(BODY_LENGTH)},
        "chunked": {"Transfer-Encoding": "chunked"},
        "expect-100": {"Content-Length": str(BODY_LENGTH), "Expect": "100-continue"},
    }[framing]
    with rawhttp.connect(srv.port) as sock:
        sock.sendall(rawhttp.request("/healthz", headers=headers))
        if framing == "chunked":
            sock.sendall(b"10000\r\n" + b"x" * 4096)  # a chunk that never ends
        received, closed = rawhttp.read_until_closed(sock, CLOSE_BOUND_S)
    response = rawhttp.one_response(received)
    assert response is not None and response.status == 413, received[:300]
    assert response.headers.get("content-type") == "application/json", response.describe()
    assert b"100 Continue" not in received
    assert closed, "the connection stayed open after 413"
    assert_healthy(srv)


def test_large_body_with_curl_gets_413(server, curl, tmp_path):
    srv = server()
    body = tmp_path / "body"
    body.write_bytes(os.urandom(BODY_LENGTH))
    result = curl(srv.url + "/bench", "-X", "GET", "--data-binary", f"@{body}")
    assert_json_error(result, 413)


# --------------------------------------------------------------------------
# Slow clients

REQUEST_TIMEOUT_S = 2
TRICKLE_INTERVAL_S = 0.25


def test_trickling_client_is_closed_at_the_request_deadline(server):
    # One header byte every 0.25 s: libmicrohttpd's idle timeout (30 s)
    # would never fire; the request deadline does.
    srv = server("--request-timeout", str(REQUEST_TIMEOUT_S), "--connection-timeout", "30")
    with rawhttp.connect(srv.port) as sock:
        start = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        closed_after = None
        while time.monotonic() - start < CLOSE_BOUND_S:
            try:
                sock.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - start
                break
            received, closed = rawhttp.read_until_closed(sock, TRICKLE_INTERVAL_S)
            if closed:
                assert received == b"", received
                closed_after = time.monotonic() - start
                break
    assert closed_after is not None, f"still open after {CLOSE_BOUND_S} s of trickling"
    assert closed_after >= REQUEST_TIMEOUT_S - 0.1, f"closed after {closed_after:.2f} s"
    print(f"\ntrickling client closed after {closed_after:.2f} s "
          f"(--request-timeout {REQUEST_TIMEOUT_S})")
    assert_healthy(srv)


def test_request_deadline_restarts_for_each_request(server):
    # A keep-alive client that sends a request every tenth of a deadline
    # (a 10x margin for a loaded machine) for longer than a deadline is
    # never cut off; idle after that, it is.
    srv = server("--request-timeout", str(REQUEST_TIMEOUT_S))
    with held_connection(srv) as sock:
        start = time.monotonic()
        while time.monotonic() - start < 1.5 * REQUEST_TIMEOUT_S:
            time.sleep(REQUEST_TIMEOUT_S / 10)
            sock.sendall(rawhttp.request("/healthz"))
            response = rawhttp.read_response(sock)
            assert response is not None and response.status == 200, (
                f"cut off after {time.monotonic() - start:.1f} s")
        idle_from = time.monotonic()
        received, closed = rawhttp.read_until_closed(sock, CLOSE_BOUND_S)
        assert closed and received == b"", received
        assert time.monotonic() - idle_from >= REQUEST_TIMEOUT_S - 0.1


def test_request_deadline_does_not_cut_a_running_bench(server, curl, long_bench_iterations):
    # The deadline covers receiving a request, not answering it: a run
    # longer than the deadline (doubled until it is, should the machine
    # be faster now than at calibration) gets its answer.
    srv = server("--request-timeout", "1", *LONG_BENCH_ARGS)
    iterations = long_bench_iterations
    for _ in range(4):
        result = curl(f"{srv.url}/bench?threads={LONG_BENCH_THREADS}&iterations={iterations}")
        assert result.status == 200, result.describe()
        if result.json["elapsed_ms"] > 1500:
            return
        iterations *= 2
    pytest.fail(f"no run lasted 1.5 s; the last: {result.json}")


BUSY_CLIENTS = 8
BUSY_LOAD_S = 4
BUSY_ANSWERS = 1000  # at least this many, however long a loaded machine takes
BUSY_BOUND_S = 120


def test_request_deadline_never_cuts_a_busy_connection(server):
    """Regression: the sweeper read the clock, then a worker restarted a
    connection's clock a moment later; the unsigned difference wrapped and
    a busy connection was closed unanswered (2 of 1.9M requests in a 40 s
    wrk run). Load with the shortest deadline, so the sweeper runs often;
    any connection closed unanswered fails. A race: with the bug back, this
    caught it in about one run in three here; the deterministic check is
    tests/unit/test_http_deadline.c, the heavier one scripts/soak.sh."""
    srv = server("--request-timeout", "1", "--max-concurrent-bench", "8")
    clients = [rawhttp.LoadClient(srv.port, ["/healthz", "/bench?threads=1&iterations=100"])
               for _ in range(BUSY_CLIENTS)]
    for client in clients:
        client.start()
    # At least BUSY_LOAD_S of load and BUSY_ANSWERS answers: the count is
    # waited for, not expected of a fixed time (ASan or a loaded machine
    # answer far fewer per second).
    start = time.monotonic()
    while time.monotonic() - start < BUSY_BOUND_S:
        time.sleep(0.1)
        answered = sum(len(c.statuses) for c in clients)
        if time.monotonic() - start >= BUSY_LOAD_S and answered >= BUSY_ANSWERS:
            break
    for client in clients:
        client.stop.set()
        client.join(timeout=CLOSE_BOUND_S)
    answered = sum(len(c.statuses) for c in clients)
    assert answered >= BUSY_ANSWERS, f"{answered} answers in {BUSY_BOUND_S} s"
    assert all(set(c.statuses) <= {200, 429} for c in clients)
    assert not [p for c in clients for p in c.partial]
    assert sum(c.not_served for c in clients) == 0, "a busy connection was closed unanswered"


class Slowloris:
    """Connections that send a request line and then one header line per
    second, forever: the classic slowloris."""

    def __init__(self, port, sources):
        self.socks = []
        self.refused = 0
        for source in sources:
            sock = rawhttp.connect(port, source)
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                self.socks.append(sock)
            except (BrokenPipeError, ConnectionResetError):
                sock.close()
                self.refused += 1
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self):
        n = 0
        while not self.stop.wait(1.0):
            n += 1
            for sock in self.socks:
                try:
                    sock.sendall(f"X-{n}: {n}\r\n".encode())
                except OSError:
                    pass  # closed by the server: counted by open_count()

    def open_count(self):
        """How many the server has not closed (nor refused)."""
        count = 0
        for sock in self.socks:
            sock.settimeout(0)
            try:
                count += sock.recv(1, socket.MSG_PEEK) != b""
            except BlockingIOError:
                count += 1
            except OSError:
                pass
        return count

    def close(self):
        self.stop.set()
        self.thread.join()
        for sock in self.socks:
            sock.close()


# The deadline that ends the slowloris connections: ten times the 1.5 s the
# test counts them open after, so that a slow start cannot close any early.
SLOWLORIS_DEADLINE_S = 15


@pytest.mark.parametrize("spread", ["one-address", "200-addresses"])
def test_200_slowloris_connections_do_not_stop_healthz(server, curl, spread):
    srv = server("--request-timeout", str(SLOWLORIS_DEADLINE_S))
    base_fds = fd_count(srv.pid)
    sources = (["127.0.0.1"] * 200 if spread == "one-address"
               else [f"127.0.1.{i}" for i in range(1, 201)])
    attack = Slowloris(srv.port, sources)
    try:
        time.sleep(1.5)  # a header line or two each
        assert attack.open_count() == 200, f"{attack.refused} refused"
        for _ in range(20):
            result = curl(srv.url + "/healthz", timeout=30)
            assert result.status == 200 and result.json == HEALTHY, result.describe()
        during = fd_count(srv.pid)
        # The request deadline ends them all, trickle or not.
        deadline = time.monotonic() + SLOWLORIS_DEADLINE_S + CLOSE_BOUND_S
        while attack.open_count() and time.monotonic() < deadline:
            time.sleep(0.2)
        left = attack.open_count()
    finally:
        attack.close()
    print(f"\nslowloris ({spread}): server fds {base_fds} -> {during} with 200 open; "
          f"{left} left open after the request deadline")
    assert left == 0
    assert during >= 200, f"the server holds {during} descriptors"
    assert_healthy(srv)


def test_slowloris_from_one_address_is_capped_per_address(server):
    # 300 from one address: the per-address limit (256) takes 256; the rest
    # are closed as they are accepted; clients from other addresses are
    # served meanwhile.
    srv = server("--request-timeout", "30")  # far beyond the test's few seconds
    attack = Slowloris(srv.port, ["127.0.0.1"] * 300)
    try:
        deadline = time.monotonic() + CLOSE_BOUND_S
        while attack.open_count() > 256 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # a header line each since: none of the 256 is closed
        held = attack.open_count()
        assert held == 256, f"{held} held, {attack.refused} refused while sending"
        assert_healthy(srv, source="127.0.0.2")
        received, closed = rawhttp.exchange(srv.port, rawhttp.request("/healthz"))
        assert closed and received == b"", f"the 301st connection was answered: {received[:200]!r}"
    finally:
        attack.close()


# --------------------------------------------------------------------------
# Allocation failure

def vm_size_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1])
    raise AssertionError("no VmSize")


ADDRESS_SPACE_MARGIN_KIB = 8 * 1024


@contextlib.contextmanager
def address_space_margin(pid):
    """Limits the process's address space to what it maps now plus the
    margin, for the block; the limit is lifted afterwards, whatever happens."""
    limit = (vm_size_kib(pid) + ADDRESS_SPACE_MARGIN_KIB) * 1024
    resource.prlimit(pid, resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    try:
        yield
    finally:
        resource.prlimit(pid, resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
BENCH_FAILURES = {"memory allocation failed during the benchmark",
                  "could not start the benchmark threads"}


def bench_failure(result):
    """The failure an error body reports, without the allocator it names:
    "<failure> (allocator <name>)"."""
    match = re.fullmatch(r"(.*) \(allocator ([a-z-]+)\)", result.json["error"])
    assert match, result.describe()
    return match.group(1)


@pytest.mark.skipif(SANITIZER_BUILD, reason=f"{NOT_A_RELEASE_BUILD}; ASan reserves terabytes "
                    "of address space for its shadow memory, so no address-space limit fits")
def test_allocation_failure_in_bench_is_503_and_server_keeps_serving(server, curl):
    """An address-space limit 8 MiB above what the warmed-up server maps:
    a benchmark's new threads cannot get heap (mimalloc maps a segment per
    thread) or stacks, while the HTTP threads keep what they have."""
    srv = server("--max-bench-threads", "256")
    assert curl(srv.url + "/bench?threads=2&iterations=1000").status == 200
    assert curl(srv.url + "/healthz").status == 200
    with address_space_margin(srv.pid):
        seen = set()
        # Each of these needs more than the 8 MiB margin for thread stacks
        # alone (64 KiB plus a guard page per thread), whatever mimalloc
        # manages to reuse: smaller runs passed or failed depending on
        # which segments a previous failed run had left (seen in CI).
        for query in ["threads=256&iterations=1000", "threads=200&iterations=10000",
                      "threads=256&iterations=100000"]:
            result = curl(f"{srv.url}/bench?{query}")
            assert_json_error(result, 503)
            assert bench_failure(result) in BENCH_FAILURES, result.describe()
            seen.add(bench_failure(result))
            health = curl(srv.url + "/healthz")
            assert health.status == 200 and health.json == HEALTHY, health.describe()
        print(f"\nunder RLIMIT_AS = VmSize + 8 MiB: {sorted(seen)}")
        metrics = curl(srv.url + "/metrics")
        assert metrics.status == 200
        assert 'tinyserver_bench_runs_total{outcome="failed"} 3' in metrics.body.decode(), (
            metrics.body.decode())
    # With the limit lifted the same benchmark runs: nothing stayed broken.
    result = curl(srv.url + "/bench?threads=256&iterations=1000")
    assert result.status == 200, result.describe()
    assert result.json["total_counter"] == 256 * 1000


@pytest.mark.skipif(SANITIZER_BUILD, reason=f"{NOT_A_RELEASE_BUILD}; ASan reserves terabytes "
                    "of address space for its shadow memory, so no address-space limit fits")
def test_refused_mapping_in_window_is_503_and_server_keeps_serving(server, curl):
    """The window workload's 16 MiB blocks are each mapped on their own,
    and none fits in an address space 8 MiB above what the server maps:
    every allocator's run fails mid-run, the request answers 503 naming the
    first, and the server goes on serving."""
    srv = server("--max-bench-memory", "0")
    window = "workload=window&threads=1&iterations=50&slots=2"
    assert curl(f"{srv.url}/bench?{window}").status == 200
    with address_space_margin(srv.pid):
        for query in [f"{window}&min_block=16777216&max_block=16777216",
                      f"{window}&min_block=16777216&max_block=16777216&allocator=all"]:
            result = curl(f"{srv.url}/bench?{query}")
            assert_json_error(result, 503)
            assert bench_failure(result) == "memory allocation failed during the benchmark", (
                result.describe())
            health = curl(srv.url + "/healthz")
            assert health.status == 200 and health.json == HEALTHY, health.describe()
    result = curl(f"{srv.url}/bench?{window}&min_block=16777216&max_block=16777216")
    assert result.status == 200, result.describe()


@pytest.mark.skipif(SANITIZER_BUILD, reason=f"{NOT_A_RELEASE_BUILD}; ASan reserves terabytes "
                    "of address space for its shadow memory, so no address-space limit fits")
def test_allocation_failure_in_allocator_all_is_503_for_the_request(server, curl):
    """allocator=all: one allocator's failed run fails the whole request
    with 503 JSON naming that allocator, and the server keeps serving."""
    srv = server("--max-bench-threads", "256")
    assert curl(srv.url + "/bench?allocator=all&threads=2&iterations=1000").status == 200
    with address_space_margin(srv.pid):
        result = curl(f"{srv.url}/bench?allocator=all&threads=256&iterations=100000")
        assert_json_error(result, 503)
        assert bench_failure(result) in BENCH_FAILURES, result.describe()
        assert "results" not in result.json, result.describe()
        health = curl(srv.url + "/healthz")
        assert health.status == 200 and health.json == HEALTHY, health.describe()
    result = curl(srv.url + "/bench?allocator=all&threads=4&iterations=1000")
    assert result.status == 200, result.describe()
    assert all(r["runs"][0]["total_counter"] == 4000 for r in result.json["results"])


WARM_UP_CONNECTIONS = 40


@pytest.mark.skipif(SANITIZER_BUILD, reason=f"{NOT_A_RELEASE_BUILD}; ASan reserves terabytes "
                    "of address space for its shadow memory, so no address-space limit fits")
def test_allocation_failure_in_the_bench_job_is_503_not_500(server, curl):
    """Regression: when not even the benchmark's own job thread could get
    heap (no benchmark had run yet, so mimalloc had no segment to reuse),
    its error body could not be allocated either, and the HTTP layer's
    out-of-memory fallback turned the planned 503 into a 500. The HTTP
    workers are warmed up over many connections (so each has its heap),
    no benchmark runs before the limit."""
    srv = server("--http-threads", "2")
    for _ in range(WARM_UP_CONNECTIONS):
        assert curl(srv.url + "/healthz").status == 200
    with address_space_margin(srv.pid):
        for query in ["threads=1&iterations=1000", "threads=4&iterations=1000"]:
            assert_json_error(curl(f"{srv.url}/bench?{query}"), 503)
            health = curl(srv.url + "/healthz")
            assert health.status == 200 and health.json == HEALTHY, health.describe()
    result = curl(srv.url + "/bench?threads=4&iterations=1000")
    assert result.status == 200, result.describe()
