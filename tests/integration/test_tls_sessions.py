"""TLS session resumption and ALPN (issue 14).

  - one session cache shared by every connection: `openssl s_client
    -reconnect` resumes after its first handshake, Python's ssl resumes a
    saved session on a new connection, and /metrics counts full and resumed
    handshakes; --tls-session-cache 0 turns resumption off; a cache of one
    entry keeps only the most recent session (least recently used evicted);
  - a refusal at --max-tls-connections is counted in /metrics and logged;
  - ALPN: "http/1.1" is selected for a client that offers it, and a client
    that offers nothing, or only a protocol the server does not speak, is
    served without ALPN.
"""
import re
import socket

from bounds import CLOSE_BOUND_S
from server import HEALTHY
from tls import client_context, http_over, s_client, start_tls_server

RECONNECTS = 5  # s_client -reconnect connects once, then five more times


def handshakes(curl, srv):
    """(full, resumed) from tinyserver_tls_handshakes_total."""
    result = curl(srv.url + "/metrics")
    assert result.status == 200, result.describe()
    counts = {}
    for kind in ("full", "resumed"):
        match = re.search(rf'^tinyserver_tls_handshakes_total{{kind="{kind}"}} (\d+)$',
                          result.body.decode(), re.MULTILINE)
        assert match, f"no {kind} handshake count in /metrics:\n{result.body.decode()}"
        counts[kind] = int(match.group(1))
    return counts["full"], counts["resumed"]


def session_lines(output):
    return re.findall(r"^(New|Reused), TLSv1\.2", output, re.MULTILINE)


def connect(srv, context, session=None):
    """A verified TLS connection; resumes `session` (made with the same
    context, as Python's ssl requires) when given."""
    raw = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=CLOSE_BOUND_S)
    try:
        return context.wrap_socket(raw, server_hostname="localhost", session=session)
    except BaseException:
        raw.close()
        raise


def alpn_context(files, alpn):
    context = client_context(files)
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    return context


def session_after_request(srv, context, session=None):
    """Connects (resuming `session` if given), makes one request, and
    returns (the connection's session, whether it was resumed)."""
    with connect(srv, context, session) as tls:
        assert http_over(tls) == (200, HEALTHY)
        return tls.session, tls.session_reused


def test_reconnect_resumes_and_is_counted(server, tls_files, curl):
    srv = start_tls_server(server, tls_files, "ec")
    full_before, resumed_before = handshakes(curl, srv)
    rc, output = s_client(srv, tls_files, "-reconnect")
    assert rc == 0, output
    assert session_lines(output) == ["New"] + ["Reused"] * RECONNECTS, output
    full, resumed = handshakes(curl, srv)
    assert (full - full_before, resumed - resumed_before) == (1, RECONNECTS)


def test_resumed_connection_serves_requests(server, tls_files, curl):
    srv = start_tls_server(server, tls_files, "rsa")
    context = client_context(tls_files)
    session, reused = session_after_request(srv, context)
    assert not reused
    # Several connections resume the same session; each is served.
    for _ in range(3):
        again, reused = session_after_request(srv, context, session)
        assert reused
        assert again.id == session.id
    assert handshakes(curl, srv) == (1, 3)


def test_session_cache_off(server, tls_files, curl):
    srv = start_tls_server(server, tls_files, "ec", "--tls-session-cache", "0")
    rc, output = s_client(srv, tls_files, "-reconnect")
    assert rc == 0, output
    assert session_lines(output) == ["New"] * (1 + RECONNECTS), output
    assert handshakes(curl, srv) == (1 + RECONNECTS, 0)


def test_full_cache_evicts_the_least_recently_used(server, tls_files, curl):
    srv = start_tls_server(server, tls_files, "ec", "--tls-session-cache", "1")
    context = client_context(tls_files)
    first, _ = session_after_request(srv, context)
    second, _ = session_after_request(srv, context)  # takes the one entry
    _, reused = session_after_request(srv, context, first)
    assert not reused, "a cache of one entry still held the older session"
    # That full handshake stored a third session, evicting the second.
    latest, reused = session_after_request(srv, context, second)
    assert not reused, "the second session outlived a newer one in a cache of one"
    _, reused = session_after_request(srv, context, latest)
    assert reused, "the most recent session was not kept"
    assert handshakes(curl, srv) == (4, 1)


def alpn_line(output):
    match = re.search(r"^(ALPN protocol: \S+|No ALPN negotiated)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def test_alpn_http11_selected_when_asked(server, tls_files):
    srv = start_tls_server(server, tls_files, "ec")
    rc, output = s_client(srv, tls_files, "-alpn", "http/1.1")
    assert rc == 0, output
    assert alpn_line(output) == "ALPN protocol: http/1.1", output
    # Offered among others (as browsers do), http/1.1 is chosen and serves.
    with connect(srv, alpn_context(tls_files, ["h2", "http/1.1"])) as tls:
        assert tls.selected_alpn_protocol() == "http/1.1"
        assert http_over(tls) == (200, HEALTHY)


def test_alpn_ignored_when_not_asked_or_not_matching(server, tls_files):
    srv = start_tls_server(server, tls_files, "rsa")
    for args in ([], ["-alpn", "h2"]):
        rc, output = s_client(srv, tls_files, *args)
        assert rc == 0, output
        assert alpn_line(output) == "No ALPN negotiated", output
    for alpn in (None, ["h2"]):
        with connect(srv, alpn_context(tls_files, alpn)) as tls:
            assert tls.selected_alpn_protocol() is None
            assert http_over(tls) == (200, HEALTHY)


def refused_at_tls_limit(curl, srv):
    result = curl(srv.url + "/metrics")
    assert result.status == 200, result.describe()
    match = re.search(r'^tinyserver_connections_refused_total\{reason="tls_connection_limit"\} (\d+)$',
                      result.body.decode(), re.MULTILINE)
    assert match, result.body.decode()
    return int(match.group(1))


def test_refusal_at_the_connection_cap_is_counted(server, tls_files, curl):
    srv = start_tls_server(server, tls_files, "ec", "--max-tls-connections", "1")
    context = client_context(tls_files)
    with connect(srv, context) as held:
        assert http_over(held) == (200, HEALTHY)
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=CLOSE_BOUND_S) as s:
            s.settimeout(CLOSE_BOUND_S)
            assert s.recv(1) == b"", "the connection beyond the cap was not closed"
        assert refused_at_tls_limit(curl, srv) == 1
        assert http_over(held) == (200, HEALTHY)  # the held one keeps being served
    srv.wait_for_log(r"refused a TLS connection from 127\.0\.0\.1: 1 TLS connections open")
