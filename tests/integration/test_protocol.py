"""Hardening (issue 6): odd but possible HTTP/1.x input, sent raw, and what
each gets. Every case must end in a correct answer or a clean error, and
the server must be healthy afterwards. docs/reliability.md lists the cases
with the reasoning; this table is the executable version.

Who answers: tinyserver's layer, or, for requests libmicrohttpd cannot
parse, libmicrohttpd itself, with "Connection: close" (400, 505, 501, and a
301 to the percent-encoded target for whitespace in the target, as RFC 9112
section 3.2 allows), or, for a raw NUL in the request line, by closing the
connection without an answer. Both answer in JSON: the build rewrites
libmicrohttpd's HTML pages (patches/libmicrohttpd/).
"""
import pytest

import rawhttp
from conftest import assert_json_error

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
    ("http-2.0-version", req(version="HTTP/2.0"), 505, "mhd"),
    ("http-0.9-request-line", b"GET /healthz\r\n\r\n", 400, "mhd"),
    ("lower-case-version", req(version="http/1.1"), 400, "mhd"),
    # Request-target forms (RFC 9112 3.2)
    ("absolute-form", req("http://127.0.0.1/healthz"), 200, "json"),
    ("absolute-form-other-host", req("http://example.com:8080/healthz"), 200, "json"),
    ("absolute-form-https-upper-case", req("HTTPS://h/healthz"), 200, "json"),
    ("absolute-form-empty-path", req("http://h"), 200, "json"),  # the path is "/"
    ("absolute-form-other-scheme", req("ftp://h/healthz"), 404, "json"),
    ("asterisk-form", req("*", "OPTIONS"), 404, "json"),
    ("authority-form-connect", req("example.com:443", "CONNECT"), 404, "json"),
    ("origin-form-without-slash", req("healthz"), 404, "json"),
    # Methods
    ("head", req(method="HEAD"), 200, "json"),
    ("trace-is-not-echoed", req(method="TRACE", headers={"Cookie": "s3cret"}), 405, "json"),
    ("connect-on-a-route", req(method="CONNECT"), 405, "json"),
    ("options", req(method="OPTIONS"), 405, "json"),
    ("unknown-method", req(method="FOO"), 405, "json"),
    ("lower-case-method", req(method="get"), 405, "json"),  # methods are case-sensitive
    ("5000-byte-method", req(method="A" * 5000), 405, "json"),
    # Control bytes and NUL in the path or the query
    ("raw-nul-in-path", raw(b"GET /heal\x00thz HTTP/1.1"), None, "mhd"),
    ("raw-nul-in-query", raw(b"GET /bench?threads=1\x00 HTTP/1.1"), None, "mhd"),
    ("encoded-nul-in-path", req("/healthz%00"), 400, "mhd"),
    ("encoded-nul-in-query", req("/bench?threads=1%00"), 400, "json"),
    ("encoded-nul-in-query-name", req("/bench?thr%00eads=1"), 400, "json"),
    ("raw-0x01-in-path", raw(b"GET /heal\x01thz HTTP/1.1"), 404, "json"),
    ("raw-0x7f-in-path", raw(b"GET /heal\x7fthz HTTP/1.1"), 404, "json"),
    ("raw-0xff-in-path", raw(b"GET /heal\xffthz HTTP/1.1"), 404, "json"),
    ("raw-0x01-in-query", raw(b"GET /bench?threads=\x01 HTTP/1.1"), 400, "json"),
    ("encoded-0x01-in-path", req("/heal%01thz"), 404, "json"),
    ("raw-cr-in-path", raw(b"GET /a\rb HTTP/1.1"), 400, "mhd"),
    ("raw-lf-in-path", raw(b"GET /a\nb HTTP/1.1"), 400, "mhd"),
    ("raw-tab-in-path", raw(b"GET /heal\tthz HTTP/1.1"), 301, "mhd"),
    ("raw-space-in-path", raw(b"GET /heal thz HTTP/1.1"), 301, "mhd"),
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
    ("bare-lf-line-ends", b"GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n", 200, "json"),
    ("content-length-and-chunked", raw(b"GET /healthz HTTP/1.1", b"Content-Length: 5",
                                       b"Transfer-Encoding: chunked"), 413, "json"),
    ("invalid-content-length", raw(b"GET /healthz HTTP/1.1", b"Content-Length: abc"), 400, "mhd"),
    ("negative-content-length", raw(b"GET /healthz HTTP/1.1", b"Content-Length: -1"), 400, "mhd"),
    ("huge-content-length", raw(b"GET /healthz HTTP/1.1", b"Content-Length: " + b"9" * 31),
     400, "mhd"),
    ("unsupported-transfer-encoding", raw(b"GET /healthz HTTP/1.1", b"Transfer-Encoding: gzip"),
     501, "mhd"),
    ("tls-client-hello-on-plain-port", b"\x16\x03\x01\x00\x05hello\r\n\r\n", None, "mhd"),
]


@pytest.mark.parametrize("data, status, who", [pytest.param(d, s, w, id=i) for i, d, s, w in CASES])
def test_odd_request_gets_a_clean_answer(shared_server, data, status, who):
    received, closed = rawhttp.exchange(shared_server.port, data)
    assert closed, f"the connection stayed open: {received[:300]!r}"
    if status is None:
        assert received == b"", received[:300]
    else:
        is_head = data.startswith(b"HEAD ")
        responses = rawhttp.parse_responses(received, bodiless=is_head)
        assert len(responses) == 1, received[:600]
        response = responses[0]
        assert response.status == status, response.describe()
        assert response.headers.get("content-type") == "application/json", response.describe()
        assert response.headers.get("cache-control") == "no-store", response.describe()
        if status >= 300 and not is_head:
            assert_json_error(response, status)
        else:
            assert is_head or response.json is not None, response.describe()
        if who == "mhd":
            assert response.headers.get("connection", "").lower() == "close", response.describe()
        if status == 405:
            assert response.headers.get("allow") == "GET, HEAD", response.describe()
        if status == 301:
            assert "%" in response.headers.get("location", ""), response.describe()
    assert b"s3cret" not in received  # TRACE must not reflect the request
    # Whatever came before, the next client is served.
    health = rawhttp.one_response(rawhttp.exchange(shared_server.port, req())[0])
    assert health is not None and health.status == 200, health


def test_absolute_form_target_keeps_its_query(shared_server):
    response = rawhttp.one_response(rawhttp.exchange(
        shared_server.port, req("http://h/bench?threads=1&iterations=10"))[0])
    assert response is not None and response.status == 200, response
    assert (response.json["threads"], response.json["iterations"]) == (1, 10), response.describe()


def test_pipelined_requests_are_answered_in_order(shared_server):
    paths = ["/healthz", "/", "/nope", "/bench?threads=0", "/healthz"] * 4
    data = b"".join(rawhttp.request(p) for p in paths) + req("/healthz")
    received, closed = rawhttp.exchange(shared_server.port, data)
    responses = rawhttp.parse_responses(received)
    expected = [200, 200, 404, 400, 200] * 4 + [200]
    assert [r.status for r in responses] == expected, received[:600]
    assert responses[0].json == {"status": "ok"}
    assert responses[1].json["name"] == "tinyserver"
    assert closed


def test_pipelined_bench_requests_wait_for_each_other(shared_server):
    # A deferred (off-worker) answer must not let the next pipelined
    # request overtake it.
    data = (rawhttp.request("/bench?threads=1&iterations=100000") + rawhttp.request("/healthz") +
            req("/bench?threads=1&iterations=7"))
    responses = rawhttp.parse_responses(rawhttp.exchange(shared_server.port, data)[0])
    assert [r.status for r in responses] == [200, 200, 200]
    assert responses[0].json["iterations"] == 100000
    assert responses[1].json == {"status": "ok"}
    assert responses[2].json["iterations"] == 7


def test_http_1_0_keep_alive_is_honoured(shared_server):
    with rawhttp.connect(shared_server.port) as sock:
        for _ in range(3):
            sock.sendall(rawhttp.request(version="HTTP/1.0", host=None,
                                         headers={"Connection": "keep-alive"}))
            response = rawhttp.read_response(sock)
            assert response is not None and response.status == 200, response
            assert response.headers.get("connection", "").lower() == "keep-alive"
