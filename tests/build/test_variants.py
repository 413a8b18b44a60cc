"""The allocator variants besides the default build: -Dallocator=
mimalloc-secure and musl build from the same sources, pass their unit
programs, and report their allocator in --version, --bench and GET /.

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

OTHER_VARIANTS = ["mimalloc-secure", "musl"]
BUILD_TIMEOUT_S = 600


@pytest.fixture(scope="module", params=OTHER_VARIANTS)
def variant(request):
    """(name, build directory), built with scripts/build.sh into build-NAME
    (the dependencies come from the shared cache)."""
    name = request.param
    builddir = REPO / f"build-{name}"
    proc = subprocess.run([str(REPO / "scripts" / "build.sh"), "--allocator", name,
                           "--builddir", str(builddir)],
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return name, builddir


def expected_report(name):
    allocator = ALLOCATOR_VARIANTS[name]()
    line = f"{allocator['name']} {allocator['version']}"
    return allocator, line + (" secure" if allocator["secure"] else "")


def test_variant_unit_programs_pass(variant):
    name, builddir = variant
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
    name, builddir = variant
    allocator, _ = expected_report(name)
    result = run_binary("--bench", "--workload", workload, "--threads", str(threads),
                        "--iterations", "2000", binary=builddir / "src" / "tinyserver")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["allocator"] == allocator
    assert body["workload"] == workload
    assert body["operations"] == body["total_counter"] == threads * 2000
    assert body["bench_allocator"] == name


# What allocator=all runs in each variant (src/bench/bench_alloc.h): a secure
# global keeps musl beside it; a musl global has nothing else.
VARIANT_BENCH_ALLOCATORS = {"mimalloc-secure": ["mimalloc-secure", "musl"], "musl": ["musl"]}


def test_variant_bench_all_runs_its_allocators(variant):
    name, builddir = variant
    result = run_binary("--bench", "--allocator", "all", "--repeat", "2", "--threads", "2",
                        "--iterations", "2000", binary=builddir / "src" / "tinyserver")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert [r["bench_allocator"] for r in body["results"]] == VARIANT_BENCH_ALLOCATORS[name]
    for entry in body["results"]:
        assert [run["total_counter"] for run in entry["runs"]] == [4000, 4000], entry
    refused = run_binary("--bench", "--allocator", "mimalloc",
                         binary=builddir / "src" / "tinyserver")
    assert refused.returncode == 2, refused.stdout
    assert "parameter allocator must be one of" in refused.stderr, refused.stderr


def test_variant_version_and_index_name_the_allocator(variant, server, curl):
    name, builddir = variant
    binary = builddir / "src" / "tinyserver"
    allocator, line = expected_report(name)
    version = run_binary("--version", binary=binary)
    assert version.returncode == 0, version.stderr
    assert version.stdout.rstrip("\n").endswith(f"(static musl, {line})"), version.stdout
    index = curl(server(binary=binary).url + "/")
    assert index.status == 200, index.describe()
    assert index.json["build"]["allocator"] == allocator
    assert index.json["build"]["allocator_override_verified"] is True
