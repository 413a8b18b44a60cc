"""The odd but possible HTTP/1.x requests the hardening tests send raw
(integration/test_protocol.py), each with the answer it must get.
docs/reliability.md's RFC table names these cases, and
docs/test_docs.py checks that every case it names is here."""
import rawhttp

CLOSE = {"Connection": "close"}


def req(target="/healthz", method="GET", version="HTTP/1.1", headers=None, host="x"):
    return rawhttp.request(target, method, version, {**CLOSE, **(headers or {})}, host)


def raw(line, *header_lines):
    return (line + b"\r\nHost: x\r\nConnection: close\r\n" + b"".join(
        h + b"\r\n" for h in header_lines) + b"\r\n")


# (id, bytes sent, expected status or None for "closed without an answer",
#  who answers: "json" (tinyserver) or "mhd" (libmicrohttpd, then closes))
CASES = [
    # Protocol versions
    ("http-1.0", req(version="HTTP/1.0", host=None), 200, "json"),
    ("http-1.1-without-host", req(host=None), 400, "mhd"),  # RFC 9112 3.2: MUST be 400
    ("two-host-headers", raw(b"GET /healthz HTTP/1.1", b"Host: y"), 400, "mhd"),
    # RFC 9112 3.2: 400 for an invalid Host (RFC 3986 authority syntax).
    ("host-with-space", req(host="a b"), 400, "json"),
    ("host-list", req(host="x, y"), 400, "json"),
    ("host-unclosed-ipv6", req(host="[::1"), 400, "json"),
    ("host-bad-port", req(host="x:80a"), 400, "json"),
    ("host-with-path", req(host="x/y"), 400, "json"),
    ("host-with-userinfo", req(host="u@x"), 400, "json"),
    ("host-invalid-with-absolute-form", req("http://h/healthz", host="a b"), 400, "json"),
    ("host-invalid-in-http-1.0", req(version="HTTP/1.0", host="a b"), 400, "json"),
    ("host-empty", req(host=""), 200, "json"),  # a target without authority
    ("host-ipv6-port", req(host="[::1]:8080"), 200, "json"),
    ("host-ipv4-port", req(host="127.0.0.1:3000"), 200, "json"),
    ("host-name-port", req(host="example.com:8080"), 200, "json"),
    ("http-1.2-is-served-as-1.1", req(version="HTTP/1.2"), 200, "json"),  # RFC 9110 2.5
    ("http-2.0-version", req(version="HTTP/2.0"), 505, "mhd"),
    ("http-0.9-request-line", b"GET /healthz\r\n\r\n", 400, "mhd"),
    ("lower-case-version", req(version="http/1.1"), 400, "mhd"),
    # Request-target forms (RFC 9112 3.2)
    ("absolute-form", req("http://127.0.0.1/healthz"), 200, "json"),
    ("absolute-form-other-host", req("http://example.com:8080/healthz"), 200, "json"),
    ("absolute-form-https-upper-case", req("HTTPS://h/healthz"), 200, "json"),
    ("absolute-form-empty-path", req("http://h"), 200, "json"),  # the path is "/"
    ("absolute-form-other-scheme", req("ftp://h/healthz"), 404, "json"),
    ("asterisk-form", req("*", "OPTIONS"), 200, "json"),  # RFC 9110 9.3.7: the whole server
    ("asterisk-form-not-options", req("*", "GET"), 400, "json"),  # RFC 9112 3.2.4
    ("authority-form-connect", req("example.com:443", "CONNECT"), 404, "json"),
    ("origin-form-without-slash", req("healthz"), 404, "json"),
    # Methods
    ("head", req(method="HEAD"), 200, "json"),
    ("trace-is-not-echoed", req(method="TRACE", headers={"Cookie": "s3cret"}), 405, "json"),
    ("connect-on-a-route", req(method="CONNECT"), 405, "json"),
    ("options", req(method="OPTIONS"), 405, "json"),
    # RFC 9110 9.1: 501 for a method the server does not know; 405 (with
    # Allow) only for a known one the resource does not allow.
    ("unknown-method", req(method="FOO"), 501, "json"),
    ("unknown-method-unknown-path", req("/nope", method="FOO"), 501, "json"),
    ("lower-case-method", req(method="get"), 501, "json"),  # methods are case-sensitive
    ("5000-byte-method", req(method="A" * 5000), 501, "json"),
    # RFC 9112 3: a method longer than any implemented is 501, even one
    # longer than the connection's memory (answered, not left hanging).
    ("40000-byte-method", req(method="A" * 40_000), 501, "mhd"),
    ("40000-bytes-without-a-space", b"x" * 40_000, 501, "mhd"),
    ("40000-byte-target-unknown-method", req("/" + "a" * 40_000, method="FOO"), 414, "mhd"),
    ("40000-byte-version", req(version="HTTP/1." + "1" * 40_000), 400, "mhd"),
    # Control bytes and NUL in the path or the query
    ("raw-nul-in-path", raw(b"GET /heal\x00thz HTTP/1.1"), None, "mhd"),
    ("raw-nul-in-query", raw(b"GET /bench?threads=1\x00 HTTP/1.1"), None, "mhd"),
    ("encoded-nul-in-path", req("/healthz%00"), 400, "mhd"),
    ("encoded-nul-in-query", req("/bench?threads=1%00"), 400, "json"),
    ("encoded-nul-in-query-name", req("/bench?thr%00eads=1"), 400, "json"),
    # RFC 9112 3.2: the target is visible US-ASCII only; anything else is
    # an invalid request line: 400 (and close).
    ("raw-0x01-in-path", raw(b"GET /heal\x01thz HTTP/1.1"), 400, "json"),
    ("raw-0x7f-in-path", raw(b"GET /heal\x7fthz HTTP/1.1"), 400, "json"),
    ("raw-0xff-in-path", raw(b"GET /heal\xffthz HTTP/1.1"), 400, "json"),
    ("raw-0x01-in-query", raw(b"GET /bench?threads=\x01 HTTP/1.1"), 400, "json"),
    ("encoded-0x01-in-path", req("/heal%01thz"), 404, "json"),
    ("raw-cr-in-path", raw(b"GET /a\rb HTTP/1.1"), 400, "mhd"),
    ("raw-lf-in-path", raw(b"GET /a\nb HTTP/1.1"), 400, "mhd"),
    # RFC 9112 3.2: whitespace in the target is an invalid request line:
    # 400, never a redirect to the escaped target.
    ("raw-tab-in-path", raw(b"GET /heal\tthz HTTP/1.1"), 400, "json"),
    ("raw-space-in-path", raw(b"GET /heal thz HTTP/1.1"), 400, "mhd"),
    ("two-spaces-before-target", raw(b"GET  /healthz HTTP/1.1"), 400, "mhd"),
    ("two-spaces-before-version", raw(b"GET /healthz  HTTP/1.1"), 400, "mhd"),
    ("tab-as-separator", raw(b"GET\t/healthz\tHTTP/1.1"), 400, "mhd"),
    ("space-after-version", raw(b"GET /healthz HTTP/1.1 "), 400, "mhd"),
    ("invalid-percent-escape", req("/healthz%zz"), 400, "mhd"),
    ("nul-in-header-value", raw(b"GET /healthz HTTP/1.1", b"X-A: a\x00b"), 400, "mhd"),
    ("bare-cr-in-header", raw(b"GET /healthz HTTP/1.1", b"X-A: a\rb"), 400, "mhd"),
    ("header-without-colon", raw(b"GET /healthz HTTP/1.1", b"bogus"), 400, "mhd"),
    ("0x01-in-header-value", raw(b"GET /healthz HTTP/1.1", b"X-A: a\x01b"), 200, "json"),
    # Paths with dot segments: routes match exactly, nothing is normalised
    # and no file is ever read, so none of these can reach anything.
    ("dot-dot", req("/../healthz"), 404, "json"),
    ("dot-dot-inside", req("/x/../healthz"), 404, "json"),
    ("encoded-dot-dot", req("/%2e%2e/%2e%2e/etc/passwd"), 404, "json"),
    ("dot", req("/./healthz"), 404, "json"),
    ("encoded-slash", req("/%2fhealthz"), 404, "json"),
    ("percent-encoded-letter", req("/%68ealthz"), 200, "json"),  # decodes to /healthz
    ("trailing-slash", req("/healthz/"), 404, "json"),
    # Framing
    # RFC 9112 2.2 lets a server take a bare LF as a line end, or not; this
    # one does not (client discipline level 1): 400.
    ("bare-lf-line-ends", b"GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n", 400, "mhd"),
    ("one-empty-line-before-request", b"\r\n" + req(), 200, "json"),  # RFC 9112 2.2
    ("two-empty-lines-before-request", b"\r\n\r\n" + req(), None, "mhd"),  # one is enough
    ("obs-fold", raw(b"GET /healthz HTTP/1.1", b"X-A: a", b" b"), 400, "mhd"),  # RFC 9112 5.2
    ("whitespace-before-colon", raw(b"GET /healthz HTTP/1.1", b"X-A : a"), 400, "mhd"),  # 5.1
    ("whitespace-before-first-field", b"GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n", 400, "mhd"),
    # RFC 9112 6.3: Transfer-Encoding with Content-Length is 400 and close.
    ("content-length-and-chunked", raw(b"GET /healthz HTTP/1.1", b"Content-Length: 5",
                                       b"Transfer-Encoding: chunked"), 400, "mhd"),
    ("two-content-lengths", raw(b"GET /healthz HTTP/1.1", b"Content-Length: 0",
                                b"Content-Length: 0"), 400, "mhd"),
    ("content-length-list", raw(b"GET /healthz HTTP/1.1", b"Content-Length: 0, 0"), 400, "mhd"),
    # RFC 9112 6.3: chunked not the final coding: 400 and close. 6.1: a
    # coding not understood, before chunked: 501.
    ("chunked-then-gzip", raw(b"GET /healthz HTTP/1.1", b"Transfer-Encoding: chunked, gzip"),
     400, "mhd"),
    ("gzip-then-chunked", raw(b"GET /healthz HTTP/1.1", b"Transfer-Encoding: gzip, chunked"),
     501, "mhd"),
    ("chunked-twice", raw(b"GET /healthz HTTP/1.1", b"Transfer-Encoding: chunked",
                          b"Transfer-Encoding: chunked"), 400, "mhd"),
    ("transfer-encoding-in-http-1.0", b"GET /healthz HTTP/1.0\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n0\r\n\r\n", 400, "mhd"),  # RFC 9112 6.1
    # An empty chunked body is no body: served, not 413.
    ("empty-chunked-body", raw(b"GET /healthz HTTP/1.1", b"Transfer-Encoding: chunked")
     + b"0\r\n\r\n", 200, "json"),
    ("empty-chunked-body-with-trailer", raw(b"GET /healthz HTTP/1.1",
                                            b"Transfer-Encoding: chunked")
     + b"0\r\nX-T: 1\r\n\r\n", 200, "json"),
    ("chunked-body-unknown-path", raw(b"GET /nope HTTP/1.1", b"Transfer-Encoding: chunked")
     + b"5\r\nhello\r\n0\r\n\r\n", 404, "json"),
    ("chunked-body-unknown-method", raw(b"FOO /healthz HTTP/1.1", b"Transfer-Encoding: chunked")
     + b"5\r\nhello\r\n0\r\n\r\n", 501, "json"),
    ("empty-chunked-body-with-extension", raw(b"GET /healthz HTTP/1.1",
                                              b"Transfer-Encoding: chunked")
     + b"0;name=value\r\n\r\n", 200, "json"),  # RFC 9112 7.1.1: extensions are ignored
    ("malformed-chunk-size", raw(b"GET /healthz HTTP/1.1", b"Transfer-Encoding: chunked")
     + b"zz\r\n", 400, "mhd"),  # RFC 9112 7.1
    ("invalid-content-length", raw(b"GET /healthz HTTP/1.1", b"Content-Length: abc"), 400, "mhd"),
    ("negative-content-length", raw(b"GET /healthz HTTP/1.1", b"Content-Length: -1"), 400, "mhd"),
    ("huge-content-length", raw(b"GET /healthz HTTP/1.1", b"Content-Length: " + b"9" * 31),
     400, "mhd"),
    ("unsupported-transfer-encoding", raw(b"GET /healthz HTTP/1.1", b"Transfer-Encoding: gzip"),
     400, "mhd"),  # chunked is not final: RFC 9112 6.3
    ("tls-client-hello-on-plain-port", b"\x16\x03\x01\x00\x05hello\r\n\r\n", None, "mhd"),
]
