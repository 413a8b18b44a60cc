"""The binary under test and what it must be: its command line, the
architecture and allocator it was built for, its configuration contract.

Environment:
  TINYSERVER_BIN  binary under test (default: <repo>/build/src/tinyserver)
  TINYSERVER_BIN_RUNNER  a command to run that binary under, split like a
                  shell word list: qemu-aarch64-static for the arm64 build
                  (scripts/test.sh runs part of the suite so). Other builds
                  a test starts by path run as they are.
  TINYSERVER_EXPECT_ARCH  the Debian architecture the binary was built for
                  (default: this machine's): amd64 or arm64.
  TINYSERVER_EXPECT_ALLOCATOR  the allocator that binary must have been
                  built with: mimalloc (the default), mimalloc-secure, musl
                  or jemalloc.
                  `scripts/test.sh --allocator NAME` sets both. "asan" means
                  scripts/sanitize.sh's ASan+UBSan build: dynamic, on glibc,
                  with ASan's allocator. Then the facts only a static musl
                  release binary has are skipped (with that reason), the rest
                  are expected of glibc, and every process's stderr must be
                  free of sanitizer reports.
"""
import os
import re
import shlex
import subprocess
from pathlib import Path

from repo import REPO

BINARY = Path(os.environ.get("TINYSERVER_BIN", REPO / "build" / "src" / "tinyserver"))
BIN_RUNNER = shlex.split(os.environ.get("TINYSERVER_BIN_RUNNER", ""))
EMULATED = bool(BIN_RUNNER)

# The binary's exit statuses (src/main.c).
EXIT_RUNTIME_FAILURE = 1
EXIT_USAGE = 2


# What each target architecture looks like to binutils: readelf's name for
# the machine, the GNU triplet that prefixes its binutils, the call mnemonic.
ARCH_FACTS = {
    "amd64": {"machine": "Advanced Micro Devices X86-64", "triplet": "x86_64-linux-gnu",
              "call": "call"},
    "arm64": {"machine": "AArch64", "triplet": "aarch64-linux-gnu", "call": "bl"},
}


def _host_arch():
    result = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True)
    assert result.returncode == 0, "dpkg --print-architecture failed"
    return result.stdout.strip()


EXPECTED_ARCH = os.environ.get("TINYSERVER_EXPECT_ARCH") or _host_arch()
assert EXPECTED_ARCH in ARCH_FACTS, (
    f"TINYSERVER_EXPECT_ARCH={EXPECTED_ARCH!r}: expected one of {list(ARCH_FACTS)}")
ARCH = ARCH_FACTS[EXPECTED_ARCH]


def binary_command(binary=None):
    """The command line that starts `binary`, or the binary under test
    (under TINYSERVER_BIN_RUNNER when one is set)."""
    return [str(binary)] if binary is not None else [*BIN_RUNNER, str(BINARY)]


def _gcc_version():
    """The host gcc's version, as Meson records it for the sanitizer build."""
    result = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True)
    assert result.returncode == 0, "gcc is not installed"
    return result.stdout.strip()


def _musl_version():
    """musl's version as the build records it: the musl-dev package's."""
    result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "musl-dev"],
                            capture_output=True, text=True)
    assert result.returncode == 0, "musl-dev is not installed"
    return result.stdout.split("-")[0]


# What each -Dallocator= build must report as "allocator" in / and /bench.
# The expectation is stated here, never read back from the binary, so a
# build that reports the wrong allocator fails.
ALLOCATOR_VARIANTS = {
    "mimalloc": lambda: {"name": "mimalloc", "version": "2.0.9", "secure": False},
    "mimalloc-secure": lambda: {"name": "mimalloc", "version": "2.0.9", "secure": True},
    "musl": lambda: {"name": "musl-mallocng", "version": _musl_version(), "secure": False},
    "jemalloc": lambda: {"name": "jemalloc", "version": "5.3.1", "secure": False},
    # ASan's runtime replaces malloc; it is the compiler's, so is its version.
    "asan": lambda: {"name": "asan", "version": _gcc_version(), "secure": False},
}
ALLOCATOR_VARIANT = os.environ.get("TINYSERVER_EXPECT_ALLOCATOR", "mimalloc")
assert ALLOCATOR_VARIANT in ALLOCATOR_VARIANTS, (
    f"TINYSERVER_EXPECT_ALLOCATOR={ALLOCATOR_VARIANT!r}: expected one of {list(ALLOCATOR_VARIANTS)}")
EXPECTED_ALLOCATOR = ALLOCATOR_VARIANTS[ALLOCATOR_VARIANT]()
USES_MIMALLOC = EXPECTED_ALLOCATOR["name"] == "mimalloc"
# The allocators /bench?allocator= offers in each build, sorted by name
# (src/bench/bench_alloc.h): the global one, plus musl's mallocng beside
# another global, plus the prefixed secure mimalloc beside plain mimalloc,
# plus jemalloc (je_ prefixed) beside any other global. The sanitizer build
# is -Dallocator=musl -Djemalloc=disabled on glibc: only its global.
BENCH_ALLOCATORS = {
    "mimalloc": ["jemalloc", "mimalloc", "mimalloc-secure", "musl"],
    "mimalloc-secure": ["jemalloc", "mimalloc-secure", "musl"],
    "musl": ["jemalloc", "musl"],
    "jemalloc": ["jemalloc", "musl"],
    "asan": ["musl"],
}[ALLOCATOR_VARIANT]
BENCH_GLOBAL_ALLOCATOR = {"asan": "musl"}.get(ALLOCATOR_VARIANT, ALLOCATOR_VARIANT)

# The release variants are static musl binaries; the sanitizer build cannot
# be (the sanitizers need the host's dynamic glibc runtime).
SANITIZER_BUILD = ALLOCATOR_VARIANT == "asan"
EXPECTED_LIBC = "glibc" if SANITIZER_BUILD else "musl"
EXPECTED_STATIC = not SANITIZER_BUILD
NOT_A_RELEASE_BUILD = "the sanitizer build is dynamic glibc without mimalloc by design"

# What ASan, LeakSanitizer and UBSan print when they find something.
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|"
                              r"SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer")


def assert_no_sanitizer_report(text, what):
    """Any build: fails on a sanitizer report in a process's output (in a
    release build there never is one)."""
    match = SANITIZER_REPORT.search(text)
    assert match is None, f"sanitizer report from {what}:\n{text[max(0, match.start() - 200):][:6000]}"

# The configuration contract: every option as (flag, environment variable).
CONFIG_OPTIONS = [
    ("--bind", "BIND"),
    ("--port", "PORT"),
    ("--http-threads", "HTTP_THREADS"),
    ("--max-connections", "MAX_CONNECTIONS"),
    ("--max-connections-per-ip", "MAX_CONNECTIONS_PER_IP"),
    ("--ipv6-prefix-length", "IPV6_PREFIX_LENGTH"),
    ("--connection-timeout", "CONNECTION_TIMEOUT"),
    ("--request-timeout", "REQUEST_TIMEOUT"),
    ("--connection-memory-limit", "CONNECTION_MEMORY_LIMIT"),
    ("--max-url-length", "MAX_URL_LENGTH"),
    ("--max-concurrent-bench", "MAX_CONCURRENT_BENCH"),
    ("--max-bench-threads", "MAX_BENCH_THREADS"),
    ("--max-bench-iterations", "MAX_BENCH_ITERATIONS"),
    ("--max-bench-operations", "MAX_BENCH_OPERATIONS"),
    ("--max-bench-seconds", "MAX_BENCH_SECONDS"),
    ("--bench-token-file", "BENCH_TOKEN_FILE"),
    ("--bench-rate", "BENCH_RATE"),
    ("--shutdown-grace", "SHUTDOWN_GRACE"),
    ("--log-level", "LOG_LEVEL"),
    ("--log-format", "LOG_FORMAT"),
    ("--log-file", "LOG_FILE"),
    ("--log-buffer", "LOG_BUFFER"),
    ("--log-flush-ms", "LOG_FLUSH_MS"),
    ("--tls-cert", "TLS_CERT_FILE"),
    ("--tls-key", "TLS_KEY_FILE"),
    ("--tls-port", "TLS_PORT"),
    ("--tls-handshake-timeout", "TLS_HANDSHAKE_TIMEOUT"),
    ("--max-tls-connections", "MAX_TLS_CONNECTIONS"),
    ("--tls-threads", "TLS_THREADS"),
    ("--tls-session-cache", "TLS_SESSION_CACHE"),
]


def clean_env(extra=None):
    """The test environment minus anything the server would read as
    configuration, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in {e for _, e in CONFIG_OPTIONS}}
    env.update(extra or {})
    return env


def run_binary(*args, env=None, timeout=30, binary=None):
    """Runs the binary (or another build's) to completion (one-shot commands)."""
    result = subprocess.run([*binary_command(binary), *args], capture_output=True, text=True,
                            env=clean_env(env), timeout=timeout)
    assert_no_sanitizer_report(result.stderr, f"tinyserver {' '.join(args)}")
    return result

