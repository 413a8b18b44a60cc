"""bench/stop-check.sh, the harness behind the "stop check costs nothing"
figures in docs/benchmarks.md: with two names for the binary under test
and tiny runs, it serves both, interleaves the runs and prints a
well-formed table with a row per workload and the load average. Only the
shape is checked; tiny runs' figures mean nothing."""
import re
import subprocess

from binary import BINARY
from repo import REPO

ROW = re.compile(r"^\| (seed|xthread|larson) \| [\d.]+M \([\d.]+-[\d.]+M\) \| "
                 r"[\d.]+M \([\d.]+-[\d.]+M\) \| [\d.]+ \|$", re.M)


def test_stop_check_harness_prints_medians_and_spread(tmp_path):
    report = tmp_path / "stop-check.md"
    proc = subprocess.run(
        [str(REPO / "bench" / "stop-check.sh"), "--rounds", "2", "--iterations", "2000",
         "--no-callgrind", "--out", str(report), f"a={BINARY}",
         f"b={BINARY}:--max-bench-seconds=60"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report.read_text() == proc.stdout
    # The provenance block of scripts/lib/report.sh ends it.
    assert re.search(r"^- Load average \(1, 5, 15 min\) before: [\d.]+ [\d.]+ [\d.]+; after: "
                     r"[\d.]+ [\d.]+ [\d.]+$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^- Machine: .+, \d+ CPUs available, Linux \S+$", proc.stdout, re.M)
    assert "- Command: `bench/stop-check.sh --rounds 2 " in proc.stdout
    assert "| workload | a median (min-max) | b median (min-max) | b / a |" in proc.stdout
    assert [m.group(1) for m in ROW.finditer(proc.stdout)] == ["seed", "xthread", "larson"], (
        proc.stdout)


def test_stop_check_harness_refuses_a_missing_binary(tmp_path):
    proc = subprocess.run([str(REPO / "bench" / "stop-check.sh"), f"a={BINARY}",
                           f"b={tmp_path / 'none'}"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "no binary" in proc.stderr, proc.stdout + proc.stderr
