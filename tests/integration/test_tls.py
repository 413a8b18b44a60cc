"""HTTPS through the BearSSL terminator (issue 4).

The server under test gets --tls-port/--tls-cert/--tls-key beside its usual
--port. Certificates come from certs/generate.sh, run once per session into
a temporary directory, plus broken files crafted here with openssl.

What is checked:
  - every endpoint answers the same over HTTPS as over HTTP, for an EC P-256
    and an RSA 2048 key; keep-alive works; plain HTTP keeps working; the
    access log shows the client's address and none of libmicrohttpd's
    socket-option noise;
  - the protocol profile, seen by `openssl s_client`: TLS 1.2 only, ECDHE
    with AEAD suites only;
  - hostile clients lose only their own connection, and the server ends up
    with as many open file descriptors and threads as before;
  - --max-tls-connections and --tls-handshake-timeout;
  - bad TLS configuration exits 2 at startup with a message naming the file,
    before anything listens; a TLS port in use exits 1;
  - SIGTERM with TLS connections open.

Time bounds only keep a broken server from hanging the suite; the Nagle
check reads TCP_NODELAY on the server's accepted socket instead of timing
handshakes.
"""
import ctypes
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from binary import (EMULATED, EXIT_RUNTIME_FAILURE, EXIT_USAGE, SANITIZER_BUILD, binary_command,
                    clean_env)
from bounds import CLOSE_BOUND_S, CURL_TIMEOUT_S, SETTLE_BOUND_S, STARTUP_TIMEOUT_S
from metrics import sample, scrape
from net import connection_refused, free_port, rst_close, send_ignoring_reset, wait_server_close
from proc import cpu_seconds, fd_count, fd_listing, settled, status_field, wait_until
from server import HEALTHY
from tls import (client_hello, http_over, https, negotiated, s_client, start_tls_server, tls_args,
                 tls_connect, with_tls)

SHORT_HANDSHAKE_TIMEOUT_S = 2

KEY_TYPES = ["ec", "rsa"]

NOISE = re.compile(r"TCP_NODELAY|TCP_CORK|TCP_NOPUSH|push the data", re.IGNORECASE)


# --------------------------------------------------------------------------
# The generated key material

def test_generated_keys_are_readable_by_their_owner_only(tls_files):
    """Issue 18: certs/generate.sh left every key, the CA's included,
    world-readable (0644)."""
    for name in ["ca.key", "server.key", "server-ec.key", "server-rsa.key"]:
        mode = tls_files[name].stat().st_mode & 0o777
        assert mode == 0o600, f"{name} is {mode:o}"
    for name in ["ca.crt", "server.crt", "server-ec.crt", "server-rsa.crt"]:
        mode = tls_files[name].stat().st_mode & 0o777
        assert mode == 0o644, f"{name} is {mode:o}"


# --------------------------------------------------------------------------
# Same answers over HTTPS as over HTTP, both key types

ENDPOINTS = [
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/bench?threads=2&iterations=1000"),
    ("GET", "/no-such-endpoint"),
    ("POST", "/healthz"),
    ("HEAD", "/"),
]

# Headers whose value legitimately differs between two identical requests.
VOLATILE_HEADERS = {"date", "content-length"}


def fetch(curl, url, method, *extra):
    args = ["-I"] if method == "HEAD" else ["-X", method]
    return curl(url, *args, *extra)


@pytest.mark.parametrize("key_type", KEY_TYPES)
@pytest.mark.parametrize("method, path", ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_endpoint_same_over_https_as_http(tls_servers, tls_files, curl, key_type, method, path):
    srv = tls_servers(key_type)
    plain = fetch(curl, srv.url + path, method)
    secure = fetch(curl, srv.tls_url + path, method, "--cacert", str(tls_files.ca))
    assert secure.returncode == 0, secure.describe()
    assert secure.status == plain.status, (plain.describe(), secure.describe())
    assert plain.status in (200, 404, 405), plain.describe()

    def stable(headers):
        return {k: v for k, v in headers.items() if k not in VOLATILE_HEADERS}

    assert stable(secure.headers) == stable(plain.headers), (plain.describe(), secure.describe())
    if method == "HEAD":
        assert secure.size_download == 0, secure.describe()  # (-I writes headers to -o)
        return
    assert isinstance(secure.json, dict), secure.describe()
    if path.startswith("/bench"):
        # Timing fields differ from run to run: compare everything that
        # does not also differ between two runs over plain HTTP.
        again = fetch(curl, srv.url + path, method)
        volatile = {k for k in plain.json if plain.json[k] != again.json.get(k)}
        assert secure.json.keys() == plain.json.keys(), (plain.json, secure.json)
        assert ({k: v for k, v in secure.json.items() if k not in volatile} ==
                {k: v for k, v in plain.json.items() if k not in volatile})
        assert secure.json["total_counter"] == 2000, secure.json
    else:
        assert secure.json == plain.json, (plain.describe(), secure.describe())


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_keep_alive_over_tls(tls_servers, tls_files, key_type):
    srv = tls_servers(key_type)
    url = srv.tls_url + "/healthz"
    proc = subprocess.run(["curl", "-sS", "-v", "--max-time", str(CURL_TIMEOUT_S), "--cacert",
                           str(tls_files.ca), "-o", os.devnull, "-o", os.devnull, url, url],
                          capture_output=True, text=True, timeout=CURL_TIMEOUT_S + 10)
    assert proc.returncode == 0, proc.stderr
    assert "Re-using existing connection" in proc.stderr, proc.stderr
    assert len(re.findall(r"^< HTTP/1\.1 200", proc.stderr, re.MULTILINE)) == 2, proc.stderr


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_plain_http_works_beside_an_open_tls_connection(tls_servers, tls_files, curl, key_type):
    srv = tls_servers(key_type)
    with tls_connect(srv, tls_files) as tls:
        assert http_over(tls) == (200, HEALTHY)
        plain = curl(srv.url + "/healthz")
        assert plain.status == 200 and plain.json == {"status": "ok"}, plain.describe()
        # The TLS connection was kept alive meanwhile and still serves.
        assert http_over(tls, "/")[0] == 200
        assert http_over(tls) == (200, HEALTHY)


def test_env_vars_turn_https_on(server, tls_files, curl):
    tls_port = free_port()
    srv = with_tls(server(env={"TLS_PORT": str(tls_port),
                               "TLS_CERT_FILE": str(tls_files.cert("rsa")),
                               "TLS_KEY_FILE": str(tls_files.key("rsa"))}), tls_port)
    result = https(curl, srv, tls_files, "/healthz")
    assert result.status == 200 and result.json == {"status": "ok"}, result.describe()
    assert "RSA 2048" in srv.stdout(), srv.stdout()


def test_access_log_has_client_address_and_no_socket_option_noise(server, tls_files, curl):
    srv = start_tls_server(server, tls_files, "ec", "--log-level", "debug")
    # Keep-alive and single requests, answers with and without a body.
    proc = subprocess.run(["curl", "-sS", "--max-time", str(CURL_TIMEOUT_S), "--cacert",
                           str(tls_files.ca), "-o", os.devnull, "-o", os.devnull, "-o",
                           os.devnull, srv.tls_url + "/tls-log-probe", srv.tls_url + "/",
                           srv.tls_url + "/healthz"], capture_output=True, text=True,
                          timeout=CURL_TIMEOUT_S + 10)
    assert proc.returncode == 0, proc.stderr
    assert https(curl, srv, tls_files, "/bench?threads=1&iterations=10").status == 200
    assert fetch(curl, srv.tls_url + "/", "HEAD", "--cacert", str(tls_files.ca)).status == 200
    assert curl(srv.url + "/healthz").status == 200
    srv.wait_for_log(r'access 127\.0\.0\.1 "GET /tls-log-probe" 404')
    srv.wait_for_log(r'access 127\.0\.0\.1 "GET /bench" 200')
    assert srv.stop() == 0, srv.output()
    output = srv.output()
    assert not re.search(r'access - "GET /tls-log-probe"', output), output
    noise = [line for line in output.splitlines() if NOISE.search(line)]
    assert not noise, "libmicrohttpd socket-option noise in the log:\n" + "\n".join(noise)


# --------------------------------------------------------------------------
# Protocol profile, as openssl s_client sees it

def assert_refused_by_server(rc, output):
    assert negotiated(output) == (None, None), output
    assert rc != 0, output
    # The client did offer a handshake (it did not refuse its own
    # settings), and the server answered it.
    for client_side in ["no protocols available", "no ciphers available", "no cipher match"]:
        assert client_side not in output, output
    handshake = re.search(r"SSL handshake has read (\d+) bytes and written (\d+) bytes", output)
    assert handshake and int(handshake.group(2)) > 0, output


ACCEPTED = [
    ("ec", "ECDHE-ECDSA-AES128-GCM-SHA256"),
    ("ec", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    ("ec", "ECDHE-ECDSA-CHACHA20-POLY1305"),
    ("rsa", "ECDHE-RSA-CHACHA20-POLY1305"),
    ("rsa", "ECDHE-RSA-AES128-GCM-SHA256"),
    ("rsa", "ECDHE-RSA-AES256-GCM-SHA384"),
]


@pytest.mark.parametrize("key_type, cipher", ACCEPTED, ids=[f"{k}-{c}" for k, c in ACCEPTED])
def test_ecdhe_aead_suite_accepted(tls_servers, tls_files, key_type, cipher):
    srv = tls_servers(key_type)
    rc, output = s_client(srv, tls_files, "-tls1_2", "-cipher", cipher)
    assert rc == 0, output
    assert negotiated(output) == ("TLSv1.2", cipher), output
    assert re.search(r"Verify return code: 0 \(ok\)", output), output


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_default_client_gets_tls12_ecdhe_aead(tls_servers, tls_files, key_type):
    rc, output = s_client(tls_servers(key_type), tls_files)
    assert rc == 0, output
    protocol, cipher = negotiated(output)
    assert protocol == "TLSv1.2", output
    assert re.fullmatch(r"ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)",
                        cipher), output
    assert ("ECDSA" in cipher) == (key_type == "ec"), output


REFUSED = [
    # Protocol versions. OpenSSL 3 refuses TLS 1.0/1.1 itself at the
    # default security level; level 0 makes the refusal the server's.
    ("tls1_1", ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]),
    ("tls1_0", ["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]),
    ("tls1_3-only", ["-tls1_3"]),
    # Key exchange other than ECDHE.
    ("rsa-kx", ["-tls1_2", "-cipher", "AES128-GCM-SHA256"]),
    ("rsa-kx-aes256", ["-tls1_2", "-cipher", "AES256-GCM-SHA384"]),
    ("dhe", ["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"]),
    ("dhe-chacha", ["-tls1_2", "-cipher", "DHE-RSA-CHACHA20-POLY1305"]),
    # CBC (non-AEAD) suites, even with ECDHE.
    ("ecdhe-rsa-cbc-sha256", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256"]),
    ("ecdhe-rsa-cbc-sha", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"]),
    ("ecdhe-ecdsa-cbc-sha", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"]),
    ("ecdhe-ecdsa-cbc-sha384", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA384"]),
]


@pytest.mark.parametrize("key_type", KEY_TYPES)
@pytest.mark.parametrize("args", [a for _, a in REFUSED], ids=[i for i, _ in REFUSED])
def test_refused_by_server(tls_servers, tls_files, key_type, args):
    srv = tls_servers(key_type)
    rc, output = s_client(srv, tls_files, *args)
    assert_refused_by_server(rc, output)


# --------------------------------------------------------------------------
# Hostile clients

def assert_alive(srv, files, curl, after):
    secure = https(curl, srv, files, "/healthz")
    plain = curl(srv.url + "/healthz")
    assert srv.proc.poll() is None, f"server died after {after}:\n{srv.output()}"
    assert secure.status == 200, f"after {after}: {secure.describe()}"
    assert plain.status == 200, f"after {after}: {plain.describe()}"


def hostile_plain_http(srv, files):
    with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=CLOSE_BOUND_S) as s:
        send_ignoring_reset(s, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        received, _, _ = wait_server_close(s, what="plain-HTTP connection")
    assert not received.startswith(b"HTTP/"), received


def hostile_random_bytes(srv, files, size=64 * 1024, seed=0):
    with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=CLOSE_BOUND_S) as s:
        send_ignoring_reset(s, random.Random(seed).randbytes(size))
        wait_server_close(s, what="random-bytes connection")


def hostile_truncated_hello(srv, files, hold=True):
    """The first 50 bytes of a real ClientHello; then either wait for the
    server to give up (the handshake timeout) or close at once."""
    s = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=CLOSE_BOUND_S)
    try:
        s.sendall(client_hello(files)[:50])
        if hold:
            received, _, _ = wait_server_close(s, what="truncated-ClientHello connection")
            assert b"\x16\x03\x03" not in received[:3], "got a ServerHello for half a hello"
    finally:
        s.close()


def hostile_silent(srv, files):
    """Connects and sends nothing: closed after --tls-handshake-timeout."""
    with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=CLOSE_BOUND_S) as s:
        received, _, _ = wait_server_close(s, what="silent connection")
    assert received == b"" or received[:1] == b"\x15", received  # nothing, or an alert


def hostile_abrupt_close(srv, files, reset=True):
    """Handshake done, half a request, then gone without close_notify:
    with a TCP RST (SO_LINGER 0) or a plain FIN."""
    tls = tls_connect(srv, files)
    tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: loc")
    if reset:
        rst_close(tls)
    else:
        tls.close()  # Python's close() sends no close_notify


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_hostile_clients_lose_only_their_connection(server, tls_files, curl, key_type):
    srv = start_tls_server(server, tls_files, key_type, "--tls-handshake-timeout",
                           str(SHORT_HANDSHAKE_TIMEOUT_S))
    pid = srv.pid
    for _ in range(3):  # warm-up: normal traffic on both ports
        assert_alive(srv, tls_files, curl, "warm-up")
    with tls_connect(srv, tls_files) as tls:
        assert http_over(tls)[0] == 200
    base_fds = settled(lambda: fd_count(pid))
    base_threads = settled(lambda: status_field(pid, "Threads"))
    base_listing = fd_listing(pid)
    base_rss = status_field(pid, "VmRSS")

    classes = [
        ("plain HTTP to the TLS port", lambda: hostile_plain_http(srv, tls_files)),
        ("64 KB of random bytes", lambda: hostile_random_bytes(srv, tls_files)),
        ("truncated ClientHello, held", lambda: hostile_truncated_hello(srv, tls_files)),
        ("silent client", lambda: hostile_silent(srv, tls_files)),
        ("abrupt close (RST) mid-request", lambda: hostile_abrupt_close(srv, tls_files)),
        ("abrupt close (FIN, no close_notify) mid-request",
         lambda: hostile_abrupt_close(srv, tls_files, reset=False)),
    ]
    for name, attack in classes:
        attack()
        assert_alive(srv, tls_files, curl, name)

    for i in range(50):
        hostile_plain_http(srv, tls_files)
        hostile_random_bytes(srv, tls_files, size=8 * 1024, seed=i + 1)
        hostile_truncated_hello(srv, tls_files, hold=False)
        hostile_abrupt_close(srv, tls_files, reset=True)
        hostile_abrupt_close(srv, tls_files, reset=False)
    assert_alive(srv, tls_files, curl, "50 rounds of every quick hostile client")

    wait_until(lambda: fd_count(pid) == base_fds, SETTLE_BOUND_S,
               lambda: f"fd count {fd_count(pid)} != baseline {base_fds}\nbaseline:\n"
                       f"{base_listing}\nnow:\n{fd_listing(pid)}")
    wait_until(lambda: status_field(pid, "Threads") == base_threads, SETTLE_BOUND_S,
               lambda: f"threads {status_field(pid, 'Threads')} != baseline {base_threads}")
    rss = status_field(pid, "VmRSS")
    print(f"\nhostile clients: fds {base_fds} -> {fd_count(pid)}, threads {base_threads}, "
          f"VmRSS {base_rss} kB -> {rss} kB")
    # Hundreds of connections went through; a per-connection leak of the
    # relay (25 KB, plus the HTTP side's) would show far above this. Under
    # ASan freed memory waits in its quarantine (256 MB) on purpose; there
    # LeakSanitizer, at the server's exit, is the leak check. Under qemu-user
    # the RSS is mostly the emulator's translated code, which grows with
    # every new path run; the fd and thread counts above still hold there.
    if not SANITIZER_BUILD and not EMULATED:
        assert rss - base_rss < 16 * 1024, f"VmRSS grew from {base_rss} kB to {rss} kB"
    # Clients can trigger these at will: nothing above debug level.
    loud = [line for line in srv.output().splitlines() if re.match(r"\S+ (warn|error) ", line)]
    assert not loud, "\n".join(loud)


def test_silent_client_closed_after_handshake_timeout(server, tls_files, curl):
    srv = start_tls_server(server, tls_files, "rsa", "--tls-handshake-timeout",
                           str(SHORT_HANDSHAKE_TIMEOUT_S), "--log-level", "debug")
    with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=CLOSE_BOUND_S) as s:
        wait_server_close(s, what="silent connection")
    srv.wait_for_log(r"tls connection ended: handshake timeout")
    assert_alive(srv, tls_files, curl, "a silent client")


def test_http_idle_timeout_ends_a_pending_handshake(server, tls_files):
    # libmicrohttpd closes its end of the socketpair after
    # --connection-timeout; per tls.h the relay then ends too, long before
    # the (much longer) handshake deadline. Regression: the relay used to
    # miss that hang-up before the handshake and spin on poll() until the
    # deadline (8 s of CPU in 10 s here).
    srv = start_tls_server(server, tls_files, "ec", "--connection-timeout", "1",
                           "--tls-handshake-timeout", "60")
    cpu_before = cpu_seconds(srv.pid)
    with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=CLOSE_BOUND_S) as s:
        start = time.monotonic()
        s.settimeout(0.2)
        closed = False
        while time.monotonic() - start < 10 and not closed:
            try:
                closed = s.recv(4096) == b""
            except socket.timeout:
                continue
            except ConnectionResetError:
                closed = True
    spent = cpu_seconds(srv.pid) - cpu_before
    assert closed, (f"the connection was still open 10 s after the 1 s HTTP idle timeout; "
                    f"meanwhile the server used {spent:.1f} s of CPU")
    assert spent < 2.0, f"the server used {spent:.1f} s of CPU for one idle connection"


SYS_PIDFD_GETFD = 438  # the same number on x86-64 and arm64 (asm-generic)


def peer_socket_option(pid, local_port, remote_port, level, option):
    """getsockopt() on the process's own socket for the TCP connection
    local_port <-> remote_port: found through /proc/net/tcp and
    /proc/PID/fd, then copied into this process with pidfd_getfd(2) (the
    server is a child of the test, which may do that)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            ports = (int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16))
            if ports == (local_port, remote_port):
                inode = int(fields[9])
    assert inode is not None, f"no TCP connection {local_port} <-> {remote_port}"
    fd = next(int(name) for name in os.listdir(f"/proc/{pid}/fd")
              if os.readlink(f"/proc/{pid}/fd/{name}") == f"socket:[{inode}]")
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        copy = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        assert copy >= 0, f"pidfd_getfd: {os.strerror(ctypes.get_errno())}"
    finally:
        os.close(pidfd)
    sock = socket.socket(fileno=copy)
    try:
        return sock.getsockopt(level, option)
    finally:
        sock.close()  # only the copy: the server's descriptor stays open


@pytest.mark.parametrize("args, bound_s", [
    ([], None),  # the defaults: 10 s handshake, 10 s request deadline, 30 s idle
    (["--tls-handshake-timeout", "60"], 10),
    (["--tls-handshake-timeout", "60", "--request-timeout", "60"], 30),
    (["--tls-handshake-timeout", "60", "--request-timeout", "60", "--connection-timeout", "60"],
     None),
])
def test_handshake_timeout_beyond_the_http_deadlines_is_warned(server, tls_files, args, bound_s):
    # As the test above shows, the HTTP side's deadlines end a pending
    # handshake too. A longer handshake deadline is then not in force, and
    # the connections it should have kept end with a debug line only
    # (test_tls_scale.py's 500 held connections did, on a starved server).
    srv = start_tls_server(server, tls_files, "ec", *args)
    warnings = re.findall(r"^\S+ warn (--tls-handshake-timeout .*)$", srv.stdout(), re.MULTILINE)
    if bound_s is None:
        assert warnings == [], srv.stdout()
    else:
        assert len(warnings) == 1 and warnings[0].startswith(
            f"--tls-handshake-timeout 60 has no effect beyond {bound_s} s"), srv.stdout()


def test_new_tls_connection_is_not_held_by_nagle(server, tls_files):
    """The server's ChangeCipherSpec and Finished leave in two send()
    calls; with Nagle on (no TCP_NODELAY, as it once was) the kernel holds
    the Finished back until the client's delayed ACK, a 40 ms floor under
    every handshake. The mechanism is checked, not the time (the fastest
    of ten handshakes held under 30 ms failed under ASan on a loaded
    machine): the accepted socket has TCP_NODELAY set."""
    srv = start_tls_server(server, tls_files, "ec")
    with tls_connect(srv, tls_files) as tls:
        client_port = tls.getsockname()[1]
        nodelay = peer_socket_option(srv.pid, srv.tls_port, client_port, socket.IPPROTO_TCP,
                                     socket.TCP_NODELAY)
        assert nodelay != 0, "the accepted TLS socket has Nagle's algorithm on"
        assert http_over(tls)[0] == 200


def test_max_tls_connections(server, tls_files, curl):
    srv = start_tls_server(server, tls_files, "ec", "--max-tls-connections", "3")
    held = [tls_connect(srv, tls_files) for _ in range(3)]
    try:
        for tls in held:
            assert http_over(tls)[0] == 200
        # A 4th connection is accepted by the kernel, then closed by the
        # server without any handshake reply.
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=CLOSE_BOUND_S) as s:
            send_ignoring_reset(s, client_hello(tls_files))
            received, _, _ = wait_server_close(s, what="4th TLS connection")
            assert received == b"", f"the 4th connection got a handshake reply: {received[:32]!r}"
        # Refused at info level with the client's address, and counted.
        srv.wait_for_log(r" info refused a TLS connection from 127\.0\.0\.1: 3 TLS connections "
                         r"open, the limit$")
        families = scrape(curl, srv)
        assert sample(families, "tinyserver_connections_refused",
                      reason="tls_connection_limit") == 1
        assert sample(families, "tinyserver_connections_refused", reason="per_address_limit") == 0
        plain = curl(srv.url + "/healthz")
        assert plain.status == 200, plain.describe()  # the cap is for TLS only
        for tls in held:  # the held connections are unaffected
            assert http_over(tls) == (200, HEALTHY)
    finally:
        for tls in held:
            tls.close()

    def works():
        return https(curl, srv, tls_files, "/healthz").status == 200

    wait_until(works, SETTLE_BOUND_S, lambda: "no TLS connection accepted after release")
    for _ in range(3):  # and more than one: the slots really came back
        assert works()
    again = [tls_connect(srv, tls_files) for _ in range(3)]
    try:
        for tls in again:
            assert http_over(tls)[0] == 200
    finally:
        for tls in again:
            tls.close()


# --------------------------------------------------------------------------
# Shutdown

def test_sigterm_with_idle_tls_keep_alive_connection(server, tls_files):
    # An idle connection ends at once on SIGTERM: well under a second here.
    # The grace is long, so that waiting it out (the bug this guards
    # against) would take 60 s, four times the bound, and the bound is
    # fifteen times what a loaded machine needs.
    srv = start_tls_server(server, tls_files, "rsa", "--shutdown-grace", "60")
    tls = tls_connect(srv, tls_files)
    try:
        assert http_over(tls) == (200, HEALTHY)
        start = time.monotonic()
        assert srv.stop(signal.SIGTERM) == 0, srv.output()
        elapsed = time.monotonic() - start
        assert elapsed < 15, f"took {elapsed:.1f}s to stop"
        # The client sees its connection end (close_notify or EOF).
        tls.settimeout(CLOSE_BOUND_S)
        try:
            leftover = tls.recv(4096)
        except (ssl.SSLError, ConnectionResetError):
            leftover = b""
        assert leftover == b"", leftover
    finally:
        tls.close()
    assert re.search(r"^\S+ info stopped$", srv.stdout(), re.MULTILINE), srv.stdout()
    assert "still open at exit" not in srv.output(), srv.output()


def test_sigterm_with_pending_tls_handshake(server, tls_files):
    # Regression: a relay still in its handshake missed the HTTP side
    # closing at shutdown; the server waited 2 s and logged "1 tls
    # connections still open at exit".
    srv = start_tls_server(server, tls_files, "ec")  # handshake timeout 10 s
    base_fds = settled(lambda: fd_count(srv.pid))
    with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=CLOSE_BOUND_S) as s:
        s.sendall(client_hello(tls_files)[:50])
        # Accepted and handed over: the TCP socket plus a socketpair.
        wait_until(lambda: fd_count(srv.pid) >= base_fds + 3, SETTLE_BOUND_S,
                   lambda: f"the connection was never accepted:\n{fd_listing(srv.pid)}")
        start = time.monotonic()
        assert srv.stop(signal.SIGTERM) == 0, srv.output()
        elapsed = time.monotonic() - start
    assert elapsed < 15, f"took {elapsed:.1f}s to stop"
    assert "still open at exit" not in srv.output(), srv.output()


# --------------------------------------------------------------------------
# Bad configuration

def run_server_once(args, env=None, timeout=STARTUP_TIMEOUT_S, wrapper=()):
    """Starts the binary expecting it to exit by itself (under `wrapper`, a
    command prefix, if given). Returns (CompletedProcess-like result, plain
    port, TLS port)."""
    port, tls_port = free_port(), free_port()
    while tls_port == port:
        tls_port = free_port()
    try:
        proc = subprocess.run([*wrapper, *binary_command(), "--bind", "127.0.0.1", "--port", str(port),
                               "--tls-port", str(tls_port), *args], capture_output=True,
                              text=True, env=clean_env(env), timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the server kept running with {args} {env}: {e.stdout!r} {e.stderr!r}")
    return proc, port, tls_port


def assert_nothing_served(proc, port, tls_port):
    assert not re.search(r"listening", proc.stdout), proc.stdout
    assert connection_refused(port), f"something answers on the HTTP port {port}"
    assert connection_refused(tls_port), f"something answers on the TLS port {tls_port}"


# id, cert file, key file, the file the message names ("cert", "key" or
# "both"), what the message must say (regex, case-insensitive)
BAD_FILES = [
    ("missing-cert", "missing.crt", "server-ec.key", "cert", r"no such file"),
    ("missing-key", "server-ec.crt", "missing.key", "key", r"no such file"),
    ("dir-cert", "adir", "server-ec.key", "cert", r"directory"),
    ("dir-key", "server-ec.crt", "adir", "key", r"directory"),
    ("device-key", "server-ec.crt", "/dev/null", "key", r"not a regular file|empty|no PEM"),
    ("empty-cert", "empty.pem", "server-ec.key", "cert", r"empty|no PEM"),
    ("empty-key", "server-ec.crt", "empty.pem", "key", r"empty|no PEM"),
    ("garbage-bin-cert", "garbage.bin", "server-ec.key", "cert", r"PEM"),
    ("garbage-bin-key", "server-ec.crt", "garbage.bin", "key", r"PEM"),
    ("garbage-text-cert", "garbage.txt", "server-ec.key", "cert", r"PEM"),
    ("garbage-text-key", "server-ec.crt", "garbage.txt", "key", r"PEM"),
    ("truncated-cert", "truncated-lines.crt", "server-ec.key", "cert", r"truncated"),
    ("truncated-key", "server-ec.crt", "truncated-lines.key", "key", r"truncated"),
    ("truncated-midline-cert", "truncated-midline.crt", "server-ec.key", "cert",
     r"truncated|invalid PEM"),
    ("truncated-midline-key", "server-ec.crt", "truncated-midline.key", "key",
     r"truncated|invalid PEM"),
    ("key-as-cert", "server-ec.key", "server-ec.crt", "cert", r"no CERTIFICATE"),
    ("mismatch-ec", "server-ec.crt", "other-ec.key", "both", r"does not match"),
    ("mismatch-ec-cert-rsa-key", "server-ec.crt", "server-rsa.key", "both", r"match|RSA.*EC"),
    ("mismatch-rsa-cert-ec-key", "server-rsa.crt", "server-ec.key", "both", r"match|EC.*RSA"),
    ("encrypted-pkcs8", "server-ec.crt", "enc-pkcs8.key", "key", r"encrypted"),
    ("encrypted-traditional-ec", "server-ec.crt", "enc-trad-ec.key", "key", r"encrypted"),
    ("encrypted-traditional-rsa", "server-rsa.crt", "enc-trad-rsa.key", "key", r"encrypted"),
    ("rsa-1024", "rsa1024.crt", "rsa1024.key", "key", r"2048"),
    ("ec-p384", "ec-p384.crt", "ec-p384.key", "key", r"P-256"),
]

@pytest.mark.parametrize("cert, key, names, message", [
    pytest.param(c, k, n, m, id=i) for i, c, k, n, m in BAD_FILES])
def test_bad_tls_files_exit_2_before_listening(tls_files, cert, key, names, message):
    proc, port, tls_port = run_server_once(["--tls-cert", str(tls_files[cert]),
                                            "--tls-key", str(tls_files[key])])
    assert proc.returncode == EXIT_USAGE, (proc.returncode, proc.stdout, proc.stderr)
    if names in ("cert", "both"):
        assert str(tls_files[cert]) in proc.stderr, proc.stderr
    if names in ("key", "both"):
        assert str(tls_files[key]) in proc.stderr, proc.stderr
    assert re.search(message, proc.stderr, re.IGNORECASE), proc.stderr
    assert_nothing_served(proc, port, tls_port)


# Root reads a mode-000 file through CAP_DAC_OVERRIDE (and
# CAP_DAC_READ_SEARCH). As root, the server runs without them, the way it
# runs in the images (an unprivileged user), so the key file is unreadable.
WITHOUT_FILE_OVERRIDE = ("setpriv", "--inh-caps=-dac_override,-dac_read_search",
                         "--bounding-set=-dac_override,-dac_read_search", "--")


def test_unreadable_key_exits_2(tls_files):
    wrapper = WITHOUT_FILE_OVERRIDE if os.geteuid() == 0 else ()
    if wrapper:
        try:
            probe = subprocess.run([*wrapper, "cat", str(tls_files["unreadable.key"])],
                                   capture_output=True, text=True, timeout=10)
        except FileNotFoundError:
            pytest.skip("running as root without setpriv (util-linux): the 'unreadable file' "
                        "case cannot be produced")
        if "Permission denied" not in probe.stderr:
            pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE here: the "
                        f"'unreadable file' case cannot be produced ({probe.stderr.strip()!r})")
    proc, port, tls_port = run_server_once(["--tls-cert", str(tls_files.cert("ec")),
                                            "--tls-key", str(tls_files["unreadable.key"])],
                                           wrapper=wrapper)
    assert proc.returncode == EXIT_USAGE, (proc.returncode, proc.stdout, proc.stderr)
    assert str(tls_files["unreadable.key"]) in proc.stderr, proc.stderr
    assert re.search(r"permission denied", proc.stderr, re.IGNORECASE), proc.stderr
    assert_nothing_served(proc, port, tls_port)


@pytest.mark.parametrize("which", ["cert", "key"])
@pytest.mark.parametrize("form", ["flag", "env"])
def test_cert_and_key_must_come_together(tls_files, which, form):
    path = str(tls_files.cert("ec") if which == "cert" else tls_files.key("ec"))
    if form == "flag":
        proc, port, tls_port = run_server_once([f"--tls-{which}", path])
    else:
        variable = "TLS_CERT_FILE" if which == "cert" else "TLS_KEY_FILE"
        proc, port, tls_port = run_server_once([], env={variable: path})
    assert proc.returncode == EXIT_USAGE, (proc.returncode, proc.stdout, proc.stderr)
    assert re.search(r"--tls-cert.*--tls-key|TLS_CERT_FILE.*TLS_KEY_FILE", proc.stderr), \
        proc.stderr
    assert_nothing_served(proc, port, tls_port)


def test_mixed_flag_and_env_pair_is_accepted(server, tls_files, curl):
    tls_port = free_port()
    srv = with_tls(server("--tls-port", str(tls_port), "--tls-cert", str(tls_files.cert("ec")),
                          env={"TLS_KEY_FILE": str(tls_files.key("ec"))}), tls_port)
    assert https(curl, srv, tls_files, "/healthz").status == 200


def test_tls_port_in_use_exits_1_and_stops_http(tls_files):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        tls_port = holder.getsockname()[1]
        port = free_port()
        try:
            proc = subprocess.run(
                [*binary_command(), "--bind", "127.0.0.1", "--port", str(port),
                 *tls_args(tls_files, "ec", tls_port)],
                capture_output=True, text=True, env=clean_env(), timeout=STARTUP_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"the server kept running with its TLS port in use: {e.stdout!r}")
        output = proc.stdout + proc.stderr
        assert proc.returncode == EXIT_RUNTIME_FAILURE, (proc.returncode, output)
        assert str(tls_port) in output and "in use" in output.lower(), output
        assert connection_refused(port), f"the HTTP port {port} is still served"
