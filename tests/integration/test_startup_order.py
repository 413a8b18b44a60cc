"""Start-up and shutdown order (issue 26, finding 1): nothing a connection
can reach is missing while the server starts.

libmicrohttpd accepts and serves inside MHD_start_daemon(). The server used
to start the thread that watches deferred requests' clients only after it
returned, so a GET /bench that came in the first milliseconds was deferred
onto a watch that did not exist yet (a NULL mutex: SIGSEGV, the whole
process and its buffered log lost). A client here connects in a tight loop
while the server starts and sends a /bench the moment the port accepts, on
every one of a bounded number of starts; every start must answer it and
then stop with status 0. The sanitizer build crashed on the first start
before the fix; the release build on a few starts in fifty.
"""
import signal
import socket
import subprocess
import time

from binary import assert_no_sanitizer_report, binary_command, clean_env
from bounds import STARTUP_TIMEOUT_S, STOP_TIMEOUT_S
from net import free_port

STARTS = 50
BENCH_REQUEST = (b"GET /bench?iterations=1000&threads=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Connection: close\r\n\r\n")
ANSWER_TIMEOUT_S = 60.0


def first_request_while_starting(port, proc):
    """Connects as soon as the port accepts (the process was just spawned)
    and sends the /bench; returns the answer's status line, or None when
    the server died or the start took too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT_S)
        except (ConnectionRefusedError, ConnectionResetError):
            continue  # not listening yet: try again at once
        with sock:
            try:
                sock.sendall(BENCH_REQUEST)
                answer = b""
                while b"\r\n" not in answer:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
            except OSError:
                answer = b""
        return answer.split(b"\r\n", 1)[0].decode(errors="replace") if answer else None
    return None


def test_bench_during_start_up_is_served_on_every_start(tmp_path):
    for start in range(STARTS):
        port = free_port()
        out_path = tmp_path / f"start{start}.log"
        with open(out_path, "wb") as out:
            proc = subprocess.Popen([*binary_command(), "--bind", "127.0.0.1", "--port", str(port),
                                     "--log-level", "warn"],
                                    stdout=out, stderr=subprocess.STDOUT, env=clean_env())
        try:
            status_line = first_request_while_starting(port, proc)
            alive = proc.poll() is None
            if alive:
                proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=STOP_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        output = out_path.read_text(errors="replace")
        if rc != 0 and "in use" in output and status_line is None:
            continue  # another process took the free port first: not this test's subject
        assert_no_sanitizer_report(output, f"the server, start {start}")
        assert alive and rc == 0, f"start {start}: exit {rc}; output:\n{output}"
        assert status_line is not None and status_line.startswith("HTTP/1.1 "), (
            f"start {start}: no answer to the first /bench ({status_line!r}); output:\n{output}")
