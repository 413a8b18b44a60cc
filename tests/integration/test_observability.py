"""GET /metrics parsed by the Prometheus client's own parser, and the log
formats: text and JSON, both injection-safe."""
import json
import re

import rawhttp
from binary import (BENCH_ALLOCATORS, BENCH_GLOBAL_ALLOCATOR, EXPECTED_ALLOCATOR, EXPECTED_LIBC,
                    run_binary)
from metrics import sample, scrape
from server import LONG_BENCH_ARGS, LONG_BENCH_THREADS


def requests_total(families, route, code):
    samples = [s for s in families["tinyserver_http_requests"].samples
               if s.name == "tinyserver_http_requests_total"
               and s.labels == {"route": route, "code": code}]
    return samples[0].value if samples else 0.0


def test_metrics_parse_and_describe_the_build(server, curl):
    srv = server()
    families = scrape(curl, srv)
    for family, kind in [("tinyserver_http_requests", "counter"),
                         ("tinyserver_http_request_duration_seconds", "histogram"),
                         ("tinyserver_bench_runs", "counter"),
                         ("tinyserver_bench_last_ops_per_second", "gauge"),
                         ("tinyserver_http_open_connections", "gauge"),
                         ("tinyserver_http_inflight_requests", "gauge"),
                         ("tinyserver_process_resident_memory_bytes", "gauge"),
                         ("tinyserver_process_peak_resident_memory_bytes", "gauge"),
                         ("tinyserver_build_info", "gauge")]:
        assert families[family].type == kind, family
    info = families["tinyserver_build_info"].samples[0]
    assert info.value == 1
    assert info.labels["libc"] == EXPECTED_LIBC
    assert info.labels["allocator"] == EXPECTED_ALLOCATOR["name"]
    assert info.labels["allocator_version"] == EXPECTED_ALLOCATOR["version"]
    rss = sample(families, "tinyserver_process_resident_memory_bytes")
    peak = sample(families, "tinyserver_process_peak_resident_memory_bytes")
    # The figures must be the process's own, as /proc/<pid>/status has them.
    # Linux keeps RSS counters per thread and folds them in lazily, so two
    # reads a moment apart may differ by a few pages either way.
    status = open(f"/proc/{srv.pid}/status").read()
    vm_hwm = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024
    slack = 256 * 1024
    assert 0 < rss <= peak <= vm_hwm + slack
    # the scrape itself is in flight while it is rendered
    assert sample(families, "tinyserver_http_inflight_requests") >= 1
    assert sample(families, "tinyserver_http_open_connections") >= 1


def test_metrics_move_with_requests_and_benches(server, curl):
    srv = server("--max-bench-threads", "4")
    before = scrape(curl, srv)
    healthz_before = requests_total(before, "/healthz", "200")  # the fixture's readiness polls
    assert "tinyserver_bench_last_ops_per_second" not in {
        s.name for s in before["tinyserver_bench_last_ops_per_second"].samples}
    for _ in range(3):
        assert curl(srv.url + "/healthz").status == 200
    assert curl(srv.url + "/bench?threads=2&iterations=5000").status == 200
    assert curl(srv.url + "/bench?threads=9").status == 400
    assert curl(srv.url + "/nope").status == 404
    assert curl(srv.url + "/bench", "-X", "POST").status == 405
    after = scrape(curl, srv)
    assert requests_total(after, "/healthz", "200") == healthz_before + 3
    assert requests_total(after, "/bench", "200") == 1
    assert requests_total(after, "/bench", "400") == 1
    assert requests_total(after, "/bench", "405") == 1
    assert requests_total(after, "unmatched", "404") == 1
    # the first scrape was recorded once it was answered
    assert requests_total(after, "/metrics", "200") == 1
    assert sample(after, "tinyserver_bench_runs", outcome="ok") == 1
    assert sample(after, "tinyserver_bench_runs", outcome="invalid") == 1
    last = sample(after, "tinyserver_bench_last_ops_per_second", allocator=BENCH_GLOBAL_ALLOCATOR,
                  workload="seed", threads="2", iterations="5000")
    assert last > 0
    # histogram: counts agree with the request counter and buckets grow
    count = sample(after, "tinyserver_http_request_duration_seconds",
                   "tinyserver_http_request_duration_seconds_count", route="/healthz")
    inf = sample(after, "tinyserver_http_request_duration_seconds",
                 "tinyserver_http_request_duration_seconds_bucket", route="/healthz", le="+Inf")
    assert count == inf == healthz_before + 3
    buckets = [s.value for s in after["tinyserver_http_request_duration_seconds"].samples
               if s.name.endswith("_bucket") and s.labels["route"] == "/healthz"]
    assert buckets == sorted(buckets)


def test_busy_bench_is_counted(server, curl, long_bench_iterations):
    srv = server(*LONG_BENCH_ARGS)
    base = srv.thread_count()
    running = curl.start(f"{srv.url}/bench?threads={LONG_BENCH_THREADS}"
                         f"&iterations={long_bench_iterations}")
    # one job thread plus its workers: the run has started
    srv.wait_for_threads(base + 1 + LONG_BENCH_THREADS, while_running=(running,))
    refused = curl(srv.url + "/bench?threads=1&iterations=1")
    finished = running.result()
    assert refused.status == 429 and finished.status == 200
    families = scrape(curl, srv)
    assert sample(families, "tinyserver_bench_runs", outcome="busy") == 1
    assert requests_total(families, "/bench", "429") == 1


def refused_total(families, code):
    samples = [s for s in families["tinyserver_http_refused"].samples
               if s.name == "tinyserver_http_refused_total" and s.labels == {"code": code}]
    return samples[0].value if samples else 0.0


# Requests libmicrohttpd answers itself, before any route: each must still
# show, in tinyserver_http_refused_total and as a log line at info level.
# The 505 and the first 400 are refused within the request line, before the
# library has told the server of a request at all; the others after it.
LIBRARY_REFUSALS = [
    ("431", rawhttp.request("/healthz", headers={"X-Filler": "a" * 40_000})),
    ("505", rawhttp.request("/healthz", version="HTTP/2.0")),
    ("400", b"GET /healthz HTTP/1.1 junk\r\nHost: x\r\n\r\n"),
    ("400", b"GET /healthz HTTP/1.1\r\nHost: x\r\nbogus\r\n\r\n"),
    ("400", rawhttp.request("/healthz", host=None)),
]


def test_library_refusals_are_counted_and_logged(server, curl):
    srv = server()
    before = scrape(curl, srv)
    assert before["tinyserver_http_refused"].type == "counter"
    for code, data in LIBRARY_REFUSALS:
        answer = rawhttp.one_response(rawhttp.exchange(srv.port, data)[0])
        assert answer is not None and answer.status == int(code), answer
    after = scrape(curl, srv)
    for code in ("431", "505", "400"):
        expected = sum(1 for c, _ in LIBRARY_REFUSALS if c == code)
        assert refused_total(after, code) - refused_total(before, code) == expected, code
    # None of them reached a route, so none is a routed request.
    routed = sum(s.value for s in after["tinyserver_http_requests"].samples
                 if s.name == "tinyserver_http_requests_total" and s.labels["code"] != "200")
    assert routed == 0, after["tinyserver_http_requests"].samples
    srv.wait_for_log(r"libmicrohttpd refused a request: 400 HTTP/1.1 request without")
    logged = re.findall(r" info libmicrohttpd refused a request: (\d+) (\S.*)$", srv.stdout(),
                        re.M)
    assert sorted(code for code, _ in logged) == sorted(code for code, _ in LIBRARY_REFUSALS), \
        srv.stdout()[-2000:]
    # The reason is the JSON error's text, unquoted, then escaped as the
    # text format escapes everything (a quote is \x22).
    reasons = {code: reason for code, reason in logged}
    assert reasons["505"] == "requested HTTP version is not supported", reasons
    assert reasons["431"].startswith("the total size of the request headers"), reasons
    assert reasons["431"].endswith("or a shorter request method token"), reasons  # whole
    assert ("400", "HTTP/1.1 request without \\x22Host:\\x22") in logged, logged


def test_library_refusal_log_line_in_json_format(server):
    srv = server("--log-format", "json")
    answer = rawhttp.one_response(rawhttp.exchange(srv.port, rawhttp.request(host=None))[0])
    assert answer is not None and answer.status == 400, answer
    srv.wait_for_log(r"libmicrohttpd refused a request")
    lines = [json.loads(line) for line in srv.stdout().splitlines()
             if "libmicrohttpd refused" in line]
    assert [(o["level"], o["message"]) for o in lines] == [
        ("info", 'libmicrohttpd refused a request: 400 HTTP/1.1 request without "Host:"')], lines


def access_lines(output):
    return [line for line in output.splitlines() if " access " in line or '"access"' in line]


def test_a_refusal_after_the_first_handler_call_logs_the_status_sent(server, curl):
    """A malformed chunk is refused by libmicrohttpd after the server has
    seen the request's head: the access line says the 400 the client got
    (it said 0, "no response", before), the refusal counter counts it and
    no routed request does."""
    srv = server("--log-format", "json")
    before = scrape(curl, srv)
    data = rawhttp.request("/healthz", headers={"Transfer-Encoding": "chunked"}) + b"zz\r\n"
    answer = rawhttp.one_response(rawhttp.exchange(srv.port, data)[0])
    assert answer is not None and answer.status == 400, answer
    srv.wait_for_log(r'"event":"access".*"status":400')
    access = [json.loads(line) for line in access_lines(srv.stdout())]
    refused = [o for o in access if o["path"] == "/healthz" and o["status"] != 200]
    assert [o["status"] for o in refused] == [400], refused
    after = scrape(curl, srv)
    assert refused_total(after, "400") - refused_total(before, "400") == 1
    assert requests_total(after, "/healthz", "400") == 0


def test_json_logs_are_one_object_per_line_and_injection_safe(server, curl):
    srv = server("--log-format", "json")
    hostile = "/x%0d%0a%7b%22forged%22%3a1%7d%22%5c%ff"
    assert curl(srv.url + hostile).status == 404
    assert curl(srv.url + "/healthz").status == 200
    # An access line is written once the answer is out, so the client can
    # see the answer first: wait for the line itself (the readiness probes'
    # /healthz lines are there from the start).
    srv.wait_for_log(r'"path":"/x')
    lines = [line for line in srv.stdout().splitlines() if line.strip()]
    objects = [json.loads(line) for line in lines]  # every line parses on its own
    assert all(o["time"].endswith("Z") and o["level"] in {"debug", "info", "warn", "error"}
               for o in objects)
    startup = [o for o in objects if "listening on" in o.get("message", "")]
    assert len(startup) == 1 and "log-format=json" in startup[0]["message"]
    access = [o for o in objects if o.get("event") == "access"]
    paths = [o["path"] for o in access]
    assert "/healthz" in paths
    forged = [o for o in access if o["path"].startswith("/x")]
    assert len(forged) == 1
    # decoded by libmicrohttpd, then escaped: CR, LF, quote and backslash
    # survive as data, never as structure
    assert forged[0]["path"] == '/x\r\n{"forged":1}"\\\u00ff'
    assert forged[0]["status"] == 404 and forged[0]["client"] == "127.0.0.1"
    assert isinstance(forged[0]["duration_ms"], float)
    assert not any("forged" in o for o in objects)


def test_text_logs_escape_cr_lf_and_quotes(server, curl):
    srv = server()
    assert curl(srv.url + "/a%0d%0aforged%20line%22%5c").status == 404
    # Written once the answer is out: wait for this line, not any access line.
    srv.wait_for_log(r"access 127\.0\.0\.1 .* 404 ")
    lines = [line for line in access_lines(srv.stdout()) if " 404 " in line]
    assert len(lines) == 1, lines
    assert '"GET /a\\x0d\\x0aforged line\\x22\\x5c" 404' in lines[0]
    assert not any(line.startswith("forged") for line in srv.stdout().splitlines())


def test_invalid_log_format_exits_2(tmp_path):
    result = run_binary("--log-format", "yaml")
    assert result.returncode == 2 and "--log-format" in result.stderr
    result = run_binary(env={"LOG_FORMAT": "xml"})
    assert result.returncode == 2 and "LOG_FORMAT" in result.stderr


def test_bench_all_leaves_a_series_per_allocator(server, curl):
    srv = server()
    assert curl(srv.url + "/bench?allocator=all&threads=2&iterations=2000").status == 200
    families = scrape(curl, srv)
    labels = sorted(s.labels["allocator"]
                    for s in families["tinyserver_bench_last_ops_per_second"].samples)
    assert labels == BENCH_ALLOCATORS
    for allocator in BENCH_ALLOCATORS:
        assert sample(families, "tinyserver_bench_last_ops_per_second", allocator=allocator,
                      workload="seed", threads="2", iterations="2000") > 0
