"""The guard in front of /bench, each control driven with curl against the
real binary: the bearer token (right, wrong, missing, malformed, from a
file that must be private), the per-client rate (a burst, then 429 with
Retry-After from the bucket), the work budget (400 saying the limit), the
wall-clock cap (a run cut short, never passed off as complete) and
cancellation when the client hangs up (the slot is freed at once, the log
says 499 client_closed). Nothing here is timed beyond generous bounds."""
import re
import time

import pytest

from bench_token import write_token_file
from binary import EXIT_USAGE, run_binary
from bounds import CURL_TIMEOUT_S, POLL_INTERVAL_S
from curl import assert_json_error
from metrics import sample, scrape
from net import free_port
from server import LONG_BENCH_ARGS, LONG_BENCH_THREADS
from tls import start_tls_server

TINY = "threads=1&iterations=10"


def bearer(value):
    return ("-H", f"Authorization: Bearer {value}")


# --- the token ---------------------------------------------------------------


def test_token_right_wrong_missing(server, curl, token):
    value, path = token
    srv = server("--bench-token-file", str(path))
    missing = curl(f"{srv.url}/bench?{TINY}")
    assert_json_error(missing, 401)
    assert missing.headers.get("www-authenticate", "").startswith("Bearer"), missing.describe()
    assert "Authorization: Bearer" in missing.json["error"]

    wrong = curl(f"{srv.url}/bench?{TINY}", *bearer(value[:-1] + ("A" if value[-1] != "A" else "B")))
    assert_json_error(wrong, 401)
    assert 'error="invalid_token"' in wrong.headers.get("www-authenticate", ""), wrong.describe()

    right = curl(f"{srv.url}/bench?{TINY}", *bearer(value))
    assert right.status == 200, right.describe()
    assert right.json["total_counter"] == 10

    # The other endpoints stay open.
    for path_ in ["/", "/healthz", "/metrics"]:
        assert curl(srv.url + path_).status == 200, path_

    families = scrape(curl, srv)
    assert sample(families, "tinyserver_bench_refused", reason="token") == 2
    assert sample(families, "tinyserver_bench_runs", outcome="unauthorized") == 2
    # The startup line says a token is set; the token itself is nowhere.
    assert "/bench requires a bearer token (set)" in srv.stdout(), srv.stdout()
    assert value not in srv.output()


@pytest.mark.parametrize("header, status, says", [
    ("Authorization: Basic dXNlcjpwYXNz", 401, "scheme must be Bearer"),
    ("Authorization: {token}", 401, "scheme must be Bearer"),
    ("Authorization: Bearer  {token}", 400, "malformed bearer token"),
    ("Authorization: Bearer", 400, "malformed bearer token"),
    ("Authorization: Bearer {token} x", 400, "malformed bearer token"),
], ids=["basic", "no-scheme", "two-spaces", "no-token", "trailing-word"])
def test_malformed_authorization_is_a_clear_error(server, curl, token, header, status, says):
    value, path = token
    srv = server("--bench-token-file", str(path))
    result = curl(f"{srv.url}/bench?{TINY}", "-H", header.format(token=value))
    assert_json_error(result, status)
    assert says in result.json["error"], result.describe()
    assert result.headers.get("www-authenticate", "").startswith("Bearer"), result.describe()


def test_several_authorization_headers_are_400(server, curl, token):
    value, path = token
    srv = server("--bench-token-file", str(path))
    result = curl(f"{srv.url}/bench?{TINY}", *bearer(value), *bearer(value))
    assert_json_error(result, 400)
    assert "several Authorization headers" in result.json["error"], result.describe()


def test_token_file_from_the_environment(server, curl, token):
    value, path = token
    srv = server(env={"BENCH_TOKEN_FILE": str(path)})
    assert_json_error(curl(f"{srv.url}/bench?{TINY}"), 401)
    assert curl(f"{srv.url}/bench?{TINY}", *bearer(value)).status == 200


@pytest.mark.parametrize("text, mode, says", [
    ("", 0o600, "the file is empty"),
    ("\n", 0o400, "the file is empty"),
    ("t0ken\n", 0o644, "readable by every user (mode 0644)"),
    (" t0ken\n", 0o600, "whitespace around it"),
    ("t0ken \n", 0o600, "whitespace around it"),
    ("t0ken\nsecond\n", 0o600, "more than one line"),
], ids=["empty", "only-newline", "world-readable", "leading-space", "trailing-space", "two-lines"])
def test_bad_token_file_exits_2_naming_it(tmp_path, text, mode, says):
    path = write_token_file(tmp_path, text, mode)
    result = run_binary("--bind", "127.0.0.1", "--port", str(free_port()),
                        "--bench-token-file", str(path), timeout=STARTUP_EXIT_TIMEOUT_S)
    assert result.returncode == EXIT_USAGE, (result.stdout, result.stderr)
    assert str(path) in result.stderr and says in result.stderr, result.stderr


STARTUP_EXIT_TIMEOUT_S = 30


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_token_file_exits_2(tmp_path, kind):
    path = tmp_path / "none" if kind == "missing" else tmp_path
    result = run_binary("--bind", "127.0.0.1", "--port", str(free_port()),
                        "--bench-token-file", str(path), timeout=STARTUP_EXIT_TIMEOUT_S)
    assert result.returncode == EXIT_USAGE, (result.stdout, result.stderr)
    assert "--bench-token-file" in result.stderr and str(path) in result.stderr, result.stderr


# --- the rate ----------------------------------------------------------------


def test_rate_burst_then_429_with_retry_after(server, curl):
    """3/h: a burst of three, then one every 20 min. However slowly the
    four requests go (a loaded machine, ASan), the fourth comes well inside
    the first 20 min, so the wait the bucket gives is between 1 and 1200 s."""
    srv = server("--bench-rate", "3/h")
    for _ in range(3):
        assert curl(f"{srv.url}/bench?{TINY}").status == 200
    refused = curl(f"{srv.url}/bench?{TINY}")
    assert_json_error(refused, 429)
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 1200, refused.describe()
    assert "3/h" in refused.json["error"] and f"{retry_after} s" in refused.json["error"]
    assert curl(srv.url + "/healthz").status == 200
    families = scrape(curl, srv)
    assert sample(families, "tinyserver_bench_refused", reason="rate") == 1
    assert sample(families, "tinyserver_bench_refused", reason="busy") == 0


def test_failed_token_attempts_take_from_the_rate(server, curl, token):
    """Guesses of the token are rate-limited like runs (they were not: the
    token was checked before the rate, and a failed check returned): with
    2/h, two wrong tokens get 401, the third 429, and so does the right
    token after them, until the bucket refills (in 30 min: far beyond
    the test, however loaded the machine)."""
    value, path = token
    srv = server("--bench-token-file", str(path), "--bench-rate", "2/h")
    wrong = bearer(value[:-1] + ("A" if value[-1] != "A" else "B"))
    for _ in range(2):
        assert_json_error(curl(f"{srv.url}/bench?{TINY}", *wrong), 401)
    limited = curl(f"{srv.url}/bench?{TINY}", *wrong)
    assert_json_error(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 1800, limited.describe()
    assert_json_error(curl(f"{srv.url}/bench?{TINY}", *bearer(value)), 429)
    families = scrape(curl, srv)
    assert sample(families, "tinyserver_bench_refused", reason="token") == 2
    assert sample(families, "tinyserver_bench_refused", reason="rate") == 2


@pytest.mark.parametrize("args, env, named", [
    (["--bench-rate", "fast"], {}, "--bench-rate"),
    (["--bench-rate", "30"], {}, "--bench-rate"),
    (["--bench-rate", "0/min"], {}, "--bench-rate"),
    ([], {"BENCH_RATE": "30/day"}, "BENCH_RATE"),
], ids=["word", "no-period", "zero", "env-unknown-unit"])
def test_bad_rate_exits_2_naming_the_option(args, env, named):
    result = run_binary("--bind", "127.0.0.1", "--port", str(free_port()), *args, env=env,
                        timeout=STARTUP_EXIT_TIMEOUT_S)
    assert result.returncode == EXIT_USAGE, (result.stdout, result.stderr)
    assert named in result.stderr and "N/min" in result.stderr, result.stderr


# --- the budget --------------------------------------------------------------


def test_operations_budget_is_400_saying_the_limit(server, curl):
    srv = server("--max-bench-operations", "1000")
    assert curl(f"{srv.url}/bench?threads=2&iterations=500").status == 200
    over = curl(f"{srv.url}/bench?threads=2&iterations=501")
    assert_json_error(over, 400)
    assert "at most 1000" in over.json["error"] and "1002" in over.json["error"], over.describe()
    assert "parameter" not in over.json
    assert sample(scrape(curl, srv), "tinyserver_bench_refused", reason="budget") == 1


def test_memory_budget_is_400_naming_the_option(server, curl):
    """--max-bench-memory bounds what a window run can hold, threads x
    (slots + 64 in flight) x max_block: 2 x (64 + 64) x 4096 bytes is 1 MiB
    exactly. Without slots the default shrinks to fit; when not even one
    slot fits, or slots is given and does not, 400 names the option."""
    srv = server("--max-bench-memory", "1")
    fits = curl(f"{srv.url}/bench?workload=window&threads=2&iterations=300&slots=64"
                "&max_block=4096")
    assert fits.status == 200, fits.describe()
    over = curl(f"{srv.url}/bench?workload=window&threads=2&iterations=300&slots=65"
                "&max_block=4096")
    assert_json_error(over, 400)
    assert "--max-bench-memory" in over.json["error"], over.describe()
    assert "at most 1 MiB" in over.json["error"], over.describe()
    assert "parameter" not in over.json
    shrunk = curl(f"{srv.url}/bench?workload=window&threads=2&iterations=300&max_block=4096")
    assert shrunk.status == 200 and shrunk.json["window"]["slots"] == 64, shrunk.describe()
    # The default blocks (256 KiB): two threads' in-flight batches alone are 32 MiB.
    assert_json_error(curl(f"{srv.url}/bench?workload=window&threads=2"), 400)
    # Other workloads hold little and are not held to it.
    assert curl(f"{srv.url}/bench?{TINY}").status == 200
    assert sample(scrape(curl, srv), "tinyserver_bench_refused", reason="budget") == 2


def test_time_cap_cuts_a_long_run_short(server, curl):
    """A run of two billion operations (tens of seconds at the fastest
    allocator here) under a 1 s cap: 503 saying it was cut short, and no
    figures that could pass for a result."""
    srv = server("--max-bench-seconds", "1", *LONG_BENCH_ARGS)
    result = curl(f"{srv.url}/bench?threads=2&iterations=1000000000")
    assert_json_error(result, 503)
    assert "cut short" in result.json["error"], result.describe()
    assert set(result.json) == {"error"}, result.describe()
    assert curl(f"{srv.url}/bench?{TINY}").status == 200
    families = scrape(curl, srv)
    assert sample(families, "tinyserver_bench_runs", outcome="cut_short") == 1
    assert sample(families, "tinyserver_bench_runs", outcome="ok") == 1
    srv.wait_for_log(r"cut short at 1s")


# --- cancellation ------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_client_hanging_up_stops_the_run_and_frees_the_slot(server, curl, long_bench_iterations,
                                                            tls_files, scheme):
    """One slot; a run sized at 40 times the calibrated 2.5 s (about 100 s
    here); its client hangs up once the run's threads are up. The next
    /bench gets the slot long before that run could have ended, and the
    abandoned request is logged and counted as client_closed. Over HTTPS
    the hangup reaches the server through the TLS relay."""
    args = ("--max-concurrent-bench", "1", *LONG_BENCH_ARGS)
    if scheme == "https":
        srv = start_tls_server(server, tls_files, "ec", *args)
        base_url, extra = srv.tls_url, ("--cacert", str(tls_files.ca))
    else:
        srv = server(*args)
        base_url, extra = srv.url, ()
    iterations = min(long_bench_iterations * 40, 1_000_000_000)
    base = srv.thread_count()
    handle = curl.start(f"{base_url}/bench?threads={LONG_BENCH_THREADS}&iterations={iterations}",
                        *extra)
    srv.wait_for_threads(base + 1 + LONG_BENCH_THREADS, while_running=[handle])
    handle.kill()
    deadline = time.monotonic() + ABANDONED_RUN_FREED_WITHIN_S
    while True:
        result = curl(f"{base_url}/bench?{TINY}", *extra)
        if result.status == 200:
            break
        assert result.status == 429, result.describe()
        assert time.monotonic() < deadline, "the abandoned run still holds the slot"
        time.sleep(POLL_INTERVAL_S)
    srv.wait_for_log(r'"GET /bench" 499 [0-9.]+ms client_closed$')
    line = re.search(r'"GET /bench" 499 ([0-9.]+)ms client_closed$', srv.stdout(), re.MULTILINE)
    assert float(line.group(1)) < ABANDONED_RUN_FREED_WITHIN_S * 1000, line.group(0)
    families = scrape(curl, srv)
    assert sample(families, "tinyserver_bench_runs", outcome="client_closed") == 1
    assert sample(families, "tinyserver_http_requests", name="tinyserver_http_requests_total",
                  route="/bench", code="499") == 1


# A quarter of the abandoned run's calibrated length; the hangup watch
# needs a tenth of a second.
ABANDONED_RUN_FREED_WITHIN_S = 25
assert ABANDONED_RUN_FREED_WITHIN_S < CURL_TIMEOUT_S
