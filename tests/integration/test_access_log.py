"""The access log written to a file (--log-file) through per-thread buffers
(--log-buffer, --log-flush-ms), against the real binary with real clients:
no line lost on SIGTERM or SIGINT, none split, none mixed with another
thread's, a line longer than the buffer whole, lines out by age with no
more traffic, other messages after the access lines before them, stdout
still a line at a time, bad values refused with exit status 2.

Nothing here is timed: waits poll for a condition with a generous bound."""
import http.client
import json
import os
import re
import signal
import socket
import stat
import threading
import time

import pytest

from binary import EXIT_USAGE, run_binary
from bounds import STARTUP_TIMEOUT_S
from net import free_port

# The longest flush interval (60 s): longer than any of these tests takes
# from a request to its check, so only a full buffer or the stop writes out.
NEVER_MS = "60000"
# A wait for the flusher: generous, so a loaded machine does not fail it.
FLUSH_WAIT_S = 30.0
POLL_S = 0.05

TEXT_ACCESS = re.compile(
    r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info access 127\.0\.0\.1 "GET (?P<path>/\S*)" '
    r"(?P<status>\d{3}) \d+\.\d{3}ms$")


def get_many(port, paths):
    """GETs each path in turn on one kept-alive connection; returns the
    statuses."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    statuses = []
    try:
        for path in paths:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        conn.close()
    return statuses


def read_lines(path):
    """The file's lines; asserts it ends with a newline (no line cut off)."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), data[-200:]
    return data.decode("ascii").splitlines()


def access_records(lines, form):
    """Every access line parsed: a dict with path and status. Fails on any
    line that does not parse whole (a split or mixed line would not)."""
    records = []
    for line in lines:
        if form == "json":
            record = json.loads(line)  # every line, access or not, is JSON
            if record.get("event") == "access":
                assert set(record) == {"time", "level", "event", "client", "method", "path",
                                       "status", "duration_ms"}, record
                records.append(record)
        elif " info access " in line:
            match = TEXT_ACCESS.match(line)
            assert match, f"access line does not parse: {line!r}"
            records.append({"path": match["path"], "status": int(match["status"])})
        else:
            assert re.match(r"^\d{4}-\d\d-\d\dT\S+Z (debug|info|warn|error) ", line), line
    return records


def paths_logged(records, prefix):
    return [r["path"] for r in records if r["path"].startswith(prefix)]


@pytest.mark.parametrize("form", ["text", "json"])
@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_every_buffered_line_is_written_on_stop(server, tmp_path, form, signo):
    log = tmp_path / "access.log"
    srv = server("--log-file", str(log), "--log-flush-ms", NEVER_MS, "--log-format", form,
                 "--http-threads", "2")
    count = 300
    paths = [f"/stop-{i}" for i in range(count)]
    assert get_many(srv.port, paths) == [404] * count
    # Held back: 300 short lines fit in the default 64 KiB buffer, and none
    # is old enough to go out by age. The startup line went out at once.
    held = read_lines(log)
    assert any("listening on" in line for line in held), held
    assert paths_logged(access_records(held, form), "/stop-") == [], held
    assert srv.stop(signo) == 0, srv.output()
    lines = read_lines(log)
    assert srv.stdout() == "", "with --log-file nothing goes to stdout"
    assert paths_logged(access_records(lines, form), "/stop-") == paths
    # The access lines of requests made before the signal come before the
    # line that says it was received, and "stopped" is the last line.
    received = next(i for i, line in enumerate(lines) if f"received {signo.name}" in line)
    last_access = max(i for i, line in enumerate(lines) if "/stop-" in line)
    assert last_access < received, lines[-10:]
    assert "stopped" in lines[-1], lines[-3:]


def test_sighup_is_not_a_reopen_and_ends_the_process(server, tmp_path):
    # Documented: no reopen on SIGHUP; it keeps its default action. A
    # process inherits an ignored SIGHUP (a test run under nohup), and the
    # server rightly keeps what it is given, so this server starts with the
    # default disposition.
    log = tmp_path / "access.log"
    inherited = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        srv = server("--log-file", str(log))
    finally:
        signal.signal(signal.SIGHUP, inherited)
    assert srv.stop(signal.SIGHUP) == -signal.SIGHUP, srv.output()


def test_a_line_goes_out_by_age_without_more_traffic(server, tmp_path):
    log = tmp_path / "access.log"
    srv = server("--log-file", str(log), "--log-flush-ms", "200")
    assert get_many(srv.port, ["/aged-line"]) == [404]
    deadline = time.monotonic() + FLUSH_WAIT_S
    while time.monotonic() < deadline:
        if paths_logged(access_records(read_lines(log), "text"), "/aged-line"):
            break
        time.sleep(POLL_S)
    else:
        pytest.fail(f"the line did not reach the file within {FLUSH_WAIT_S}s:\n{log.read_text()}")
    assert srv.proc.poll() is None, "the server must still be running"


class Client(threading.Thread):
    def __init__(self, port, paths):
        super().__init__()
        self.port = port
        self.paths = paths
        self.statuses = []
        self.error = None

    def run(self):
        try:
            self.statuses = get_many(self.port, self.paths)
        except Exception as e:  # reported by the test
            self.error = e


@pytest.mark.parametrize("form", ["text", "json"])
def test_concurrent_clients_through_small_buffers(server, tmp_path, form):
    # A 512-byte buffer holds about five lines: many writes, by several
    # worker threads at once, into one file.
    log = tmp_path / "access.log"
    srv = server("--log-file", str(log), "--log-buffer", "512", "--log-flush-ms", NEVER_MS,
                 "--log-format", form, "--http-threads", "3")
    clients = [Client(srv.port, [f"/c{c}-{i}" for i in range(250)]) for c in range(6)]
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=120)
        assert not client.is_alive() and client.error is None, client.error
        assert client.statuses == [404] * len(client.paths)
    assert srv.stop() == 0, srv.output()
    records = access_records(read_lines(log), form)
    for c, client in enumerate(clients):
        # each exactly once, and one connection's requests in their order
        # (a connection stays on one worker thread)
        assert paths_logged(records, f"/c{c}-") == client.paths


def test_a_line_longer_than_the_buffer_is_written_whole(server, tmp_path):
    # A 128-byte buffer holds one short access line (about 80 bytes); the
    # long path (within the 255 bytes the log keeps of a path) makes a line
    # of about 280.
    log = tmp_path / "access.log"
    srv = server("--log-file", str(log), "--log-buffer", "128", "--log-flush-ms", NEVER_MS)
    long_path = "/long-" + "x" * 200
    assert get_many(srv.port, ["/short-before", long_path, "/short-after"]) == [404] * 3
    assert srv.stop() == 0, srv.output()
    records = access_records(read_lines(log), "text")
    ours = [r["path"] for r in records if r["path"].startswith(("/short-", "/long-"))]
    assert ours == ["/short-before", long_path, "/short-after"]
    assert max(len(line) for line in read_lines(log) if "/long-" in line) > 128


def test_log_file_is_appended_to_and_created_0640(server, tmp_path):
    log = tmp_path / "new.log"
    old_mask = os.umask(0o022)
    try:
        srv = server("--log-file", str(log))
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE(log.stat().st_mode) == 0o640
    assert srv.stop() == 0, srv.output()
    first_run = read_lines(log)
    srv = server(env={"LOG_FILE": str(log)})  # the environment variable works too
    assert srv.stop() == 0, srv.output()
    lines = read_lines(log)
    assert lines[:len(first_run)] == first_run
    assert sum("listening on" in line for line in lines) == 2


def test_stdout_is_written_a_line_at_a_time(server):
    # --log-buffer and --log-flush-ms apply to --log-file only: on stdout
    # the line is there long before the flush interval.
    srv = server("--log-buffer", "65536", "--log-flush-ms", NEVER_MS)
    assert get_many(srv.port, ["/on-stdout"]) == [404]
    srv.wait_for_log(r'"GET /on-stdout" 404 ')


def test_log_file_dev_stdout_buffers_stdout(server):
    # The way to buffer stdout: the line is held back, then written out on
    # SIGTERM.
    srv = server("--log-file", "/dev/stdout", "--log-flush-ms", NEVER_MS)
    assert get_many(srv.port, ["/via-dev-stdout"]) == [404]
    assert "listening on" in srv.stdout() and "/via-dev-stdout" not in srv.stdout()
    assert srv.stop() == 0, srv.output()
    assert '"GET /via-dev-stdout" 404 ' in srv.stdout(), srv.stdout()[-500:]
    assert re.search(r" info stopped$", srv.stdout().splitlines()[-1]), srv.stdout()[-500:]


def test_unbuffered_file_gets_each_line_at_once(server, tmp_path):
    log = tmp_path / "access.log"
    srv = server("--log-file", str(log), "--log-buffer", "0", "--log-flush-ms", NEVER_MS)
    assert get_many(srv.port, ["/unbuffered"]) == [404]
    # No flush interval to wait for; the line is written before or just
    # after the answer goes out, so poll briefly.
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not paths_logged(access_records(read_lines(log), "text"), "/unbuffered"):
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(POLL_S)


@pytest.mark.parametrize("args, env, named", [
    (["--log-buffer", "-1"], {}, "--log-buffer"),
    (["--log-buffer", "64k"], {}, "--log-buffer"),
    (["--log-buffer", "16777217"], {}, "--log-buffer"),
    (["--log-flush-ms", "0"], {}, "--log-flush-ms"),
    (["--log-flush-ms", "60001"], {}, "--log-flush-ms"),
    ([], {"LOG_BUFFER": "lots"}, "LOG_BUFFER"),
    ([], {"LOG_FLUSH_MS": "1s"}, "LOG_FLUSH_MS"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_bad_buffer_values_exit_2_naming_them(args, env, named):
    result = run_binary(*args, "--port", str(free_port()), env=env, timeout=STARTUP_TIMEOUT_S)
    assert result.returncode == EXIT_USAGE, (result.returncode, result.stdout, result.stderr)
    assert named in result.stderr and "invalid value" in result.stderr, result.stderr


def test_an_exit_through_an_error_writes_its_line_to_the_file(tmp_path):
    log = tmp_path / "access.log"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_binary("--bind", "127.0.0.1", "--port", str(port), "--log-file", str(log),
                            timeout=STARTUP_TIMEOUT_S)
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = read_lines(log)
    assert any(" error " in line and "in use" in line.lower() for line in lines), lines


def test_unopenable_log_file_exits_2_naming_it(tmp_path):
    missing = tmp_path / "no-such-dir" / "x.log"
    result = run_binary("--log-file", str(missing), "--port", str(free_port()),
                        timeout=STARTUP_TIMEOUT_S)
    assert result.returncode == EXIT_USAGE, (result.returncode, result.stdout, result.stderr)
    assert "--log-file" in result.stderr and str(missing) in result.stderr, result.stderr
    assert "No such file or directory" in result.stderr, result.stderr
    assert result.stdout == ""
