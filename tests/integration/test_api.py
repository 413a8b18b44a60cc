"""The HTTP API as a client sees it: endpoints, methods, errors, keep-alive."""
import re
import socket
import subprocess

import pytest

from binary import (BENCH_ALLOCATORS, BENCH_GLOBAL_ALLOCATOR, EXPECTED_ALLOCATOR, EXPECTED_LIBC,
                    EXPECTED_STATIC)
from bounds import CURL_TIMEOUT_S
from curl import assert_json_error
from proc import available_cpus
from rawhttp import read_until_closed
from repo import project_version
from server import default_max_bench_threads

ROUTES = ["/", "/healthz", "/bench"]
# The methods each route allows. HEAD /bench is refused (405) rather than
# running a benchmark whose answer nobody reads.
ALLOWED = {"/": "GET, HEAD", "/healthz": "GET, HEAD", "/bench": "GET"}
HEAD_TARGETS = ["/", "/healthz"]
BENCH_DEFAULT_ITERATIONS = 100000
BENCH_MAX_THREADS_DEFAULT = default_max_bench_threads()


def assert_json_ok(result):
    assert result.status == 200, result.describe()
    assert result.headers.get("content-type") == "application/json", result.describe()
    assert isinstance(result.json, dict), result.describe()
    return result.json


def test_index_describes_service_and_build(shared_server, curl):
    body = assert_json_ok(curl(shared_server.url + "/"))
    assert body["name"] == "tinyserver"
    assert body["version"] == project_version()
    build = body["build"]
    assert build["static"] is EXPECTED_STATIC
    assert build["libc"] == EXPECTED_LIBC
    assert build["allocator"] == EXPECTED_ALLOCATOR
    assert build["allocator_override_verified"] is True
    paths = {endpoint["path"]: endpoint for endpoint in body["endpoints"]}
    assert set(ROUTES) <= set(paths), paths
    for route in ROUTES:
        assert paths[route]["methods"] == ALLOWED[route], paths[route]


def test_healthz(shared_server, curl):
    assert assert_json_ok(curl(shared_server.url + "/healthz")) == {"status": "ok"}


def assert_bench_result(body, threads, iterations, workload="seed",
                        bench_allocator=BENCH_GLOBAL_ALLOCATOR):
    assert body["workload"] == workload
    assert body["bench_allocator"] == bench_allocator
    assert body["threads"] == threads
    assert body["iterations"] == iterations
    assert body["operations"] == threads * iterations
    # Every operation adds exactly 1 (see bench.h), so the counter proves
    # every block was allocated, written, read and freed.
    assert body["total_counter"] == threads * iterations
    assert body["elapsed_ms"] > 0
    assert body["ops_per_sec"] > 0
    assert body["allocator"] == EXPECTED_ALLOCATOR
    assert body["libc"] == EXPECTED_LIBC


def test_bench_defaults(shared_server, curl):
    body = assert_json_ok(curl(shared_server.url + "/bench"))
    expected_threads = min(available_cpus(), BENCH_MAX_THREADS_DEFAULT)
    assert_bench_result(body, expected_threads, BENCH_DEFAULT_ITERATIONS)


def test_bench_echoes_parameters(shared_server, curl):
    body = assert_json_ok(curl(shared_server.url + "/bench?threads=3&iterations=5000"))
    assert_bench_result(body, 3, 5000)


@pytest.mark.parametrize("workload", ["seed", "xthread", "larson", "window"])
def test_bench_runs_each_workload(shared_server, curl, workload):
    query = f"workload={workload}&threads=3&iterations=5000"
    body = assert_json_ok(curl(f"{shared_server.url}/bench?{query}"))
    assert_bench_result(body, 3, 5000, workload)


@pytest.mark.parametrize("allocator", BENCH_ALLOCATORS)
@pytest.mark.parametrize("workload", ["seed", "xthread", "larson", "window"])
def test_bench_runs_each_allocator(shared_server, curl, allocator, workload):
    query = f"allocator={allocator}&workload={workload}&threads=2&iterations=3000"
    body = assert_json_ok(curl(f"{shared_server.url}/bench?{query}"))
    assert_bench_result(body, 2, 3000, workload, allocator)


def assert_costs(entry, workload):
    """The figures beside the rate: latency, memory, CPU and system calls,
    all known on this machine, and consistent with each other."""
    latency = entry["latency_ns"]
    assert latency["samples"] > 0 and latency["every"] == 64, latency
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"], latency
    memory = entry["memory"]
    assert "unavailable" not in memory, memory
    assert memory["start_bytes"] > 0 and memory["peak_bytes"] >= 0, memory
    assert memory["retained_bytes"] <= memory["peak_bytes"], memory
    assert memory["release"] in (None, "mimalloc", "mi_collect(true)") or memory["release"], memory
    cpu = entry["cpu"]
    assert "unavailable" not in cpu and cpu["user_ms"] + cpu["system_ms"] >= 0, cpu
    assert cpu["minor_faults"] >= 0 and cpu["major_faults"] >= 0, cpu
    assert set(entry["syscalls"]) == {"mmap", "munmap", "madvise", "mprotect"}, entry
    if workload == "window":
        assert memory["live_peak_bytes"] > 0, memory
        assert memory["overhead"] == round(memory["peak_bytes"] / memory["live_peak_bytes"], 2), (
            memory)
    else:
        assert "live_peak_bytes" not in memory and "overhead" not in memory, memory


def test_bench_all_window_with_the_defaults(shared_server, curl):
    """The issue's example, as a user types it: every allocator of the
    build, each with its rate, ratio, latency, memory, faults and system
    calls."""
    body = assert_json_ok(curl(f"{shared_server.url}/bench?allocator=all&workload=window"))
    assert body["workload"] == "window" and body["iterations"] == 10000, body
    assert body["window"] == {"slots": 128, "min_block": 8, "max_block": 262144}, body
    assert [r["bench_allocator"] for r in body["results"]] == BENCH_ALLOCATORS
    for entry in body["results"]:
        assert entry["ops_per_sec"] > 0
        assert ("ratio_vs_musl" in entry) == ("musl" in BENCH_ALLOCATORS), entry
        assert_costs(entry, "window")
        [run] = entry["runs"]
        assert run["total_counter"] == body["operations"]
        assert_costs(run, "window")


@pytest.mark.parametrize("workload", ["seed", "xthread", "larson"])
def test_bench_costs_of_each_workload(shared_server, curl, workload):
    body = assert_json_ok(curl(f"{shared_server.url}/bench?workload={workload}&threads=2"
                               "&iterations=5000"))
    assert_costs(body, workload)


def test_bench_all_compares_every_allocator(shared_server, curl):
    body = assert_json_ok(curl(f"{shared_server.url}/bench?allocator=all&repeat=3"
                               "&workload=larson&threads=2&iterations=4000"))
    assert body["bench_allocator"] == "all"
    assert body["repeat"] == 3
    assert body["workload"] == "larson" and body["threads"] == 2 and body["iterations"] == 4000
    assert body["operations"] == 8000
    assert body["allocator"] == EXPECTED_ALLOCATOR
    results = body["results"]
    assert [r["bench_allocator"] for r in results] == BENCH_ALLOCATORS
    for entry in results:
        assert len(entry["runs"]) == 3, entry
        assert all(run["total_counter"] == 8000 for run in entry["runs"]), entry
        rates = sorted(run["ops_per_sec"] for run in entry["runs"])
        assert entry["ops_per_sec"] == rates[1] > 0, entry  # the median of three
    if "musl" in BENCH_ALLOCATORS:
        musl = next(r for r in results if r["bench_allocator"] == "musl")
        for entry in results:
            expected = entry["ops_per_sec"] / musl["ops_per_sec"]
            assert entry["ratio_vs_musl"] == pytest.approx(expected, abs=0.002), entry
    else:
        assert all("ratio_vs_musl" not in r for r in results), results


def test_bench_all_defaults_to_one_round(shared_server, curl):
    body = assert_json_ok(curl(f"{shared_server.url}/bench?allocator=all&iterations=100"))
    assert body["repeat"] == 1
    assert all(len(r["runs"]) == 1 for r in body["results"]), body


def test_xthread_default_threads_are_at_least_two(shared_server, curl):
    body = assert_json_ok(curl(shared_server.url + "/bench?workload=xthread&iterations=100"))
    expected_threads = max(2, min(available_cpus(), BENCH_MAX_THREADS_DEFAULT))
    assert_bench_result(body, expected_threads, 100, "xthread")


@pytest.mark.parametrize("target", HEAD_TARGETS)
def test_head_answers_like_get_without_body(shared_server, curl, target):
    head = curl(shared_server.url + target, "-I")
    assert head.status == 200, head.describe()
    assert head.headers.get("content-type") == "application/json", head.describe()
    assert head.size_download == 0, head.describe()
    if not target.startswith("/bench"):  # bench bodies vary in length
        get = curl(shared_server.url + target)
        assert int(head.headers["content-length"]) == len(get.body), (head.describe(),
                                                                      get.describe())


def test_head_sends_no_body_bytes(shared_server):
    """curl stops reading after HEAD's headers, so it cannot see stray body
    bytes. Pipelining a GET behind the HEAD on one connection can: the GET's
    status line must follow the HEAD's header block immediately. (Raw socket:
    curl does not pipeline.)"""
    request = (b"HEAD /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
               b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", shared_server.port),
                                  timeout=CURL_TIMEOUT_S) as sock:
        sock.sendall(request)
        reply, closed = read_until_closed(sock, CURL_TIMEOUT_S)
    assert closed, reply
    head, sep, rest = reply.partition(b"\r\n\r\n")
    assert sep and head.startswith(b"HTTP/1.1 200 "), reply
    assert b"content-length: 16" in head.lower(), reply
    assert rest.startswith(b"HTTP/1.1 200 "), reply
    assert rest.endswith(b'\r\n\r\n{"status":"ok"}\n'), reply


@pytest.mark.parametrize("path", ["/nope", "/healthz/", "/HEALTHZ", "/bench/1", "//"])
def test_unknown_path_is_404_json(shared_server, curl, path):
    assert_json_error(curl(shared_server.url + path), 404)


def asterisk_request(port, method):
    with socket.create_connection(("127.0.0.1", port), timeout=CURL_TIMEOUT_S) as sock:
        sock.sendall(f"{method} * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        reply, closed = read_until_closed(sock, CURL_TIMEOUT_S)
        assert closed, reply
        return reply


def test_options_asterisk_is_200_with_allow(shared_server):
    """RFC 9110 9.3.7: OPTIONS * asks about the server as a whole. It was
    404 ("no such endpoint"); it is 200 with Allow listing every method
    some route takes (and the same in JSON)."""
    head, _, body = asterisk_request(shared_server.port, "OPTIONS").partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    assert lines[0] == "HTTP/1.1 200 OK", head
    assert headers["allow"] == "GET, HEAD", headers
    assert headers["content-type"] == "application/json", headers
    assert body == b'{"allow":"GET, HEAD"}\n'



def test_asterisk_with_another_method_is_400(shared_server):
    """RFC 9112 3.2.4: the asterisk form is for OPTIONS only."""
    reply = asterisk_request(shared_server.port, "GET")
    assert reply.startswith(b"HTTP/1.1 400 "), reply
    assert reply.endswith(b'{"error":"the request target \\"*\\" is for OPTIONS only"}\n'), reply


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("route", ROUTES)
def test_wrong_method_is_405_with_allow(shared_server, curl, route, method):
    result = curl(shared_server.url + route, "-X", method)
    assert_json_error(result, 405)
    assert result.headers.get("allow") == ALLOWED[route], result.describe()


def test_head_bench_is_405_and_runs_nothing(server, curl):
    """Issue 18: HEAD /bench ran the whole benchmark to send headers only.
    It is refused instead, and no run is counted."""
    srv = server()
    result = curl(srv.url + "/bench?threads=1&iterations=100000", "-I")
    assert result.status == 405, result.describe()
    assert result.headers.get("allow") == "GET", result.describe()
    assert result.headers.get("content-type") == "application/json", result.describe()
    metrics = curl(srv.url + "/metrics").body.decode()
    runs = re.findall(r'^tinyserver_bench_runs_total\{outcome="(\w+)"\} (\d+)$', metrics,
                      re.MULTILINE)
    assert runs and all(count == "0" for _, count in runs), runs


@pytest.mark.parametrize("route", ROUTES)
def test_body_on_get_is_413_json(shared_server, curl, route):
    result = curl(shared_server.url + route, "-X", "GET", "--data-binary", "hello")
    assert_json_error(result, 413)


def test_body_with_wrong_method_gets_json_error(shared_server, curl):
    result = curl(shared_server.url + "/healthz", "-X", "POST", "--data-binary", "hello")
    assert result.status in (405, 413), result.describe()
    assert_json_error(result, result.status)


@pytest.mark.parametrize("fragment", [
    b"GET /healthz HTTP/1.1\r\nHost",  # cut inside the headers
    b"GET /heal",  # cut inside the request line
    b"\x00\xff\x16\x03\x01garbage\r\n\r\n",  # not HTTP at all
], ids=["cut-headers", "cut-request-line", "garbage"])
def test_broken_request_leaves_server_healthy(shared_server, curl, fragment):
    """A client that sends part of a request (or junk) and hangs up must not
    disturb anyone else. (Raw socket: curl only sends whole requests.)"""
    # Hang up without reading: after a half-close, libmicrohttpd now and
    # then keeps such a connection until --connection-timeout.
    with socket.create_connection(("127.0.0.1", shared_server.port),
                                  timeout=CURL_TIMEOUT_S) as sock:
        sock.sendall(fragment)
    health = curl(shared_server.url + "/healthz")
    assert health.status == 200 and health.json == {"status": "ok"}, health.describe()


def test_keep_alive_reuses_connection(shared_server):
    urls = [shared_server.url + "/healthz", shared_server.url + "/"]
    proc = subprocess.run(["curl", "-sS", "-v", "--max-time", str(CURL_TIMEOUT_S),
                           "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code}\n", *urls],
                          capture_output=True, text=True, timeout=CURL_TIMEOUT_S + 10)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["200", "200"], proc.stdout
    assert "Re-using existing connection" in proc.stderr, proc.stderr
