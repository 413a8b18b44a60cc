"""Fixtures for the integration tests: the real tinyserver binary, started
on a free port, driven with curl.

Environment:
  TINYSERVER_BIN  binary under test (default: <repo>/build/src/tinyserver)
  TINYSERVER_BIN_RUNNER  a command to run that binary under, split like a
                  shell word list: qemu-aarch64-static for the arm64 build
                  (scripts/test.sh runs part of the suite so). Other builds
                  a test starts by path run as they are.
  TINYSERVER_EXPECT_ARCH  the Debian architecture the binary was built for
                  (default: this machine's): amd64 or arm64.
  TINYSERVER_EXPECT_ALLOCATOR  the allocator that binary must have been
                  built with: mimalloc (the default), mimalloc-secure or musl.
                  `scripts/test.sh --allocator NAME` sets both. "asan" means
                  scripts/sanitize.sh's ASan+UBSan build: dynamic, on glibc,
                  with ASan's allocator. Then the facts only a static musl
                  release binary has are skipped (with that reason), the rest
                  are expected of glibc, and every process's stderr must be
                  free of sanitizer reports.
"""
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("TINYSERVER_BIN", REPO / "build" / "src" / "tinyserver"))
BIN_RUNNER = shlex.split(os.environ.get("TINYSERVER_BIN_RUNNER", ""))
EMULATED = bool(BIN_RUNNER)


# What each target architecture looks like to binutils: readelf's name for
# the machine, the GNU triplet that prefixes its binutils, the call mnemonic.
ARCH_FACTS = {
    "amd64": {"machine": "Advanced Micro Devices X86-64", "triplet": "x86_64-linux-gnu",
              "call": "call"},
    "arm64": {"machine": "AArch64", "triplet": "aarch64-linux-gnu", "call": "bl"},
}


def _host_arch():
    result = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True)
    assert result.returncode == 0, "dpkg --print-architecture failed"
    return result.stdout.strip()


EXPECTED_ARCH = os.environ.get("TINYSERVER_EXPECT_ARCH") or _host_arch()
assert EXPECTED_ARCH in ARCH_FACTS, (
    f"TINYSERVER_EXPECT_ARCH={EXPECTED_ARCH!r}: expected one of {list(ARCH_FACTS)}")
ARCH = ARCH_FACTS[EXPECTED_ARCH]


def binary_command(binary=None):
    """The command line that starts `binary`, or the binary under test
    (under TINYSERVER_BIN_RUNNER when one is set)."""
    return [str(binary)] if binary is not None else [*BIN_RUNNER, str(BINARY)]


def _gcc_version():
    """The host gcc's version, as Meson records it for the sanitizer build."""
    result = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True)
    assert result.returncode == 0, "gcc is not installed"
    return result.stdout.strip()


def _musl_version():
    """musl's version as the build records it: the musl-dev package's."""
    result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "musl-dev"],
                            capture_output=True, text=True)
    assert result.returncode == 0, "musl-dev is not installed"
    return result.stdout.split("-")[0]


# What each -Dallocator= build must report as "allocator" in / and /bench.
# The expectation is stated here, never read back from the binary, so a
# build that reports the wrong allocator fails.
ALLOCATOR_VARIANTS = {
    "mimalloc": lambda: {"name": "mimalloc", "version": "2.0.9", "secure": False},
    "mimalloc-secure": lambda: {"name": "mimalloc", "version": "2.0.9", "secure": True},
    "musl": lambda: {"name": "musl-mallocng", "version": _musl_version(), "secure": False},
    # ASan's runtime replaces malloc; it is the compiler's, so is its version.
    "asan": lambda: {"name": "asan", "version": _gcc_version(), "secure": False},
}
ALLOCATOR_VARIANT = os.environ.get("TINYSERVER_EXPECT_ALLOCATOR", "mimalloc")
assert ALLOCATOR_VARIANT in ALLOCATOR_VARIANTS, (
    f"TINYSERVER_EXPECT_ALLOCATOR={ALLOCATOR_VARIANT!r}: expected one of {list(ALLOCATOR_VARIANTS)}")
EXPECTED_ALLOCATOR = ALLOCATOR_VARIANTS[ALLOCATOR_VARIANT]()
USES_MIMALLOC = EXPECTED_ALLOCATOR["name"] == "mimalloc"
# The allocators /bench?allocator= offers in each build, sorted by name
# (src/bench/bench_alloc.h): the global one, plus musl's mallocng beside a
# mimalloc global, plus the prefixed secure mimalloc beside plain mimalloc.
# The sanitizer build is -Dallocator=musl on glibc: only its global.
BENCH_ALLOCATORS = {
    "mimalloc": ["mimalloc", "mimalloc-secure", "musl"],
    "mimalloc-secure": ["mimalloc-secure", "musl"],
    "musl": ["musl"],
    "asan": ["musl"],
}[ALLOCATOR_VARIANT]
BENCH_GLOBAL_ALLOCATOR = {"asan": "musl"}.get(ALLOCATOR_VARIANT, ALLOCATOR_VARIANT)

# The release variants are static musl binaries; the sanitizer build cannot
# be (the sanitizers need the host's dynamic glibc runtime).
SANITIZER_BUILD = ALLOCATOR_VARIANT == "asan"
EXPECTED_LIBC = "glibc" if SANITIZER_BUILD else "musl"
EXPECTED_STATIC = not SANITIZER_BUILD
NOT_A_RELEASE_BUILD = "the sanitizer build is dynamic glibc without mimalloc by design"

# What ASan, LeakSanitizer and UBSan print when they find something.
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|"
                              r"SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer")


def assert_no_sanitizer_report(text, what):
    """Any build: fails on a sanitizer report in a process's output (in a
    release build there never is one)."""
    match = SANITIZER_REPORT.search(text)
    assert match is None, f"sanitizer report from {what}:\n{text[max(0, match.start() - 200):][:6000]}"

# The configuration contract: every option as (flag, environment variable).
CONFIG_OPTIONS = [
    ("--bind", "BIND"),
    ("--port", "PORT"),
    ("--http-threads", "HTTP_THREADS"),
    ("--max-connections", "MAX_CONNECTIONS"),
    ("--max-connections-per-ip", "MAX_CONNECTIONS_PER_IP"),
    ("--connection-timeout", "CONNECTION_TIMEOUT"),
    ("--request-timeout", "REQUEST_TIMEOUT"),
    ("--connection-memory-limit", "CONNECTION_MEMORY_LIMIT"),
    ("--max-url-length", "MAX_URL_LENGTH"),
    ("--max-concurrent-bench", "MAX_CONCURRENT_BENCH"),
    ("--max-bench-threads", "MAX_BENCH_THREADS"),
    ("--max-bench-iterations", "MAX_BENCH_ITERATIONS"),
    ("--max-bench-operations", "MAX_BENCH_OPERATIONS"),
    ("--max-bench-seconds", "MAX_BENCH_SECONDS"),
    ("--bench-token-file", "BENCH_TOKEN_FILE"),
    ("--bench-rate", "BENCH_RATE"),
    ("--shutdown-grace", "SHUTDOWN_GRACE"),
    ("--log-level", "LOG_LEVEL"),
    ("--log-format", "LOG_FORMAT"),
    ("--log-file", "LOG_FILE"),
    ("--log-buffer", "LOG_BUFFER"),
    ("--log-flush-ms", "LOG_FLUSH_MS"),
    ("--tls-cert", "TLS_CERT_FILE"),
    ("--tls-key", "TLS_KEY_FILE"),
    ("--tls-port", "TLS_PORT"),
    ("--tls-handshake-timeout", "TLS_HANDSHAKE_TIMEOUT"),
    ("--max-tls-connections", "MAX_TLS_CONNECTIONS"),
    ("--tls-threads", "TLS_THREADS"),
    ("--tls-session-cache", "TLS_SESSION_CACHE"),
]

# Generous limits that only keep a broken server from hanging the suite;
# nothing is asserted about how fast anything is.
STARTUP_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 90.0
CURL_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.02

# How long the "long" benchmark should run. Long enough that several
# requests fit comfortably inside it; the iteration count is calibrated
# against this machine once per session.
LONG_BENCH_TARGET_S = 2.5
LONG_BENCH_PROBE_S = 0.25
LONG_BENCH_THREADS = 2


def clean_env(extra=None):
    """The test environment minus anything the server would read as
    configuration, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in {e for _, e in CONFIG_OPTIONS}}
    env.update(extra or {})
    return env


def run_binary(*args, env=None, timeout=30, binary=None):
    """Runs the binary (or another build's) to completion (one-shot commands)."""
    result = subprocess.run([*binary_command(binary), *args], capture_output=True, text=True,
                            env=clean_env(env), timeout=timeout)
    assert_no_sanitizer_report(result.stderr, f"tinyserver {' '.join(args)}")
    return result


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available_cpus():
    """What the server should use as its default thread count: the affinity
    mask, lowered by a cgroup CPU quota if one applies to this process."""
    cpus = len(os.sched_getaffinity(0))
    quota = _cgroup_cpu_quota()
    return min(cpus, quota) if quota else cpus


# --max-bench-threads 0 (the default): 4 threads per CPU available, at
# most 4096 (BENCH_THREADS_PER_CPU and BENCH_THREADS_MAX in src/main.c).
def default_max_bench_threads():
    return min(4 * available_cpus(), 4096)


def _cgroup_cpu_quota():
    limits = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hid, controllers, path = line.split(":", 2)
        if hid == "0" and controllers == "":
            roots, reader = [Path("/sys/fs/cgroup")], _v2_quota
        elif "cpu" in controllers.split(","):
            roots = [Path("/sys/fs/cgroup/cpu,cpuacct"), Path("/sys/fs/cgroup/cpu")]
            reader = _v1_quota
        else:
            continue
        parts = [p for p in path.split("/") if p]
        for root in roots:
            for depth in range(len(parts), -1, -1):
                limit = reader(root.joinpath(*parts[:depth]))
                if limit:
                    limits.append(limit)
    return min(limits) if limits else None


def _ceil_cpus(quota, period):
    return max(1, -(-quota // period)) if period > 0 else None


def _v2_quota(directory):
    try:
        quota, period = (directory / "cpu.max").read_text().split()
        return None if quota == "max" else _ceil_cpus(int(quota), int(period))
    except (OSError, ValueError):
        return None


def _v1_quota(directory):
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return _ceil_cpus(quota, period) if quota > 0 else None


class CurlResult(NamedTuple):
    status: int  # 0 when curl got no HTTP response at all
    headers: dict  # lower-case name -> value (last one wins)
    json: Optional[object]  # parsed body, None when empty or not JSON
    body: bytes
    returncode: int  # curl's exit status
    stderr: str
    size_download: int  # body bytes curl read off the wire (0 for -I)

    def describe(self):
        return (f"curl rc={self.returncode} status={self.status} headers={self.headers} "
                f"body={self.body[:400]!r} stderr={self.stderr.strip()!r}")


def _parse_headers(dump):
    """Takes the last header block of a `curl -D -` dump (an interim
    `100 Continue` block may come first)."""
    blocks = [b for b in re.split(r"\r?\n\r?\n", dump) if b.startswith("HTTP/")]
    if not blocks:
        return 0, {}
    lines = blocks[-1].splitlines()
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


# Separates curl's --write-out text from the header dump on stdout.
SIZE_MARK = "\n__size_download="


def curl_command(url, *extra, timeout=CURL_TIMEOUT_S, body_path=os.devnull):
    return ["curl", "-sS", "--max-time", str(timeout), "-D", "-", "-o", str(body_path),
            "-w", SIZE_MARK + "%{size_download}\n", *extra, url]


def curl_finish(proc_stdout, proc_stderr, returncode, body_path):
    body = Path(body_path).read_bytes() if Path(body_path).exists() else b""
    dump, mark, size = proc_stdout.rpartition(SIZE_MARK)
    if not mark:
        dump, size = proc_stdout, ""
    status, headers = _parse_headers(dump)
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return CurlResult(status, headers, parsed, body, returncode, proc_stderr,
                      int(size.strip() or 0))


class Curl:
    """Runs curl with the response body in a scratch file."""

    def __init__(self, scratch):
        self.scratch = scratch
        self.counter = 0

    def _body_path(self):
        self.counter += 1
        return self.scratch / f"curl-body-{os.getpid()}-{self.counter}"

    def __call__(self, url, *extra, timeout=CURL_TIMEOUT_S):
        body_path = self._body_path()
        proc = subprocess.run(curl_command(url, *extra, timeout=timeout, body_path=body_path),
                              capture_output=True, text=True, timeout=timeout + 10)
        return curl_finish(proc.stdout, proc.stderr, proc.returncode, body_path)

    def start(self, url, *extra, timeout=CURL_TIMEOUT_S):
        """Starts curl in the background; call .result() on the handle."""
        return BackgroundCurl(curl_command(url, *extra, timeout=timeout,
                                           body_path=self._body_path()), timeout)


class BackgroundCurl:
    def __init__(self, cmd, timeout):
        self.body_path = cmd[cmd.index("-o") + 1]
        self.timeout = timeout
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)

    def running(self):
        return self.proc.poll() is None

    def result(self):
        out, err = self.proc.communicate(timeout=self.timeout + 10)
        return curl_finish(out, err, self.proc.returncode, self.body_path)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


class Server:
    """One tinyserver process listening on 127.0.0.1:<free port>."""

    def __init__(self, workdir, args, env, binary=None, port=None):
        self.command = binary_command(binary)
        self.workdir = workdir
        self.args = list(args)
        self.env = dict(env or {})
        self.proc = None
        self.fixed_port = port
        self.port = None
        self.stopped_by_test = False
        self.stdout_path = workdir / "stdout.log"
        self.stderr_path = workdir / "stderr.log"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        # The port is free when picked but another process could take it
        # before the server binds; retry on that one failure only.
        for _ in range(1 if self.fixed_port else 3):
            self.port = self.fixed_port or free_port()
            with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen(
                    [*self.command, "--bind", "127.0.0.1", "--port", str(self.port),
                     *self.args],
                    stdout=out, stderr=err, env=clean_env(self.env))
            if self._wait_healthy():
                return self
            if self.proc.poll() is None or "in use" not in self.output():
                break
        self.kill()
        pytest.fail(f"server did not become healthy within {STARTUP_TIMEOUT_S}s "
                    f"(exit {self.proc.returncode}); output:\n{self.output()}")

    def _wait_healthy(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            probe = subprocess.run(
                ["curl", "-s", "-o", os.devnull, "-w", "%{http_code}", "--max-time", "1",
                 self.url + "/healthz"], capture_output=True, text=True)
            if probe.stdout == "200":
                return True
            time.sleep(POLL_INTERVAL_S)
        return False

    def stdout(self):
        return self.stdout_path.read_text(errors="replace")

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def output(self):
        return self.stdout() + self.stderr()

    def stop(self, signo=signal.SIGTERM):
        """Sends `signo` and returns the exit status (kills and fails if the
        server does not exit)."""
        self.stopped_by_test = True
        if self.proc.poll() is None:
            self.proc.send_signal(signo)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"server ignored {signal.Signals(signo).name} for {STOP_TIMEOUT_S}s; "
                        f"output:\n{self.output()}")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def thread_count(self):
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
        raise AssertionError("no Threads: line in /proc status")

    def wait_for_threads(self, at_least, while_running=(), timeout=STARTUP_TIMEOUT_S):
        """Waits until the process has at least `at_least` threads: the way
        to observe, without touching the server, that a benchmark has
        started (it adds one job thread plus its worker threads)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.thread_count() >= at_least:
                return
            for handle in while_running:
                assert handle.running(), f"request ended early: {handle.result().describe()}"
            time.sleep(POLL_INTERVAL_S)
        pytest.fail(f"server never reached {at_least} threads (has {self.thread_count()})")

    def wait_for_log(self, pattern, timeout=STARTUP_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.stdout(), re.MULTILINE):
                return
            time.sleep(POLL_INTERVAL_S)
        pytest.fail(f"no log line matching {pattern!r}; stdout:\n{self.stdout()}")

    def finish(self):
        """Teardown: a server the test left running must stop cleanly on
        SIGTERM; one that exited on its own must have exited with 0."""
        if self.proc is None or self.stopped_by_test:
            self.kill()
            assert_no_sanitizer_report(self.stderr(), "the server")
            return
        if self.proc.poll() is not None:
            assert_no_sanitizer_report(self.stderr(), "the server")
            rc = self.proc.returncode
            assert rc == 0, f"server exited by itself with {rc}; output:\n{self.output()}"
            return
        rc = self.stop()
        assert_no_sanitizer_report(self.stderr(), "the server")
        assert rc == 0, f"server exited with {rc} on SIGTERM; output:\n{self.output()}"


def _server_factory(base_dir):
    started = []

    def start(*args, env=None, binary=None, port=None):
        workdir = base_dir / f"server{len(started)}"
        workdir.mkdir()
        server = Server(workdir, args, env, binary, port)
        started.append(server)
        return server.start()

    return start, started


def _finish_all(started):
    errors = []
    for server in started:
        try:
            server.finish()
        except AssertionError as e:  # stop every server before reporting
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture
def server(tmp_path):
    """Factory: server(*extra_args, env={...}, binary=None, port=None) -> a
    healthy Server (of another build when binary is given; on `port` when
    given, else on a free one). Each is stopped with
    SIGTERM at teardown, which must yield exit status 0."""
    start, started = _server_factory(tmp_path)
    yield start
    _finish_all(started)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One default server for a module whose tests do not change its state."""
    start, started = _server_factory(tmp_path_factory.mktemp("shared"))
    yield start()
    _finish_all(started)


@pytest.fixture
def curl(tmp_path):
    return Curl(tmp_path)


def elapsed_s(bench_json):
    """Wall time of a --bench answer: one run's, or a comparison's total."""
    if "results" in bench_json:
        return sum(run["elapsed_ms"] for entry in bench_json["results"]
                   for run in entry["runs"]) / 1000.0
    return bench_json["elapsed_ms"] / 1000.0


def calibrate_long_bench(*extra_args):
    """Iterations per thread that make a LONG_BENCH_THREADS run (with
    extra_args, e.g. a comparison of every allocator) take about
    LONG_BENCH_TARGET_S here, measured with the binary's own --bench. The
    probe grows until it runs long enough to measure, so the slow musl
    allocator build is not held up by a probe sized for mimalloc."""
    probe = 100_000
    while True:
        result = run_binary("--bench", "--threads", str(LONG_BENCH_THREADS),
                            "--iterations", str(probe), "--max-bench-iterations", str(probe),
                            *extra_args, timeout=120)
        assert result.returncode == 0, result.stderr
        elapsed = max(elapsed_s(json.loads(result.stdout)), 1e-3)
        if elapsed >= LONG_BENCH_PROBE_S or probe >= 5_000_000:
            break
        probe *= 4
    return max(probe, min(int(probe * LONG_BENCH_TARGET_S / elapsed), 1_000_000_000))


@pytest.fixture(scope="session")
def long_bench_iterations():
    """Iterations for a long run of the default allocator."""
    return calibrate_long_bench()


@pytest.fixture(scope="session")
def long_comparison_iterations():
    """Iterations for a long allocator=all comparison: sized on the whole
    comparison, whose slowest allocator (musl's) can be tens of times
    slower than the default one, so a run sized for mimalloc alone would
    outlast the client's patience."""
    return calibrate_long_bench("--allocator", "all")


# Lets a server accept the calibrated long runs.
LONG_BENCH_ARGS = ("--max-bench-iterations", "1000000000")


def project_version():
    """The version the build should report: meson.build's project() version."""
    text = (REPO / "meson.build").read_text()
    match = re.search(r"project\([^)]*?\bversion:\s*'([^']+)'", text, re.DOTALL)
    assert match, "no version in meson.build's project()"
    return match.group(1)


def assert_json_error(result, status):
    """An error answer: the status, a JSON content type and a non-empty
    "error" string."""
    assert result.status == status, result.describe()
    assert result.headers.get("content-type") == "application/json", result.describe()
    assert isinstance(result.json, dict), result.describe()
    assert isinstance(result.json.get("error"), str) and result.json["error"], result.describe()
