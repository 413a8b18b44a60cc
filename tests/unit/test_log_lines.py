"""Property test of the logger (issue 18, finding 5): whatever the message,
of any length and any bytes but NUL, a JSON log line is one valid JSON
object, and a text line is one line of printable ASCII.

log.c used to escape the message into its own buffer and cut the finished
line at its size, so a long message of control characters ended its line in
half an escape: invalid JSON. The driver (tests/unit/log_lines.c, built by
Meson) logs the messages given here with log_message(); Python's json module
parses what comes out.
"""
import json
import random
import subprocess

import pytest

from binary import BIN_RUNNER
from repo import BUILD

DRIVER = BUILD / "tests" / "log_lines"
LOG_LINE_MAX = 2048  # log.c: a line and its newline fit in this
MARKER = b"..."
# Truncation happens only when the next escaped byte (at most 6 bytes, as
# \u00XX) and the marker would not fit: a truncated line is this long.
LONGEST_ESCAPE = 6
SEED = 18
RANDOM_MESSAGES = 3000

CONTROL = bytes(range(1, 0x20)) + b"\x7f"
ALL_BUT_NUL = bytes(range(1, 256))
INVALID_UTF8 = [b"\xc0", b"\xff", b"\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]


def messages():
    """Edge cases first, then random ones; NUL never (a C string ends there)."""
    rng = random.Random(SEED)
    found = [b"", b"a", b'"', b"\\", b"\\" * 511, b"\x01" * 511, b"\x1f" * 2047, b"x" * 2047,
             b"x" * 2048, b"x" * 5000, b'"' * 1000, "\u00e9\u4e2d\U0001f600".encode(),
             b"".join(INVALID_UTF8) * 100]
    for count in range(300, 700):  # every cut point of a run of 6-byte escapes
        found.append(b"a" * (count % 7) + b"\x01" * count)
    alphabets = [CONTROL, ALL_BUT_NUL, b"abc\"\\", bytes(range(0x20, 0x7f))]
    for _ in range(RANDOM_MESSAGES):
        length = rng.choice([rng.randrange(0, 64), rng.randrange(0, 2100), rng.randrange(0, 9000)])
        alphabet = rng.choice(alphabets)
        text = bytes(rng.choice(alphabet) for _ in range(length))
        if rng.random() < 0.2:
            text += rng.choice(INVALID_UTF8)
        found.append(text)
    return found


MESSAGES = messages()


def run_driver(form):
    if not DRIVER.exists():
        pytest.fail(f"missing {DRIVER}: build with Meson first (TINYSERVER_BUILD={BUILD})")
    # A cross build's driver runs under the emulator, as the binary does.
    proc = subprocess.run([*BIN_RUNNER, str(DRIVER), form],
                          input=b"".join(m + b"\0" for m in MESSAGES),
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith(b"\n"), proc.stdout[-200:]
    lines = proc.stdout[:-1].split(b"\n")
    assert len(lines) == len(MESSAGES), f"{len(lines)} lines for {len(MESSAGES)} messages"
    return lines


def test_every_json_line_is_one_valid_object():
    failures = []
    truncated = 0
    for message, line in zip(MESSAGES, run_driver("json")):
        try:
            record = json.loads(line)
        except ValueError as e:
            failures.append(f"invalid JSON ({e}) for a {len(message)}-byte message: "
                            f"...{line[-80:]!r}")
            continue
        if len(line) + 1 > LOG_LINE_MAX:
            failures.append(f"{len(line) + 1}-byte line")
        if set(record) != {"time", "level", "message"} or record["level"] != "info":
            failures.append(f"fields {record}")
            continue
        # Every byte outside printable ASCII is a \u00XX escape, so the
        # decoded text maps back to the message's bytes one to one.
        logged = record["message"].encode("latin-1")
        if logged == message:
            continue
        truncated += 1
        if not (logged.endswith(MARKER) and message.startswith(logged[:-len(MARKER)])):
            failures.append(f"{len(message)}-byte message logged as {logged[-60:]!r}")
        elif len(line) + 1 < LOG_LINE_MAX - LONGEST_ESCAPE - len(MARKER) - 2:
            failures.append(f"truncated at {len(line)} bytes though it had room")
    assert not failures, f"{len(failures)} bad lines, e.g.:\n" + "\n".join(failures[:10])
    assert truncated > 100, "the long messages were never truncated: does the test reach the cap?"


def test_every_text_line_is_one_printable_line():
    bad = []
    for message, line in zip(MESSAGES, run_driver("text")):
        if any(b < 0x20 or b > 0x7e for b in line) or len(line) + 1 > LOG_LINE_MAX:
            bad.append(f"{len(message)}-byte message: {line[-60:]!r}")
    assert not bad, "\n".join(bad[:10])
