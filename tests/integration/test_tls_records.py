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
"""
import socket
import ssl

import pytest

from bounds import CURL_TIMEOUT_S
from server import finish_all, server_factory
from tls import client_context, start_tls_server

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
