#!/usr/bin/env python3
"""Make libmicrohttpd's own error answers JSON, like every other tinyserver error.

libmicrohttpd refuses some requests before the application sees them: a
header section larger than the connection's memory (431), a malformed
request line or header (400), a transfer coding it cannot decode (501), an
HTTP version it does not speak (505). It answers those itself, with a fixed
HTML page and no Content-Type, and its 1.0 API offers no way to replace the
body. tinyserver promises a JSON error for every bad request. This script
generated patches/libmicrohttpd/0001-json-error-bodies.patch from the pinned
source (patches/README.md says how to run it again); the build applies the
patch, never this script:

  * every HTML message in src/microhttpd/connection.c becomes
    {"error": "<the page's text>"}, the shape of tinyserver's own errors;
  * transmit_error_response_len(), which sends them all, adds
    Content-Type: application/json and Cache-Control: no-store, as
    tinyserver's own error answers carry.

The status codes and when they are sent stay libmicrohttpd's. Anything this
does not recognise (a new version moved the code) stops it rather than
half-applying; the expected counts are for the version in deps.lock.

usage: mhd_json_errors.py SOURCE_DIR
"""

import html
import json
import re
import sys
from pathlib import Path

# How many HTML messages libmicrohttpd 1.0.10's connection.c defines.
EXPECTED_MESSAGES = 40

# A message macro: "#define NAME \" and then C string literal lines, each
# but the last ending in a backslash.
MESSAGE_MACRO = re.compile(
    r'^(?P<head>#define (?P<name>[A-Z0-9_]+) *\\\n)'
    r'(?P<body>(?:[ \t]*"(?:[^"\\\n]|\\.)*"[ \t]*\\\n)*[ \t]*"(?:[^"\\\n]|\\.)*"[ \t]*\n)',
    re.MULTILINE,
)
C_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')

# The place to add the headers: right after the error response is created
# and checked, before the optional extra header is attached.
HEADERS_ANCHOR = "  mhd_assert ((0 == header_name_len) || (NULL != header_name));\n"
HEADERS_CODE = """\
  /* tinyserver (scripts/mhd_json_errors.py): the messages are JSON. If a
   * header cannot be added (no memory), the answer goes out without it:
   * the status code still tells the client what happened. */
  (void) MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                  "application/json");
  (void) MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL,
                                  "no-store");
"""


def c_unescape(text):
    """The few escapes libmicrohttpd's messages use, read as C would."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def c_escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


def page_text(page):
    """The readable sentence of an HTML error page, as an error message."""
    match = re.search(r"<body>(.*)</body>", page, re.DOTALL)
    if match is None:
        raise ValueError(f"no <body> in {page!r}")
    text = re.sub(r"<[^>]+>", " ", match.group(1))
    text = " ".join(html.unescape(text).split())
    # A tag before punctuation left a space there ("<b>Host:</b>.").
    text = re.sub(r" ([.,;:])", r"\1", text).rstrip(".")
    # Messages are lower-case phrases, like the server's own: "request ...".
    # Words that are capitals throughout (HTTP) keep them.
    first = text.split(" ", 1)[0]
    if not first.isupper():
        text = text[0].lower() + text[1:]
    return text


def json_message(macro_body):
    page = "".join(c_unescape(piece) for piece in C_LITERAL.findall(macro_body))
    return json.dumps({"error": page_text(page)}, separators=(",", ":"))


def rewrite(source):
    replaced = []

    def to_json(match):
        if "<html>" not in match.group("body"):
            return match.group(0)
        replaced.append(match.group("name"))
        message = json_message(match.group("body"))
        return f'{match.group("head")}        "{c_escape(message)}"\n'

    source = MESSAGE_MACRO.sub(to_json, source)
    if len(replaced) != EXPECTED_MESSAGES:
        raise ValueError(f"expected {EXPECTED_MESSAGES} HTML messages, found {len(replaced)}")
    if "<html" in source.lower():
        raise ValueError("an HTML message is left that the rewrite did not recognise")
    if source.count(HEADERS_ANCHOR) != 1:
        raise ValueError("transmit_error_response_len() is not laid out as expected")
    return source.replace(HEADERS_ANCHOR, HEADERS_CODE + HEADERS_ANCHOR), replaced


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    path = Path(argv[1]) / "src" / "microhttpd" / "connection.c"
    try:
        source = path.read_text(encoding="utf-8")
        if HEADERS_CODE in source:
            raise ValueError("already rewritten")
        source, replaced = rewrite(source)
        path.write_text(source, encoding="utf-8")
    except (OSError, ValueError) as error:
        print(f"mhd_json_errors: {path}: {error}", file=sys.stderr)
        return 1
    print(f"mhd_json_errors: {len(replaced)} messages are JSON in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
