"""Secrets are wiped in the binary that ships, not only in the source
(issue 18, finding 3).

A memset() before free() or before a buffer goes out of scope is a dead
store, and the compiler removes it: the audit found the relay's engine
context (session keys, DRBG), the PEM text of the private key, the decoded
key on the stack and the seed freed or abandoned unwiped in the release
binary. Every such site now calls wipe() (src/core/wipe.c, explicit_bzero).

The check reads the release binary's disassembly with its line table (the
layer libraries are compiled with -g1, which does not change the code):
  - each secret site below has a wipe() call in the source;
  - every wipe() call in the source is still a call in the binary, at its
    own source line (inlining keeps the line of the call);
  - wipe() itself calls explicit_bzero().
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from binary import BINARY, NOT_A_RELEASE_BUILD, SANITIZER_BUILD
from repo import REPO

pytestmark = pytest.mark.skipif(SANITIZER_BUILD, reason=NOT_A_RELEASE_BUILD)

SRC = REPO / "src"

# (file, function, what dies there)
SECRET_SITES = [
    ("tls_relay.c", "relay_init_engine", "the seed of the engine's DRBG"),
    ("tls_relay.c", "tls_relay_create", "a relay whose engine could not be set up"),
    ("tls_relay.c", "tls_relay_destroy", "the engine context: session keys, master secret, DRBG state"),
    ("tls_session_cache.c", "tls_session_cache_destroy",
     "the cached sessions' master secrets and the key masking their IDs"),
    ("tls_keys.c", "read_file", "a file buffer refused after reading (it may hold a key)"),
    ("tls_keys.c", "load_pem_file", "the PEM text of the key file"),
    ("tls_keys.c", "append_der", "the old DER buffer when realloc() moves it"),
    ("tls_keys.c", "pem_decode", "the PEM decoder context (it buffers decoded key bytes)"),
    ("tls_keys.c", "pem_objects_free", "the decoded DER of each PEM object"),
    ("tls_keys.c", "load_key", "the key decoder context on the stack"),
    ("tls_keys.c", "tls_credentials_free", "the key material the server ran with"),
    ("auth.c", "auth_token_load", "the text of the /bench token file"),
    ("auth.c", "digest_of", "the hash context, which buffers a token's bytes"),
]

def source_file(name):
    """src/<layer>/<name>: file names are unique across the layers."""
    found = sorted(SRC.rglob(name))
    assert len(found) == 1, f"{name}: expected one file under src/, found {found}"
    return found[0]


WIPE_CALL = re.compile(r"(?<![\w.>])wipe\(")


def function_lines(path, name):
    """(first, last) line numbers of a top-level C function definition:
    from the line naming it at column 0 to its closing brace at column 0."""
    lines = path.read_text().splitlines()
    start = None
    for number, line in enumerate(lines, 1):
        if start is None and re.match(rf"^(static\s+)?[\w\s\*]*\b{name}\(", line) \
                and not line.rstrip().endswith(";"):
            start = number
        elif start is not None and line.startswith("}"):
            return start, number
    pytest.fail(f"no definition of {name}() in {path}")


def wipe_lines(path):
    return {number for number, line in enumerate(path.read_text().splitlines(), 1)
            if WIPE_CALL.search(line) and not line.lstrip().startswith(("*", "/*", "//"))}


@pytest.fixture(scope="module")
def disassembly():
    assert shutil.which("objdump"), "objdump (binutils) is needed for this test"
    proc = subprocess.run(["objdump", "-d", "-l", "--no-show-raw-insn", str(BINARY)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def wipe_calls_by_line(listing):
    """(file name, line) of every call to wipe() in the binary (a tail call
    is a jmp), by the line table entry in force at the call."""
    found = set()
    where = None
    for line in listing.splitlines():
        location = re.match(r"^(\S+\.[ch]):(\d+)", line)
        if location:
            where = (Path(location.group(1)).name, int(location.group(2)))
        elif re.search(r"\b(call|jmp)\s+[0-9a-f]+ <wipe>", line) and where is not None:
            found.add(where)
    return found


@pytest.mark.parametrize("file, function, secret", SECRET_SITES,
                         ids=[f"{f}:{fn}" for f, fn, _ in SECRET_SITES])
def test_secret_site_calls_wipe(file, function, secret):
    source = source_file(file)
    first, last = function_lines(source, function)
    inside = [n for n in wipe_lines(source) if first <= n <= last]
    assert inside, f"{file}: {function}() does not wipe {secret}"


def test_every_wipe_in_the_source_is_a_call_in_the_binary(disassembly):
    assert re.search(r"^[0-9a-f]+ <wipe>:", disassembly, re.MULTILINE), \
        "no wipe() in the binary"
    assert re.search(r"^\S+\.c:\d+", disassembly, re.MULTILINE), \
        "the binary has no line table: are the layer libraries still built with -g1?"
    in_binary = wipe_calls_by_line(disassembly)
    missing = []
    for path in sorted(SRC.rglob("*.c")):
        if path.name == "wipe.c":
            continue
        missing += [f"{path.name}:{n}" for n in sorted(wipe_lines(path))
                    if (path.name, n) not in in_binary]
    assert not missing, (f"wipe() calls the compiler removed or moved: {missing}; calls found "
                         f"at {sorted(in_binary)}")


def test_wipe_calls_explicit_bzero():
    proc = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "--disassemble=wipe",
                           str(BINARY)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"\b(call|jmp)\s+[0-9a-f]+ <explicit_bzero>", proc.stdout), proc.stdout
