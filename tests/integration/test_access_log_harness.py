"""bench/access-log.sh in one short round: the three set-ups run, each
logging one gets at least a line per request wrk counted, and the table
and CSV have their shape. A one-second round's figures mean nothing; only
the shape is checked, never a number's size."""
import csv
import re
import subprocess

import pytest

from conftest import BINARY, REPO, SANITIZER_BUILD

pytestmark = pytest.mark.skipif(SANITIZER_BUILD, reason="wrk against the sanitizer build "
                                "measures the sanitizer")

RUN_TIMEOUT_S = 120
ROW = re.compile(r"^\| `(?P<setup>[^`]+)`[^|]* \| (?P<median>[\d,]+) \([\d,]+-[\d,]+\) \| "
                 r"(?P<ratio>1|[\d.]+x \([\d.]+-[\d.]+\)) \|$")


def test_one_round_of_each_setup(tmp_path):
    proc = subprocess.run([str(REPO / "bench" / "access-log.sh"), "--rounds", "1", "--duration",
                           "1", "--connections", "8", "--bin", str(BINARY), "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = (tmp_path / "access-log.md").read_text()
    rows = [m.groupdict() for m in map(ROW.match, table.splitlines()) if m]
    assert [r["setup"] for r in rows] == ["--log-level warn", "--log-file FILE",
                                          "--log-file FILE --log-buffer 0"], table
    assert rows[0]["ratio"] == "1" and all(r["ratio"].endswith(")") for r in rows[1:]), table
    assert table.startswith("# Access log: buffered vs unbuffered\n"), table
    # the provenance block of scripts/lib/report.sh
    assert re.search(r"^- Load average \(1, 5, 15 min\) before: [\d.]+ [\d.]+ [\d.]+; after: ",
                     table, re.M), table
    assert "- Command: `bench/access-log.sh --rounds 1 " in table, table
    with open(tmp_path / "access-log.csv", newline="") as f:
        runs = list(csv.DictReader(f))
    assert sorted(r["setup"] for r in runs) == ["buffered", "unbuffered", "warn"], runs
    for run in runs:
        assert int(run["requests"]) > 0 and float(run["requests_per_s"]) > 0, run
        if run["setup"] == "warn":
            assert int(run["log_lines"]) == 0, run
        else:
            assert int(run["log_lines"]) >= int(run["requests"]), run
