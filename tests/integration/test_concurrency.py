"""Benchmarks run off the HTTP workers and are limited in number.

"A benchmark is running" is observed without touching the server: the
process gains one job thread plus one thread per benchmark thread
(/proc/<pid>/status). The long run's length is calibrated so that it
comfortably outlasts the handful of requests made while it runs; nothing
here asserts how long anything takes.
"""
import time

import rawhttp
from bounds import POLL_INTERVAL_S, STARTUP_TIMEOUT_S
from curl import assert_json_error
from server import LONG_BENCH_ARGS, LONG_BENCH_THREADS, start_long_bench


def assert_bench_ok(result, threads, iterations):
    assert result.status == 200, result.describe()
    assert result.json["threads"] == threads
    assert result.json["total_counter"] == threads * iterations


def test_healthz_answers_while_bench_runs(server, curl, long_bench_iterations):
    # One HTTP worker thread: had the benchmark run on it, nothing else
    # could be answered until it finished.
    srv = server("--http-threads", "1", *LONG_BENCH_ARGS)
    long_run, base = start_long_bench(srv, curl, long_bench_iterations)
    try:
        for _ in range(5):
            health = curl(srv.url + "/healthz")
            assert health.status == 200 and health.json == {"status": "ok"}, health.describe()
        # The benchmark was still in flight through all of those answers.
        assert long_run.running(), "the long benchmark ended early; calibration too short?"
        assert srv.thread_count() >= base + 1 + LONG_BENCH_THREADS
    finally:
        result = long_run.result()
    assert_bench_ok(result, LONG_BENCH_THREADS, long_bench_iterations)


def test_second_bench_is_429_then_slot_frees(server, curl, long_bench_iterations):
    srv = server(*LONG_BENCH_ARGS)
    long_run, _ = start_long_bench(srv, curl, long_bench_iterations)
    try:
        refused = curl(srv.url + "/bench?threads=1&iterations=1")
        assert_json_error(refused, 429)
        assert int(refused.headers.get("retry-after", "0")) >= 1, refused.describe()
        assert long_run.running(), "the long benchmark ended before the 429 check"
    finally:
        result = long_run.result()
    assert_bench_ok(result, LONG_BENCH_THREADS, long_bench_iterations)
    # The slot is released before the answer is sent, so this must not 429.
    after = curl(srv.url + "/bench?threads=1&iterations=1000")
    assert_bench_ok(after, 1, 1000)


def test_allocator_all_is_one_benchmark(server, curl, long_comparison_iterations):
    """allocator=all runs its allocators one after another under one slot:
    with one slot it is accepted, and while it runs another is refused."""
    srv = server(*LONG_BENCH_ARGS)
    # The whole comparison is sized to outlast the check below.
    long_run, _ = start_long_bench(srv, curl, long_comparison_iterations, extra="&allocator=all")
    try:
        assert_json_error(curl(srv.url + "/bench?threads=1&iterations=1"), 429)
        assert long_run.running(), "the comparison ended before the 429 check"
    finally:
        result = long_run.result()
    assert result.status == 200, result.describe()
    for entry in result.json["results"]:
        assert entry["runs"][0]["total_counter"] == LONG_BENCH_THREADS * long_comparison_iterations


def test_max_concurrent_bench_two_runs_at_once(server, curl, long_bench_iterations):
    srv = server("--max-concurrent-bench", "2", *LONG_BENCH_ARGS)
    # One thread each, so the two runs together use what one long run would.
    first, base = start_long_bench(srv, curl, long_bench_iterations, threads=1)
    second = curl.start(f"{srv.url}/bench?threads=1&iterations={long_bench_iterations}")
    try:
        # Both running at once: two job threads plus one worker each.
        srv.wait_for_threads(base + 4, while_running=[first, second])
        third = curl(srv.url + "/bench?threads=1&iterations=1")
        assert_json_error(third, 429)
        assert first.running() and second.running(), "a long benchmark ended early"
    finally:
        results = [first.result(), second.result()]
    for result in results:
        assert_bench_ok(result, 1, long_bench_iterations)


def open_served_connection(port):
    """A keep-alive connection that has had one request answered, so the
    server has certainly accepted and counted it. (Raw socket: the
    connection must stay open while curl runs.)"""
    sock, response = rawhttp.served_connection(port)
    assert response is not None and response.status == 200, response
    assert response.json == {"status": "ok"}, response
    return sock


def test_max_connections_per_ip(server, curl):
    srv = server("--max-connections-per-ip", "2")
    holders = [open_served_connection(srv.port) for _ in range(2)]
    try:
        refused = curl(srv.url + "/healthz")
        assert refused.status != 200, refused.describe()
    finally:
        for sock in holders:
            sock.close()
    # The server notices the closes asynchronously; it must start serving
    # again once it has.
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        again = curl(srv.url + "/healthz")
        if again.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(POLL_INTERVAL_S)
    assert again.status == 200, again.describe()
