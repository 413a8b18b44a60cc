"""TLS records of every size, split across a response (issue 26, finding 2).

The relay's engine has an input buffer for the client's records and an
output buffer for its own. BearSSL 0.6's br_ssl_engine_set_buffer(..., 1)
put the output half at buf + its own length, inside the input half, so a
response written while a long client record was half received overwrote
that record: BearSSL failed its MAC and the connection died unanswered.

A client here, over memory BIOs so that it decides where its records are
cut, sends on one keep-alive connection request 1 and, at once, all but the
last bytes of request 2's record; reads response 1 (written meanwhile into
the output buffer); then sends the rest of the record and must get
response 2. Request 2 is one record, from a few hundred bytes to the
largest a client may send (16 KiB of plaintext).

Lingering close (finding 4): once its close_notify is out, the relay shuts
down its sending side and keeps reading (and dropping) what the client
sends, until the client closes or TLS_LINGER_MS (2 s) pass. It used to
close at once, with the client's upload unread, so the kernel reset the
connection, and the reset could destroy an early 413 before the client read
it (curl exit 55, 4 runs in 30).
"""
import os
import socket
import ssl
import time

import pytest

from bounds import CURL_TIMEOUT_S
from curl import assert_json_error
from server import finish_all, server_factory
from tls import client_context, https, start_tls_server

# Request 2's record sizes (plaintext bytes): small, either side of the
# output half's size (4,181 bytes) and of twice it, and the 16 KiB maximum.
RECORD_SIZES = [300, 2048, 4000, 4300, 7680, 8500, 12000, 16384]
HELD_BACK = 20  # bytes of request 2's record sent only after response 1


class RecordClient:
    """A TLS client whose records are the bytes of one write each."""

    def __init__(self, port, files):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=CURL_TIMEOUT_S)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = client_context(files).wrap_bio(self.incoming, self.outgoing,
                                                  server_hostname="localhost")
        self.plain = b""
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(self.outgoing.read())
                self._receive()
        self.sock.sendall(self.outgoing.read())

    def _receive(self):
        data = self.sock.recv(65536)
        assert data, "the server closed the connection"
        self.incoming.write(data)

    def record(self, plaintext):
        """The bytes of `plaintext` as one record (at most 16 KiB)."""
        assert len(plaintext) <= 16384
        self.tls.write(plaintext)
        return self.outgoing.read()

    def response(self):
        """One whole HTTP response (Content-Length framed): status, body."""
        while True:
            head, sep, rest = self.plain.partition(b"\r\n\r\n")
            if sep:
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                if len(rest) >= length:
                    self.plain = rest[length:]
                    return int(head.split(b" ", 2)[1]), rest[:length]
            try:
                self.plain += self.tls.read(65536)
            except ssl.SSLWantReadError:
                self._receive()

    def close(self):
        self.sock.close()


def request_of_size(size):
    """A GET /healthz of exactly `size` bytes, padded with a header."""
    head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Pad: "
    tail = b"\r\n\r\n"
    assert size >= len(head) + len(tail)
    return head + b"p" * (size - len(head) - len(tail)) + tail


@pytest.fixture(scope="module")
def records_server(tmp_path_factory, tls_files):
    start, started = server_factory(tmp_path_factory.mktemp("tls-records"))
    yield start_tls_server(start, tls_files, "ec")
    finish_all(started)


@pytest.mark.parametrize("size", RECORD_SIZES)
def test_a_record_split_across_a_response_survives(records_server, tls_files, size):
    client = RecordClient(records_server.tls_port, tls_files)
    try:
        first = client.record(request_of_size(200))
        second = client.record(request_of_size(size))
        client.sock.sendall(first + second[:-HELD_BACK])
        assert client.response() == (200, b'{"status":"ok"}\n')
        client.sock.sendall(second[-HELD_BACK:])
        assert client.response() == (200, b'{"status":"ok"}\n')
    finally:
        client.close()


# A body announced far larger than anything the relay or the HTTP side
# would buffer: the 413 comes while the client is still sending.
UPLOAD_HEAD = (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000\r\n"
               b"\r\n")
# What the client sends after the end of the stream; the relay must take
# it. Sent in pieces, the last one well inside TLS_LINGER_MS (2 s).
LATE_PIECES = 3
LATE_PAUSE_S = 0.05


def test_after_close_notify_the_relay_stops_sending_and_keeps_reading(records_server, tls_files):
    client = RecordClient(records_server.tls_port, tls_files)
    try:
        client.sock.sendall(client.record(UPLOAD_HEAD) + client.record(b"x" * 16384))
        status, _ = client.response()
        assert status == 413
        # The end of the stream (close_notify, then the FIN of the relay's
        # shutdown), not a reset.
        while client.sock.recv(65536):
            pass
        # The relay still reads: what the client sends now is taken in,
        # never answered with a reset (which makes the next send fail).
        for _ in range(LATE_PIECES):
            client.sock.sendall(b"y" * 16384)
            time.sleep(LATE_PAUSE_S)
        client.sock.shutdown(socket.SHUT_WR)
        assert client.sock.recv(1) == b""
    finally:
        client.close()


UPLOAD_TRIES = 10
UPLOAD_BYTES = 1024 * 1024


def test_an_early_413_over_https_reaches_curl_every_time(records_server, tls_files, curl,
                                                        tmp_path):
    body = tmp_path / "body"
    body.write_bytes(os.urandom(UPLOAD_BYTES))
    for attempt in range(UPLOAD_TRIES):
        result = https(curl, records_server, tls_files, "/bench", "-X", "GET", "--data-binary",
                       f"@{body}")
        assert result.status == 413, f"try {attempt}: {result.describe()}"
        assert_json_error(result, 413)
