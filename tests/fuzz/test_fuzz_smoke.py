"""CI's smoke run of every libFuzzer target (issue 6): scripts/fuzz.sh
builds them (clang, ASan, UBSan, build-fuzz) and runs each for
FUZZ_SMOKE_SECONDS (default 15) from its seeds. A crash, a sanitizer
report, a timeout or an oracle mismatch fails the target's test; the
figures (executions, coverage) are printed. Longer runs:
scripts/fuzz.sh SECONDS."""
import os
import re
import subprocess

import pytest

from repo import REPO

FUZZ = REPO / "scripts" / "fuzz.sh"
SMOKE_SECONDS = int(os.environ.get("FUZZ_SMOKE_SECONDS", "15"))
BUILD_TIMEOUT_S = 900
SUMMARY = re.compile(r"^fuzz: (\S+) \d+s: (\d+) execs \(\d+/s\), cov (\d+), ft (\d+), .*, clean$",
                     re.MULTILINE)

TARGETS = subprocess.run([str(FUZZ), "--list"], capture_output=True, text=True,
                         check=True).stdout.split()


@pytest.fixture(scope="module")
def fuzz_build():
    proc = subprocess.run([str(FUZZ), "--build-only"], capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]


def test_every_target_is_listed():
    assert TARGETS == ["fuzz_bench_params", "fuzz_config", "fuzz_tls_records"], TARGETS


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_smoke_run_is_clean(fuzz_build, target):
    proc = subprocess.run([str(FUZZ), "--no-build", str(SMOKE_SECONDS), target],
                          capture_output=True, text=True, timeout=SMOKE_SECONDS * 4 + 120)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-5000:]
    match = SUMMARY.search(proc.stdout)
    assert match and match.group(1) == target, proc.stdout
    executions, coverage = int(match.group(2)), int(match.group(3))
    assert executions > 0 and coverage > 0, proc.stdout
