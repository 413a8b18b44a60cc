"""HTTP/1.1 over raw sockets, for requests curl will not send: malformed or
partial request lines, raw control bytes, pipelines, trickling clients,
chosen source addresses. Only what the hardening tests need."""
import http.client
import json
import socket
import ssl
import threading
import time
from typing import NamedTuple, Optional

IO_TIMEOUT_S = 10.0


class Response(NamedTuple):
    status: int
    headers: dict  # lower-case name -> value
    body: bytes

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def describe(self):
        return f"status={self.status} headers={self.headers} body={self.body[:300]!r}"


def connect(port, source="127.0.0.1", timeout=IO_TIMEOUT_S, tls=None):
    """A TCP connection to 127.0.0.1:port from the address `source` (any
    127.0.0.0/8 address works on loopback); with `tls` (an
    ssl.SSLContext), a TLS connection to "localhost" with the handshake
    done."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        if tls is not None:
            return tls.wrap_socket(sock, server_hostname="localhost")
    except BaseException:
        sock.close()
        raise
    return sock


def request(path="/healthz", method="GET", version="HTTP/1.1", headers=None, host="x"):
    """The bytes of one request with no body."""
    lines = [f"{method} {path} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_until_closed(sock, bound_s=IO_TIMEOUT_S):
    """Everything the server sends until it closes (or resets) the
    connection. Returns (data, closed): closed is False when bound_s
    passed with the connection still open."""
    data = b""
    deadline = time.monotonic() + bound_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False
        except (ConnectionResetError, BrokenPipeError):
            return data, True
        if not chunk:
            return data, True
        data += chunk


def exchange(port, data, source="127.0.0.1", bound_s=IO_TIMEOUT_S, tls=None):
    """Sends `data` on a new connection (over TLS with `tls`, as connect()
    does) and returns (received, closed) as read_until_closed() does. A
    reset while sending counts as closed. A server may answer and close
    before all of `data` is sent (a request line over its limits): the
    answer that came is still read."""
    with connect(port, source, tls=tls) as sock:
        try:
            sock.sendall(data)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
            pass
        return read_until_closed(sock, bound_s)


def parse_responses(data, bodiless=False):
    """Splits received bytes into responses (Content-Length framed, as all
    of tinyserver's and libmicrohttpd's are; answers to HEAD, bodiless=True,
    have no body whatever their Content-Length). A trailing partial
    response is dropped."""
    responses = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if bodiless else int(headers.get("content-length", "0"))
        if len(rest) < length:
            break
        responses.append(Response(status, headers, rest[:length]))
        data = rest[length:]
    return responses


def one_response(data) -> Optional[Response]:
    responses = parse_responses(data)
    return responses[0] if responses else None


def read_response(sock, bound_s=IO_TIMEOUT_S):
    """Reads exactly one response from a kept-alive connection (or None if
    the server closed first)."""
    data = b""
    deadline = time.monotonic() + bound_s
    while True:
        responses = parse_responses(data)
        if responses:
            return responses[0]
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return None
        if not chunk:
            return None
        data += chunk


def served_connection(port, source="127.0.0.1", tls=None, patience_s=IO_TIMEOUT_S):
    """A kept-alive connection that has had one GET /healthz answered, so
    the server has certainly accepted and counted it. The server counts a
    connection from an address until it has processed its close, and a
    connection just closed (the server fixture's readiness probe, say) may
    not be processed yet on a slow build: over --max-connections-per-ip the
    new one is then refused at accept (closed unanswered), which is retried
    until the count has caught up, as is a 503.
    Returns (socket, the response); the caller checks the response."""
    deadline = time.monotonic() + patience_s
    while True:
        sock = connect(port, source, tls=tls)
        try:
            sock.sendall(request("/healthz"))
            response = read_response(sock)
        except OSError:  # refused at accept: reset before or while reading
            response = None
        refused = response is None or response.status == 503
        if not refused or time.monotonic() > deadline:
            return sock, response
        sock.close()
        time.sleep(0.05)


class LoadClient(threading.Thread):
    """Sends requests on kept-alive connections until the server refuses
    new ones (or .stop is set). A response is either complete (and
    recorded) or it is a failure; a connection the server closed before
    answering anything is 'not served', which only the moment of shutdown
    may cause."""

    def __init__(self, port, paths):
        super().__init__(daemon=True)
        self.port = port
        self.paths = paths
        self.statuses = []
        self.partial = []  # truncated or malformed answers: never allowed
        self.not_served = 0
        self.refused = False
        self.stop = threading.Event()

    def run(self):
        conn = None
        n = 0
        while not self.refused and not self.stop.is_set():
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            path = self.paths[n % len(self.paths)]
            n += 1
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                if response.getheader("Content-Length") != str(len(body)):
                    self.partial.append((path, response.status, body[:100]))
                self.statuses.append(response.status)
                if response.will_close:
                    conn.close()
                    conn = None
            except ConnectionRefusedError:
                self.refused = True
            except http.client.IncompleteRead as error:
                self.partial.append((path, "incomplete", repr(error)))
                conn.close()
                conn = None
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.not_served += 1
                conn.close()
                conn = None
        if conn is not None:
            conn.close()
