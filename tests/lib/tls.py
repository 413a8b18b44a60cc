"""TLS for the tests: the certificates of certs/generate.sh plus broken key
material crafted with openssl, servers with HTTPS on, and clients (Python's
ssl, curl, openssl s_client) that talk to them."""
import json
import random
import re
import socket
import ssl
import subprocess

import pytest

from bounds import CLOSE_BOUND_S, OPENSSL_TIMEOUT_S
from net import free_port
from repo import REPO


class TlsFiles:
    """The generated certificates plus the broken files, in one directory."""

    def __init__(self, directory):
        self.dir = directory

    def __getitem__(self, name):
        return self.dir / name

    @property
    def ca(self):
        return self.dir / "ca.crt"

    def cert(self, key_type):
        return self.dir / f"server-{key_type}.crt"

    def key(self, key_type):
        return self.dir / f"server-{key_type}.key"


def openssl(*args, cwd):
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"openssl {' '.join(args)} failed:\n{proc.stderr}"


def self_signed(directory, name, *keygen):
    openssl("genpkey", *keygen, "-out", f"{name}.key", cwd=directory)
    openssl("req", "-x509", "-new", "-key", f"{name}.key", "-subj", "/CN=localhost", "-days", "2",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-out", f"{name}.crt",
            cwd=directory)


def first_lines(path, count):
    return "".join(path.read_text().splitlines(keepends=True)[:count])


def make_tls_files(d):
    """Runs certs/generate.sh into the directory d and adds the broken files
    the tests feed the server; returns them as TlsFiles."""
    gen = subprocess.run([str(REPO / "certs" / "generate.sh"), str(d)], capture_output=True,
                         text=True, timeout=300)
    assert gen.returncode == 0, f"certs/generate.sh failed:\n{gen.stdout}\n{gen.stderr}"
    files = TlsFiles(d)
    for name in ["ca.crt", "server.crt", "server.key", "server-ec.crt", "server-ec.key",
                 "server-rsa.crt", "server-rsa.key"]:
        assert files[name].is_file(), f"generate.sh did not write {name}"

    # A valid P-256 key that belongs to no certificate here.
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", "other-ec.key", cwd=d)
    # Encrypted keys: PKCS#8 ("ENCRYPTED PRIVATE KEY") and traditional PEM
    # ("Proc-Type: 4,ENCRYPTED" headers), for both key types.
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes256",
            "-pass", "pass:x", "-out", "enc-pkcs8.key", cwd=d)
    openssl("ec", "-in", "server-ec.key", "-aes256", "-passout", "pass:x",
            "-out", "enc-trad-ec.key", cwd=d)
    openssl("rsa", "-in", "server-rsa.key", "-traditional", "-aes256", "-passout", "pass:x",
            "-out", "enc-trad-rsa.key", cwd=d)
    assert "ENCRYPTED PRIVATE KEY" in files["enc-pkcs8.key"].read_text()
    for name in ["enc-trad-ec.key", "enc-trad-rsa.key"]:
        assert "Proc-Type: 4,ENCRYPTED" in files[name].read_text(), name
    # Key types the server must refuse.
    self_signed(d, "rsa1024", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024")
    self_signed(d, "ec-p384", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384")
    # Broken files.
    files["empty.pem"].write_bytes(b"")
    files["garbage.bin"].write_bytes(random.Random(4).randbytes(4096))
    files["garbage.txt"].write_text("this is not a PEM file\n" * 20)
    cert_text = files.cert("ec").read_text()
    key_text = files.key("ec").read_text()
    files["truncated-lines.crt"].write_text(first_lines(files.cert("ec"), 5))  # no END line
    files["truncated-lines.key"].write_text(first_lines(files.key("ec"), 2))
    files["truncated-midline.crt"].write_text(cert_text[:len(cert_text) // 2])
    files["truncated-midline.key"].write_text(key_text[:len(key_text) // 2])
    files["adir"].mkdir()
    files["unreadable.key"].write_text(key_text)
    files["unreadable.key"].chmod(0)
    return files


def tls_args(files, key_type, tls_port):
    return ["--tls-port", str(tls_port), "--tls-cert", str(files.cert(key_type)),
            "--tls-key", str(files.key(key_type))]


def with_tls(srv, tls_port):
    """Marks a started Server as serving HTTPS on tls_port and waits until
    the TLS listener is up (it starts after the HTTP daemon is healthy)."""
    srv.tls_port = tls_port
    srv.tls_url = f"https://127.0.0.1:{tls_port}"
    srv.wait_for_log(rf"https listening on 127\.0\.0\.1:{tls_port}\b")
    return srv


def start_tls_server(factory, files, key_type="ec", *extra, env=None, binary=None):
    tls_port = free_port()
    srv = factory(*tls_args(files, key_type, tls_port), *extra, env=env, binary=binary)
    return with_tls(srv, tls_port)


def https(curl, srv, files, path, *extra):
    return curl(srv.tls_url + path, "--cacert", str(files.ca), *extra)


def client_context(files):
    return ssl.create_default_context(cafile=str(files.ca))


def tls_connect(srv, files, timeout=CLOSE_BOUND_S):
    """A TLS connection with the handshake done (certificate verified)."""
    raw = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=timeout)
    try:
        return client_context(files).wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


def client_hello(files):
    """The bytes of a real ClientHello (Python's default client), captured
    without a network through memory BIOs."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context(files).wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = outgoing.read()
    assert hello[:1] == b"\x16" and len(hello) > 100, hello[:16]
    return hello


def http_over(sock, path="/healthz", keep_alive=True):
    """One GET on an established (TLS or plain) socket; returns (status,
    parsed JSON body). Reads exactly one response (Content-Length framed)."""
    connection = "keep-alive" if keep_alive else "close"
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: {connection}\r\n\r\n"
                 .encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-body: {data!r}"
        body += chunk
    return int(head.split()[1]), json.loads(body)


def s_client(srv, files, *args):
    """(exit status, output) of `openssl s_client` against srv's TLS port.
    Its input is empty, so it ends once it has connected (each time, with
    -reconnect)."""
    proc = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.tls_port}",
                           "-servername", "localhost", "-CAfile", str(files.ca), *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=OPENSSL_TIMEOUT_S)
    return proc.returncode, proc.stdout + proc.stderr


def negotiated(output):
    """(protocol, cipher) from the SSL-Session block, or (None, None)."""
    match = re.search(r"^New, (\S+), Cipher is (\S+)", output, re.MULTILINE)
    if not match or match.group(2) == "(NONE)":
        return None, None
    protocol = re.search(r"^\s+Protocol\s*:\s*(\S+)", output, re.MULTILINE)
    cipher = re.search(r"^\s+Cipher\s*:\s*(\S+)", output, re.MULTILINE)
    return (protocol.group(1) if protocol else match.group(1),
            cipher.group(1) if cipher else match.group(2))
