#!/usr/bin/python3
"""Writes the seeds of fuzz_tls_records: what real TLS clients send.

usage: make_tls_seeds.py TLS_TRANSCRIPT CERT_DIR OUT_DIR

For each server key (EC P-256, RSA 2048) and each client profile:
  - the ClientHello alone;
  - a whole session recorded against tls_transcript (the fuzzer's own
    engine behind a pipe): handshake, one encrypted HTTP request and its
    answer, close_notify. The engine is deterministic, so the recording is
    replayed, flight by flight and then in one piece as the fuzzer feeds
    it, and must get the same answers byte for byte both times: inside the
    fuzzer it then runs to its end as well.
Python's ssl module (OpenSSL) is the client. A seed is one byte naming the
key (0 EC, 1 RSA) followed by the client's bytes.
"""
import ssl
import struct
import subprocess
import sys
from pathlib import Path

KEYS = {"ec": 0, "rsa": 1}
# Suites per key type, as src/tls/tls_engine.c enables them, plus a client
# that offers everything its OpenSSL has (the server then picks).
PROFILES = {
    "ec": ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
           "ECDHE-ECDSA-CHACHA20-POLY1305", None],
    "rsa": ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
            "ECDHE-RSA-CHACHA20-POLY1305", None],
}
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"


def client(cipher):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if cipher:
        ctx.set_ciphers(cipher)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    return ctx.wrap_bio(incoming, outgoing, server_hostname="localhost"), incoming, outgoing


class Transcript:
    """tls_transcript behind length-prefixed frames."""

    def __init__(self, tool, cert_dir, key):
        self.proc = subprocess.Popen([tool, cert_dir, key], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)

    def send(self, data):
        self.proc.stdin.write(struct.pack(">I", len(data)) + data)
        self.proc.stdin.flush()
        (length,) = struct.unpack(">I", self.proc.stdout.read(4))
        return self.proc.stdout.read(length)

    def close(self):
        self.proc.stdin.write(struct.pack(">I", 0))
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0, "tls_transcript failed"


def step(action):
    """Runs an SSLObject call; False while it waits for the peer."""
    try:
        action()
        return True
    except ssl.SSLWantReadError:
        return False


def record_session(tool, cert_dir, key, cipher):
    """Returns (client bytes, server bytes per client flight)."""
    tls, incoming, outgoing = client(cipher)
    server = Transcript(tool, cert_dir, key)
    sent, answers = [], []

    def exchange():
        data = outgoing.read()
        if data:
            sent.append(data)
            answer = server.send(data)
            answers.append(answer)
            incoming.write(answer)

    while not step(tls.do_handshake):
        exchange()
    exchange()  # nothing left normally; kept for symmetry
    assert tls.version() == "TLSv1.2", tls.version()
    tls.write(REQUEST)
    exchange()
    reply = tls.read(4096)
    assert reply.startswith(b"HTTP/1.1 200"), reply
    step(tls.unwrap)
    exchange()
    server.close()
    return sent, answers


def replay(tool, cert_dir, key, sent):
    server = Transcript(tool, cert_dir, key)
    answers = [server.send(data) for data in sent]
    server.close()
    return answers


def main():
    tool, cert_dir, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for key, prefix in KEYS.items():
        for cipher in PROFILES[key]:
            name = f"{key}-{(cipher or 'any').lower()}"
            tls, _, outgoing = client(cipher)
            step(tls.do_handshake)
            (out / f"hello-{name}").write_bytes(bytes([prefix]) + outgoing.read())
            sent, answers = record_session(tool, cert_dir, key, cipher)
            assert replay(tool, cert_dir, key, sent) == answers, f"{name}: not deterministic"
            # The fuzzer feeds a seed in one piece: that must replay too.
            whole = b"".join(sent)
            assert replay(tool, cert_dir, key, [whole]) == [b"".join(answers)], (
                f"{name}: the session does not replay in one piece")
            (out / f"session-{name}").write_bytes(bytes([prefix]) + b"".join(sent))
            count += 2
    print(f"make_tls_seeds: {count} seeds in {out}")


if __name__ == "__main__":
    main()
