"""The allocator variants besides the default build: -Dallocator=
mimalloc-secure, musl and jemalloc, and the default allocator with
-Djemalloc=disabled, build from the same sources, pass their unit programs,
and report their allocator in --version, --bench and GET /.

This is the cheap check every run makes; `scripts/test.sh --allocator NAME`
runs the whole suite against one variant."""
import json
import subprocess

import pytest

from binary import ALLOCATOR_VARIANTS, SANITIZER_BUILD, run_binary
from repo import REPO

# They build and check the release variants, not the binary under test.
pytestmark = pytest.mark.skipif(SANITIZER_BUILD, reason="checks the release variants, not the "
                                "sanitizer build under test")

# Variant name -> (its global allocator, extra scripts/build.sh options).
# "small" is what a user who copies tinyserver as a small production
# service builds: the default without jemalloc.
OTHER_VARIANTS = {
    "mimalloc-secure": ("mimalloc-secure", []),
    "musl": ("musl", []),
    "jemalloc": ("jemalloc", []),
    "small": ("mimalloc", ["--jemalloc", "disabled"]),
}
BUILD_TIMEOUT_S = 600
# Issue 24: with jemalloc the stripped binary may take up to 1 MiB; without
# it, it stays under issue 11's 600 KiB.
SMALL_MAX_BYTES = 600 * 1024


@pytest.fixture(scope="module", params=sorted(OTHER_VARIANTS))
def variant(request):
    """(name, global allocator, build directory), built with scripts/build.sh
    into build-NAME (the dependencies come from the shared cache)."""
    name = request.param
    allocator, options = OTHER_VARIANTS[name]
    builddir = REPO / f"build-{name}"
    proc = subprocess.run([str(REPO / "scripts" / "build.sh"), "--allocator", allocator,
                           *options, "--builddir", str(builddir)],
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return name, allocator, builddir


def expected_report(name):
    allocator = ALLOCATOR_VARIANTS[name]()
    line = f"{allocator['name']} {allocator['version']}"
    return allocator, line + (" secure" if allocator["secure"] else "")


def test_variant_unit_programs_pass(variant):
    name, _, builddir = variant
    listed = subprocess.run(["meson", "introspect", "--tests", str(builddir)],
                            check=True, capture_output=True, text=True)
    programs = [t for t in json.loads(listed.stdout)
                if any(s.endswith("unit") for s in t.get("suite", []))]
    assert len(programs) >= 8, programs
    failed = []
    for program in programs:
        result = subprocess.run(program["cmd"], capture_output=True, text=True, timeout=300,
                                cwd=program.get("workdir") or None)
        print(result.stdout)
        if result.returncode != 0 or " 0 failed" not in result.stdout:
            failed.append(f"{program['name']}: {result.stdout}{result.stderr}")
    assert not failed, f"{name} build:\n" + "\n".join(failed)


@pytest.mark.parametrize("workload, threads", [("seed", 2), ("xthread", 3), ("larson", 2)])
def test_variant_bench_reports_its_allocator(variant, workload, threads):
    _, name, builddir = variant
    allocator, _ = expected_report(name)
    result = run_binary("--bench", "--workload", workload, "--threads", str(threads),
                        "--iterations", "2000", binary=builddir / "src" / "tinyserver")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["allocator"] == allocator
    assert body["workload"] == workload
    assert body["operations"] == body["total_counter"] == threads * 2000
    assert body["bench_allocator"] == name


# What allocator=all runs in each variant (src/bench/bench_alloc.h): musl's
# mallocng beside any other global, jemalloc beside any but itself, the
# secure mimalloc only beside plain mimalloc.
VARIANT_BENCH_ALLOCATORS = {
    "mimalloc-secure": ["jemalloc", "mimalloc-secure", "musl"],
    "musl": ["jemalloc", "musl"],
    "jemalloc": ["jemalloc", "musl"],
    "small": ["mimalloc", "mimalloc-secure", "musl"],
}


def test_variant_bench_all_runs_its_allocators(variant):
    name, _, builddir = variant
    result = run_binary("--bench", "--allocator", "all", "--repeat", "2", "--threads", "2",
                        "--iterations", "2000", binary=builddir / "src" / "tinyserver")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert [r["bench_allocator"] for r in body["results"]] == VARIANT_BENCH_ALLOCATORS[name]
    for entry in body["results"]:
        assert [run["total_counter"] for run in entry["runs"]] == [4000, 4000], entry
    missing = next(a for a in ("mimalloc", "jemalloc") if a not in VARIANT_BENCH_ALLOCATORS[name])
    refused = run_binary("--bench", "--allocator", missing,
                         binary=builddir / "src" / "tinyserver")
    assert refused.returncode == 2, refused.stdout
    assert "parameter allocator must be one of" in refused.stderr, refused.stderr


def test_variant_version_and_index_name_the_allocator(variant, server, curl):
    _, name, builddir = variant
    binary = builddir / "src" / "tinyserver"
    allocator, line = expected_report(name)
    version = run_binary("--version", binary=binary)
    assert version.returncode == 0, version.stderr
    assert version.stdout.rstrip("\n").endswith(f"(static musl, {line})"), version.stdout
    index = curl(server(binary=binary).url + "/")
    assert index.status == 200, index.describe()
    assert index.json["build"]["allocator"] == allocator
    assert index.json["build"]["allocator_override_verified"] is True


def test_variant_without_jemalloc_stays_small(variant):
    """The -Djemalloc=disabled build keeps the size the binary had before
    jemalloc; the others stay within issue 24's 1 MiB."""
    name, _, builddir = variant
    size = (builddir / "src" / "tinyserver-stripped").stat().st_size
    print(f"\n{name}: {size} bytes stripped")
    if name == "small":
        assert size < SMALL_MAX_BYTES, f"{size} bytes"
    else:
        assert size <= 1024 * 1024, f"{size} bytes"
