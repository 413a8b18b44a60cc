"""tinyserver processes for the tests: started on a free loopback port,
healthy before use, stopped with SIGTERM and held to exit status 0; and the
long benchmark runs, calibrated to this machine, that tests run beside other
requests."""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from binary import assert_no_sanitizer_report, binary_command, clean_env, run_binary
from bounds import POLL_INTERVAL_S, STARTUP_TIMEOUT_S, STOP_TIMEOUT_S
from net import free_port
from proc import available_cpus

# What GET /healthz answers.
HEALTHY = {"status": "ok"}

# How long the "long" benchmark should run. Long enough that several
# requests fit comfortably inside it; the iteration count is calibrated
# against this machine once per session.
LONG_BENCH_TARGET_S = 2.5
LONG_BENCH_PROBE_S = 0.25
LONG_BENCH_THREADS = 2
# Lets a server accept the calibrated long runs.
LONG_BENCH_ARGS = ("--max-bench-iterations", "1000000000")



# --max-bench-threads 0 (the default): 4 threads per CPU available, at
# most 4096 (BENCH_THREADS_PER_CPU and BENCH_THREADS_MAX in src/main.c).
def default_max_bench_threads():
    return min(4 * available_cpus(), 4096)


class Server:
    """One tinyserver process listening on 127.0.0.1:<free port>."""

    def __init__(self, workdir, args, env, binary=None, port=None,
                 startup_timeout=STARTUP_TIMEOUT_S):
        self.command = binary_command(binary)
        self.startup_timeout = startup_timeout
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
        pytest.fail(f"server did not become healthy within {self.startup_timeout}s "
                    f"(exit {self.proc.returncode}); output:\n{self.output()}")

    def _wait_healthy(self):
        deadline = time.monotonic() + self.startup_timeout
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


def server_factory(base_dir):
    started = []

    def start(*args, env=None, binary=None, port=None, startup_timeout=STARTUP_TIMEOUT_S):
        workdir = base_dir / f"server{len(started)}"
        workdir.mkdir()
        server = Server(workdir, args, env, binary, port, startup_timeout)
        started.append(server)
        return server.start()

    return start, started


def finish_all(started):
    errors = []
    for server in started:
        try:
            server.finish()
        except AssertionError as e:  # stop every server before reporting
            errors.append(str(e))
    assert not errors, "\n".join(errors)


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




def start_long_bench(srv, curl, iterations, threads=LONG_BENCH_THREADS, extra=""):
    """Starts a long /bench in the background and waits until it runs.
    Returns (the background curl, the server's thread count before)."""
    base = srv.thread_count()
    handle = curl.start(f"{srv.url}/bench?threads={threads}&iterations={iterations}{extra}")
    srv.wait_for_threads(base + 1 + threads, while_running=[handle])
    return handle, base
