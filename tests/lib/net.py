"""Loopback sockets: free ports, whether a port is served, and clients that
misbehave (reset, hang, keep sending)."""
import socket
import struct
import time

import pytest

from bounds import CLOSE_BOUND_S


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on at the moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connection_refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def wait_server_close(sock, bound_s=CLOSE_BOUND_S, what="connection"):
    """Reads (and keeps) whatever the server sends until it closes the
    connection. Returns (bytes received, "eof" or "reset", seconds)."""
    start = time.monotonic()
    deadline = start + bound_s
    received = b""
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return received, "reset", time.monotonic() - start
        if not chunk:
            return received, "eof", time.monotonic() - start
        received += chunk
    pytest.fail(f"the server did not close the {what} within {bound_s}s "
                f"(received {received[:64]!r})")


def send_ignoring_reset(sock, data):
    """The server may close (and reset) while we are still sending."""
    try:
        sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        pass


def rst_close(sock):
    """Closes with a TCP RST instead of a FIN (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
