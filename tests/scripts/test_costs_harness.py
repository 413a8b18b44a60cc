"""bench/costs.sh, the harness behind the allocator cost tables in
docs/benchmarks.md: one tiny round per workload gives a table with a row
per allocator of the build, every column filled, and the provenance block.
Only the shape is checked; tiny runs' figures mean nothing."""
import re
import subprocess

from binary import BENCH_ALLOCATORS, BINARY
from repo import REPO

COLUMNS = 17


def test_costs_harness_prints_a_row_per_allocator(tmp_path):
    report = tmp_path / "costs.md"
    proc = subprocess.run(
        [str(REPO / "bench" / "costs.sh"), "--repeat", "1", "--workloads", "window,larson",
         "--binary", str(BINARY), "--out", str(report)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report.read_text() == proc.stdout
    sections = re.split(r"^### ", proc.stdout, flags=re.M)[1:]
    assert [s.split(":")[0] for s in sections] == ["window", "larson"], proc.stdout
    assert "128 slots of 8 B to 256 KiB" in sections[0], sections[0]
    for section in sections:
        rows = [line for line in section.splitlines()
                if line.startswith("| ") and not line.startswith(("| allocator", "| ---"))]
        assert [row.split(" | ")[0][2:] for row in rows] == BENCH_ALLOCATORS, section
        for row in rows:
            cells = [cell.strip() for cell in row.strip("|").split("|")]
            assert len(cells) == COLUMNS and all(cells), row
    assert re.search(r"^- Command: `bench/costs.sh --repeat 1 ", proc.stdout, re.M), proc.stdout
