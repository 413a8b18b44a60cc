"""The TLS relay's lifetime and cost, seen from outside (issue 18).

Each test drives real sockets against the real binary and observes only what
any relay design must show: tinyserver_tls_open_connections in /metrics, a
fresh client being served, the log, and the process's threads, descriptors
and CPU in /proc. So the same tests hold for the thread-per-connection relay
and for an event loop.

  - a relay ends within a bounded flush time once the HTTP side has closed,
    even when its client neither reads nor closes; a refusal at the TLS cap
    is logged at info;
  - a reset client ends its relay at once, whatever the relay holds (no
    thread spins on the dead socket);
  - at shutdown every relay ends before the server exits;
  - with descriptors exhausted, the TLS listener backs off and warns
    rarely, and serves the waiting clients once descriptors come back.

CPU is read per thread from /proc/PID/task/*/stat (utime + stime) over a
window of seconds. The machine is shared and loaded, so a spinning thread
may get far less than a core; it still gets a slice like the benchmark
worker's beside it, while an idle or waiting thread gets next to nothing.
"""
import os
import re
import resource
import socket
import ssl
import time
from pathlib import Path

from bounds import CLOSE_BOUND_S, SETTLE_BOUND_S
from metrics import metric
from net import rst_close, send_ignoring_reset, wait_server_close
from proc import cpu_seconds, fd_count, settled, status_field, wait_until
from server import LONG_BENCH_ARGS
from tls import client_context, client_hello, http_over, https, start_tls_server

# What a spinning thread uses (a full core, less what a loaded machine
# takes) against what an idle or waiting one uses (next to nothing).
BUSY_SHARE = 0.30
IDLE_SHARE = 0.03
CPU_WINDOW_S = 3.0

MAX_ITERATIONS = int(LONG_BENCH_ARGS[1])
STUFFED_CLIENTS = 4
PIPELINED_REQUESTS = 400
SMALL_RCVBUF = 4096
PIPELINED_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
# /metrics answers are several KB: 400 of them exceed what the kernel buffers.
STUFFING_REQUEST = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"


def tls_open(curl, srv):
    return metric(curl, srv, "tinyserver_tls_open_connections")


def thread_ticks(pid):
    """Thread id -> CPU clock ticks used (user + system)."""
    ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended between the listing and the read
        ticks[tid] = int(fields[11]) + int(fields[12])
    return ticks


def thread_shares(pid, window_s=CPU_WINDOW_S):
    """Thread id -> share of a core it used over window_s."""
    before, start = thread_ticks(pid), time.monotonic()
    time.sleep(window_s)
    after, elapsed = thread_ticks(pid), time.monotonic() - start
    hz = os.sysconf("SC_CLK_TCK")
    return {tid: round((ticks - before.get(tid, 0)) / hz / elapsed, 3)
            for tid, ticks in after.items()}


def spinning_besides_the_busiest(shares):
    """The threads, other than the busiest one, that look busy: above
    BUSY_SHARE of a core, or, on a loaded machine where every runnable
    thread gets a slice, above a third of what the busiest got (an idle or
    waiting thread gets next to nothing either way)."""
    ordered = sorted(shares.values(), reverse=True)
    top = ordered[0] if ordered else 0.0
    return [share for share in ordered[1:]
            if share > BUSY_SHARE or (share > IDLE_SHARE and share > top / 3)]


def receive_queue(local_port, remote_port):
    """Bytes waiting in the receive queue of the server's socket for one
    loopback connection (/proc/net/tcp), or None when there is none."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if (int(local.rsplit(":", 1)[1], 16) == local_port and
                int(remote.rsplit(":", 1)[1], 16) == remote_port):
            return int(fields[4].split(":")[1], 16)
    return None


def stuffed_client(srv, files):
    """A TLS client with a tiny receive buffer that pipelines requests and
    never reads: the server's answers pile up in the relay."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)
    raw.settimeout(CLOSE_BOUND_S)
    try:
        raw.connect(("127.0.0.1", srv.tls_port))
        tls = client_context(files).wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise
    tls.settimeout(5)
    try:
        tls.sendall(STUFFING_REQUEST * PIPELINED_REQUESTS)
    except (socket.timeout, ssl.SSLError, OSError):
        pass  # the server stopped reading: the pile-up has begun either way
    return tls


def test_relay_ends_after_the_http_side_closes(server, tls_files, curl):
    """Issue 18, finding 1: clients that pipeline and never read used to
    hold their relays (and the TLS cap) for as long as they liked after the
    HTTP side had closed, so a fresh TLS client was refused."""
    srv = start_tls_server(server, tls_files, "ec", "--connection-timeout", "3",
                           "--max-tls-connections", str(STUFFED_CLIENTS))
    base_threads = settled(lambda: status_field(srv.pid, "Threads"))
    clients = [stuffed_client(srv, tls_files) for _ in range(STUFFED_CLIENTS)]
    try:
        assert tls_open(curl, srv) == STUFFED_CLIENTS
        # At the cap a new client is closed without a handshake reply, and
        # the operator sees it at the default level.
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=CLOSE_BOUND_S) as s:
            send_ignoring_reset(s, client_hello(tls_files))
            received, _, _ = wait_server_close(s, what="connection over the TLS cap")
        assert received == b"", received[:32]
        # The HTTP side closes the stuffed connections at its idle timeout
        # (only the /metrics request itself stays open)...
        wait_until(lambda: metric(curl, srv, "tinyserver_http_open_connections") <= 1,
                   SETTLE_BOUND_S, lambda: "the HTTP side never closed the stuffed connections")
        # ...then the relays get a bounded time to flush and end, though
        # the clients keep their sockets open and never read.
        wait_until(lambda: tls_open(curl, srv) == 0, CLOSE_BOUND_S,
                   lambda: f"{tls_open(curl, srv)} relays still open after the HTTP side "
                           f"closed; threads {status_field(srv.pid, 'Threads')} "
                           f"(baseline {base_threads})")
        result = https(curl, srv, tls_files, "/healthz")
        assert result.status == 200, result.describe()
        wait_until(lambda: status_field(srv.pid, "Threads") == base_threads, SETTLE_BOUND_S,
                   lambda: f"threads {status_field(srv.pid, 'Threads')} != {base_threads}")
        srv.wait_for_log(r"^\S+ info refused a TLS connection from 127\.0\.0\.1: \d+ TLS "
                         r"connections open, the limit")
    finally:
        for tls in clients:
            tls.close()


def test_reset_ends_a_relay_holding_undelivered_data(server, tls_files, curl,
                                                     long_bench_iterations):
    """Issue 18, finding 2: a relay holding decrypted requests that the
    HTTP side does not read (a /bench is running on that connection) spun
    on poll() at a full core once its client reset the connection, until
    the benchmark ended."""
    # A zero grace period cancels the benchmark at teardown.
    srv = start_tls_server(server, tls_files, "ec", *LONG_BENCH_ARGS, "--shutdown-grace", "0")
    base_threads = settled(lambda: status_field(srv.pid, "Threads"))
    # One bench thread for a dozen long-bench lengths: its length depends
    # on the machine's load (a spinning relay slows it too), and it must
    # outlast the pile-up below.
    iterations = min(long_bench_iterations * 12, MAX_ITERATIONS)
    raw = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=CLOSE_BOUND_S)
    tls = client_context(tls_files).wrap_socket(raw, server_hostname="localhost")
    try:
        tls.sendall(f"GET /bench?threads=1&iterations={iterations} HTTP/1.1\r\n"
                    f"Host: localhost\r\n\r\n".encode())
        srv.wait_for_threads(base_threads + 2)  # the job thread, its worker
        # About 700 KB of pipelined requests: more than the socketpair and
        # the engine can hold while the HTTP side waits for the benchmark.
        tls.settimeout(5)
        try:
            tls.sendall(PIPELINED_REQUEST * 16000)
        except (socket.timeout, ssl.SSLError, OSError):
            pass
        # The relay has stopped reading: what is left waits in the
        # server's receive queue, and the relay holds what it decrypted.
        client_port = tls.getsockname()[1]
        queued = settled(lambda: receive_queue(srv.tls_port, client_port))
        assert queued, "the relay took every byte: nothing piled up"
    finally:
        rst_close(tls)
    # Only the benchmark's worker may be busy (it may also have been
    # cancelled by then: its client is gone).
    shares = thread_shares(srv.pid)
    assert not spinning_besides_the_busiest(shares), \
        f"threads busy after the reset (share of a core): {shares}"
    assert tls_open(curl, srv) == 0, "the reset connection's relay is still open"


def test_sigterm_ends_every_relay_before_exit(server, tls_files, curl):
    """Issue 18, also: relays used the logger on serve()'s stack and the
    credentials main frees; the server used to exit with relays still
    running ("still open at exit"). Every relay must end first."""
    srv = start_tls_server(server, tls_files, "ec", "--log-level", "debug", "--shutdown-grace", "1")
    clients = [stuffed_client(srv, tls_files) for _ in range(2)]
    try:
        assert tls_open(curl, srv) == 2
        assert srv.stop() == 0, srv.output()
    finally:
        for tls in clients:
            tls.close()
    lines = srv.stdout().splitlines()
    assert "still open at exit" not in srv.output(), srv.output()
    stopped = [i for i, line in enumerate(lines) if re.match(r"^\S+ info stopped$", line)]
    ended = [i for i, line in enumerate(lines) if "tls connection ended" in line]
    assert len(stopped) == 1, srv.stdout()
    assert len(ended) == 2 and max(ended) < stopped[0], srv.stdout()


def test_descriptor_exhaustion_backs_off_and_warns_rarely(server, tls_files, curl):
    """Issue 18, finding 4: with no descriptor left, the TLS listener
    retried accept4() every 10 ms and logged a warning each time (about 100
    lines a second per waiting client)."""
    srv = start_tls_server(server, tls_files, "ec")
    pid = srv.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    open_fds = settled(lambda: fd_count(pid))
    log_before = len(srv.stdout().splitlines())
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_fds, hard))
    waiting = []
    try:
        waiting = [socket.create_connection(("127.0.0.1", srv.tls_port), timeout=CLOSE_BOUND_S)
                   for _ in range(4)]
        cpu_before, start = cpu_seconds(pid), time.monotonic()
        time.sleep(CPU_WINDOW_S)
        share = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - start)
        new_lines = srv.stdout().splitlines()[log_before:]
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    warnings = [line for line in new_lines if re.match(r"^\S+ warn ", line)]
    assert any("tls accept" in line for line in warnings), "\n".join(new_lines)
    assert len(warnings) <= 2, f"{len(warnings)} warnings in {CPU_WINDOW_S} s:\n" + \
        "\n".join(warnings[:20])
    assert share < BUSY_SHARE, f"the server used {share:.0%} of a core while out of descriptors"
    # Descriptors are back: the clients that waited are served.
    try:
        for raw in waiting:
            with client_context(tls_files).wrap_socket(raw, server_hostname="localhost") as tls:
                assert http_over(tls)[0] == 200
    finally:
        for raw in waiting:
            raw.close()
    assert https(curl, srv, tls_files, "/healthz").status == 200
