"""Process behaviour: signals, graceful shutdown, startup failures, the
one-shot commands (--help, --version, --bench, --healthcheck) and logging."""
import json
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from binary import (BENCH_ALLOCATORS, CONFIG_OPTIONS, EXIT_RUNTIME_FAILURE, EXIT_USAGE,
                    EXPECTED_ALLOCATOR, EXPECTED_LIBC, EXPECTED_STATIC, binary_command, clean_env,
                    run_binary)
from bounds import STARTUP_TIMEOUT_S
from curl import assert_json_error
from net import free_port
from repo import project_version
from server import LONG_BENCH_ARGS, LONG_BENCH_THREADS, start_long_bench

STOPPED_LINE = r"^\S+ info stopped$"


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly(server, signo):
    srv = server()
    assert srv.stop(signo) == 0, srv.output()
    assert re.search(STOPPED_LINE, srv.stdout(), re.MULTILINE), srv.stdout()
    assert f"received {signo.name}" in srv.stdout()


def test_sigterm_lets_running_bench_finish(server, curl, long_bench_iterations):
    # A grace far longer than the calibrated run, however loaded the
    # machine was when it was calibrated.
    srv = server("--shutdown-grace", "60", *LONG_BENCH_ARGS)
    long_run, _ = start_long_bench(srv, curl, long_bench_iterations)
    assert srv.stop(signal.SIGTERM) == 0, srv.output()
    result = long_run.result()
    assert result.status == 200, result.describe()
    assert result.json["total_counter"] == LONG_BENCH_THREADS * long_bench_iterations
    assert result.headers.get("connection") == "close", result.describe()
    assert re.search(STOPPED_LINE, srv.stdout(), re.MULTILINE), srv.stdout()


def test_sigterm_with_zero_grace_cancels_bench(server, curl, long_bench_iterations):
    srv = server("--shutdown-grace", "0", *LONG_BENCH_ARGS)
    long_run, _ = start_long_bench(srv, curl, long_bench_iterations)
    assert srv.stop(signal.SIGTERM) == 0, srv.output()
    result = long_run.result()
    assert_json_error(result, 503)
    assert "cancel" in result.json["error"], result.describe()
    assert re.search(STOPPED_LINE, srv.stdout(), re.MULTILINE), srv.stdout()


def test_port_in_use_fails_with_message(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_binary("--bind", "127.0.0.1", "--port", str(port),
                            timeout=STARTUP_TIMEOUT_S)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert str(port) in output, output
    assert "in use" in output.lower(), output


INVALID_CONFIGS = [
    (["--port", "0"], {}, "--port"),
    (["--port", "65536"], {}, "--port"),
    (["--port", "abc"], {}, "--port"),
    (["--port"], {}, "--port"),
    ([], {"PORT": "abc"}, "PORT"),
    ([], {"MAX_CONCURRENT_BENCH": "0"}, "MAX_CONCURRENT_BENCH"),
    ([], {"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    (["--bogus"], {}, "--bogus"),
    (["--bogus=1"], {}, "--bogus"),
    (["stray"], {}, "stray"),
    (["--threads", "2"], {}, "--threads"),  # only with --bench
    (["--workload", "seed"], {}, "--workload"),  # only with --bench
]


@pytest.mark.parametrize("args, env, named", [
    pytest.param(args, env, named,
                 id=" ".join(args + [f"{k}={v}" for k, v in env.items()]))
    for args, env, named in INVALID_CONFIGS])
def test_invalid_config_exits_2_naming_it(args, env, named):
    # A bad value must never get as far as listening; the timeout only
    # catches a server that wrongly started.
    result = run_binary(*args, env=env, timeout=STARTUP_TIMEOUT_S)
    assert result.returncode == EXIT_USAGE, (result.returncode, result.stdout, result.stderr)
    assert named in result.stderr, result.stderr


@pytest.mark.parametrize("args, env, named", [
    (["--bind", "nonsense"], {}, "--bind"),
    (["--bind", "999.1.1.1"], {}, "--bind"),
    ([], {"BIND": "nonsense"}, "BIND"),
], ids=["--bind nonsense", "--bind 999.1.1.1", "BIND=nonsense"])
def test_invalid_bind_address_exits_2_naming_it(args, env, named):
    result = run_binary(*args, "--port", str(free_port()), env=env, timeout=STARTUP_TIMEOUT_S)
    assert result.returncode == EXIT_USAGE, (result.returncode, result.stdout, result.stderr)
    assert named in result.stderr, result.stderr


def test_help_lists_every_option():
    result = run_binary("--help")
    assert result.returncode == 0, result.stderr
    for flag, env in CONFIG_OPTIONS:
        assert re.search(rf"^\s+{re.escape(flag)}\b.*\b{env}\b", result.stdout, re.MULTILINE), (
            f"{flag}/{env} missing from --help:\n{result.stdout}")
    for command in ["--bench", "--threads", "--iterations", "--workload", "--healthcheck",
                    "--version"]:
        assert command in result.stdout, command


def test_version_is_one_line():
    result = run_binary("--version")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert project_version() in lines[0]
    allocator = f"{EXPECTED_ALLOCATOR['name']} {EXPECTED_ALLOCATOR['version']}"
    if EXPECTED_ALLOCATOR["secure"]:
        allocator += " secure"
    linkage = "static " if EXPECTED_STATIC else ""
    assert lines[0].endswith(f"({linkage}{EXPECTED_LIBC}, {allocator})"), lines[0]


def test_bench_command_prints_same_json_as_endpoint(server, curl):
    result = run_binary("--bench", "--threads", "2", "--iterations", "1000")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["threads"] == 2 and body["iterations"] == 1000
    assert body["total_counter"] == 2000 and body["operations"] == 2000
    srv = server()
    http = curl(srv.url + "/bench?threads=1&iterations=10")
    assert http.status == 200, http.describe()

    def shape(value):  # keys and JSON types, recursively
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return "number"
        return type(value).__name__

    assert shape(body) == shape(http.json)


@pytest.mark.parametrize("workload, threads", [("seed", 1), ("xthread", 2), ("larson", 3)])
def test_bench_command_runs_each_workload(workload, threads):
    result = run_binary("--bench", "--workload", workload, "--threads", str(threads),
                        "--iterations", "3000")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["workload"] == workload
    assert body["threads"] == threads
    assert body["operations"] == body["total_counter"] == threads * 3000
    assert body["allocator"] == EXPECTED_ALLOCATOR


@pytest.mark.parametrize("allocator", BENCH_ALLOCATORS)
def test_bench_command_runs_each_allocator(allocator):
    result = run_binary("--bench", "--allocator", allocator, "--threads", "2",
                        "--iterations", "3000")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["bench_allocator"] == allocator
    assert body["operations"] == body["total_counter"] == 2 * 3000


@pytest.mark.parametrize("args, named", [
    (["--threads", "0"], "threads"), (["--iterations", "0"], "iterations"),
    (["--threads", "abc"], "threads"), (["--threads", "257"], "threads"),
    (["--workload", "nope"], "workload"), (["--workload="], "workload"),
    (["--workload", "xthread", "--threads", "1"], "threads"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_bench_command_rejects_bad_parameters(args, named):
    result = run_binary("--bench", *args)
    assert result.returncode == EXIT_USAGE, (result.stdout, result.stderr)
    assert named in result.stderr, result.stderr


def test_healthcheck_against_running_server(server):
    srv = server()
    result = run_binary("--healthcheck", "--port", str(srv.port), timeout=STARTUP_TIMEOUT_S)
    assert result.returncode == 0, result.stderr


def test_healthcheck_fails_when_nothing_listens():
    port = free_port()
    result = run_binary("--healthcheck", "--port", str(port), timeout=STARTUP_TIMEOUT_S)
    assert result.returncode == EXIT_RUNTIME_FAILURE, (result.stdout, result.stderr)
    assert str(port) in result.stderr, result.stderr


class FakeServer:
    """A listener on 127.0.0.1 that answers the first connection with
    `script`: a list of byte strings sent `gap_s` apart, then holds the
    connection until the test ends."""

    def __init__(self, script, gap_s=0.0):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.script, self.gap_s = script, gap_s
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.listener.settimeout(STARTUP_TIMEOUT_S)
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            for chunk in self.script:
                if self.done.wait(self.gap_s):
                    return
                try:
                    conn.sendall(chunk)
                except OSError:
                    return
            self.done.wait(HEALTHCHECK_HOLD_S)

    def close(self):
        self.done.set()
        self.thread.join()
        self.listener.close()


# The health check's documented bound is 2 s for the whole exchange.
HEALTHCHECK_BOUND_S = 2.0
HEALTHCHECK_HOLD_S = 60.0


def test_healthcheck_bounds_the_whole_exchange():
    """Issue 18: each recv() had a 2 s timeout, but a server that trickles
    its status line a byte a second kept the check waiting for minutes."""
    fake = FakeServer([bytes([b]) for b in b"HTTP/1.1 200 OK but never a line end" * 8],
                      gap_s=0.5)
    try:
        start = time.monotonic()
        result = run_binary("--healthcheck", "--port", str(fake.port), timeout=HEALTHCHECK_HOLD_S)
        elapsed = time.monotonic() - start
    finally:
        fake.close()
    assert result.returncode == EXIT_RUNTIME_FAILURE, (result.stdout, result.stderr)
    # The bound plus process start-up, with a margin of 10x for a loaded
    # machine or an emulator; the trickle alone would take about 150 s.
    assert elapsed < 10 * HEALTHCHECK_BOUND_S, f"the check took {elapsed:.1f} s"
    assert "2000 ms" in result.stderr, result.stderr


def test_healthcheck_escapes_the_answer_it_prints():
    """Issue 18: a non-200 status line was printed raw to stderr, terminal
    escapes included."""
    fake = FakeServer([b"HTTP/1.1 500 \x1b]0;owned\x07\x1b[2J\xff\r\n\r\n"])
    try:
        result = subprocess.run([*binary_command(), "--healthcheck", "--port", str(fake.port)],
                                capture_output=True, env=clean_env(), timeout=30)
    finally:
        fake.close()
    assert result.returncode == EXIT_RUNTIME_FAILURE, result.stderr
    printed = result.stderr.rstrip(b"\n")
    assert all(0x20 <= b < 0x7f for b in printed), printed
    assert b"HTTP/1.1 500" in printed and b"\\x1b" in printed and b"\\xff" in printed, printed


def test_startup_line_shows_effective_config(server):
    # The environment sets one value, a flag overrides another one's
    # environment value: the line must show what is in effect.
    srv = server("--max-concurrent-bench", "3",
                 env={"MAX_BENCH_THREADS": "7", "MAX_CONCURRENT_BENCH": "5"})
    startup = [line for line in srv.stdout().splitlines() if "listening" in line]
    assert len(startup) == 1, srv.stdout()
    for setting in [f"port={srv.port}", "bind=127.0.0.1", "max-bench-threads=7",
                    "max-concurrent-bench=3"]:
        assert re.search(rf"(^|\s){re.escape(setting)}(\s|$)", startup[0]), (setting, startup[0])


def test_each_request_logs_one_access_line(server, curl):
    srv = server()
    # Markers the readiness probe (GET /healthz) cannot produce.
    requests = [("HEAD", "/healthz", 200, ["-I"]),
                ("GET", "/no-such-path-for-access-log", 404, []),
                ("POST", "/bench", 405, ["-X", "POST"]),
                ("GET", "/bench", 400, [])]
    for method, path, status, extra in requests:
        query = "?threads=0" if status == 400 else ""
        assert curl(srv.url + path + query, *extra).status == status
    assert srv.stop() == 0, srv.output()
    log = srv.stdout()
    for method, path, status, _ in requests:
        pattern = (rf'^\S+ info access 127\.0\.0\.1 "{method} {re.escape(path)}" {status} '
                   rf"\d+\.\d{{3}}ms$")
        matches = re.findall(pattern, log, re.MULTILINE)
        assert len(matches) == 1, f"{pattern!r} matched {len(matches)} lines:\n{log}"


def test_log_level_warn_drops_info_lines(server, curl):
    srv = server("--log-level", "warn")
    assert curl(srv.url + "/no-such-path").status == 404
    assert srv.stop() == 0, srv.output()
    # Startup, access and "stopped" lines are all info.
    assert srv.stdout() == "", srv.stdout()


def test_client_text_cannot_forge_log_lines(server, curl):
    # %0A decodes to a newline in the path; logged raw, it would start a
    # line of the client's choosing.
    srv = server()
    forged = "2000-01-01T00:00:00.000Z info stopped"
    assert curl(srv.url + "/x%0A" + forged.replace(" ", "%20") + "%0D%22").status == 404
    assert srv.stop() == 0, srv.output()
    lines = srv.stdout().splitlines()
    assert not any(line.startswith(forged) for line in lines), srv.stdout()
    access = [line for line in lines if '"GET /x' in line]
    assert len(access) == 1, srv.stdout()
    assert "\\x0a" in access[0] and "\\x0d" in access[0] and "\\x22" in access[0], access[0]
    assert re.search(r'" 404 \d+\.\d{3}ms$', access[0]), access[0]
