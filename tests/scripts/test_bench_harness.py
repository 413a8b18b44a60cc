"""bench/compare.sh --quick: the comparison harness builds the three
allocator variants, runs every workload (and the sweep) and writes a
well-formed table and CSV files. A quick run's figures mean nothing; only
the shape of the output is checked, never a number's size."""
import csv
import json
import re
import subprocess

import pytest

from binary import BINARY, SANITIZER_BUILD
from repo import REPO

# bench/compare.sh builds and runs the release variants, not the binary under test.
pytestmark = pytest.mark.skipif(SANITIZER_BUILD, reason="runs the release variants, not the "
                                "sanitizer build under test")

WORKLOADS = ["seed", "xthread", "larson"]
VARIANT_ROWS = ["musl-mallocng ", "mimalloc 2.0.9 secure", "mimalloc 2.0.9", "jemalloc 5.3.1"]
SWEEP_THREADS = [1, 2, 4, 8, 16, 32]
TABLE_HEADER = ("| variant | operations | elapsed | ops/s (median) | vs musl | peak MiB | "
                "retained MiB | after release MiB | minor faults | system ms | mapping calls |")
MIB = r"-?\d+\.\d"
ROW = re.compile(r"^\| (?P<name>[^|]+) \| (?P<ops>[\d,]+) \| (?P<elapsed>[\d.]+ m?s) \| "
                 r"(?P<rate>[\d.]+[kMG]?) \| (?P<ratio>[\d.]+x) \| "
                 rf"(?P<peak>{MIB}) \| (?P<retained>{MIB}) \| (?P<released>{MIB}) \| "
                 r"(?P<faults>[\d,]+) \| (?P<system>\d+\.\d) \| (?P<calls>[\d,]+|n/a) \|$")
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    proc = subprocess.run([str(REPO / "bench" / "compare.sh"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc.stdout


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_table_has_a_section_per_workload_with_every_variant(quick_run):
    out, stdout = quick_run
    table = (out / "compare.md").read_text()
    assert table in stdout  # also printed
    sections = re.split(r"^### ", table, flags=re.M)[1:]
    assert [s.split(":")[0] for s in sections] == WORKLOADS, table
    for section in sections:
        lines = section.splitlines()
        assert TABLE_HEADER in lines, section
        rows = [ROW.match(line) for line in lines
                if line.startswith("| ") and line != TABLE_HEADER and not line.startswith("| ---")]
        assert all(rows), section
        names = [row["name"] for row in rows]
        for expected, name in zip(VARIANT_ROWS, names):
            assert name.startswith(expected), names
        assert rows[0]["ratio"] == "1x", section  # musl is the baseline
        # References come after the variants, each marked as one, with no
        # mapping-call count (the wraps cannot see a preloaded allocator).
        assert all(name.startswith("reference: ") for name in names[len(VARIANT_ROWS):]), names
        assert all(row["calls"] != "n/a" for row in rows[:len(VARIANT_ROWS)]), section
        assert all(row["calls"] == "n/a" for row in rows[len(VARIANT_ROWS):]), section
    # It ends with the provenance block of scripts/lib/report.sh.
    tail = table.rstrip("\n").split("\n\n")[-1].splitlines()
    assert [line.split(":")[0] for line in tail] == [
        "- Machine", "- Date", "- Load average (1, 5, 15 min) before", "- Command",
        "- Toolchain"], tail
    assert tail[3].startswith("- Command: `bench/compare.sh ") and tail[3].endswith(" --quick`")


def test_runs_csv_has_every_run_and_checked_counters(quick_run):
    out, _ = quick_run
    runs = read_csv(out / "runs.csv")
    variants = {r["label"] for r in runs if r["kind"] == "variant"}
    assert variants == {"musl", "mimalloc-secure", "mimalloc", "jemalloc"}
    for workload in WORKLOADS:
        assert {r["label"] for r in runs if r["workload"] == workload} >= variants
    for run in runs:
        assert int(run["operations"]) == int(run["threads"]) * int(run["iterations"]), run
        assert float(run["elapsed_ms"]) >= 0 and float(run["ops_per_sec"]) >= 0, run
        # Every run carries its memory and CPU; only tinyserver's static link
        # counts the mapping calls.
        # Retained memory may be negative (a run can give back more than it took).
        figures = {field: float(run[field]) for field in (
            "peak_bytes", "retained_bytes", "retained_after_release_bytes", "minor_faults",
            "system_ms")}
        assert all(figures[f] >= 0 for f in ("peak_bytes", "minor_faults", "system_ms")), run
        assert (run["map_calls"] != "") == (run["kind"] == "variant"), run


def test_sweep_csv_covers_every_thread_count(quick_run):
    out, _ = quick_run
    rows = read_csv(out / "sweep.csv")
    points = {(r["workload"], r["variant"], int(r["threads"])) for r in rows}
    for workload in WORKLOADS:
        # xthread needs a producer and a consumer: its sweep starts at 2.
        threads = [t for t in SWEEP_THREADS if workload != "xthread" or t >= 2]
        for variant in ["musl", "mimalloc-secure", "mimalloc", "jemalloc"]:
            for t in threads:
                assert (workload, variant, t) in points, (workload, variant, t)
    assert len(points) == len(rows)


def test_many_core_runner_needs_only_the_binary(tmp_path):
    """bench/many-core.sh: with nothing but the stripped binary beside it
    (copied into an empty directory, run from there), every workload at
    1..4x the CPUs, JSON lines whose counters are checked, and a table
    row per line."""
    workdir = tmp_path / "host"
    workdir.mkdir()
    binary = workdir / "tinyserver-stripped"
    binary.write_bytes((REPO / "build" / "src" / "tinyserver-stripped").read_bytes())
    binary.chmod(0o755)
    script = workdir / "many-core.sh"
    script.write_text((REPO / "bench" / "many-core.sh").read_text())
    script.chmod(0o755)
    proc = subprocess.run(["./many-core.sh", "--iterations", "500", "--repeat", "1",
                           "--max-threads", "4"], cwd=workdir, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = workdir / "many-core-out"
    lines = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    seen = {(line["workload"], line["threads"]) for line in lines}
    assert seen == {(w, t) for w in WORKLOADS for t in (1, 2, 4)
                    if not (w == "xthread" and t < 2)}, seen
    for line in lines:
        assert line["cpus"] >= 1 and len(line["loadavg"].split()) == 3, line
        names = [r["bench_allocator"] for r in line["r"]["results"]]
        assert names == ["jemalloc", "mimalloc", "mimalloc-secure", "musl"], names
        for entry in line["r"]["results"]:
            assert entry["runs"][0]["total_counter"] == line["threads"] * 500
    text = (out / "table.md").read_text()
    title, table, provenance = text.split("\n\n")
    assert title == "# Many cores: the allocator sweep", text
    table = table.splitlines()
    assert table[0].startswith("| workload | threads | load avg | mimalloc |"), table
    assert len(table) == 2 + len(lines), table
    assert all(re.search(r"\| [\d.]+x \|$", row) for row in table[2:]), table
    # The provenance block, in scripts/lib/report.sh's layout.
    assert [line.split(":")[0] for line in provenance.splitlines()] == [
        "- Machine", "- Date", "- Load average (1, 5, 15 min) before", "- Command",
        "- Binary"], provenance
    assert "- Command: `bench/many-core.sh --iterations 500 --repeat 1 --max-threads 4`" \
        in provenance


INSTRUCTIONS_ROW = re.compile(r"^\| (tinyserver|tinyserver, buffered access log to a file"
                              r"|tinyserver, access log, a write per line"
                              r"|nginx, bench/nginx\.conf|nginx, bench/nginx-minimal\.conf)"
                              r" \| GET (\S+) \| (\d+) \| ([\d.]+)x \|$")
PART_ROW = re.compile(r"^\| ([^|*][^|]*) \| (-?[\d,]+) \|$")
PART_TOTAL = re.compile(r"^\| \*\*total\*\* \| \*\*([\d,]+)\*\* \|$")


def test_instruction_count_compares_with_nginx(tmp_path):
    """bench/http.sh --mode instructions: tinyserver's /healthz (without and
    with the access log), /, /metrics and /bench and nginx's /healthz (both
    configurations) each run under
    callgrind with N and 2N keep-alive requests; every row has a positive
    count per request, nginx's own ratio is 1.00x, the per-part breakdown
    adds up to its total, and the machine, load and command are recorded.
    A small N: only the shape."""
    proc = subprocess.run([str(REPO / "bench" / "http.sh"), "--mode", "instructions",
                           "--requests", "50", "--bin", str(BINARY), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = (tmp_path / "http-instructions.md").read_text().splitlines()
    rows = {(m.group(1), m.group(2)): (int(m.group(3)), m.group(4))
            for m in map(INSTRUCTIONS_ROW.match, lines) if m}
    assert set(rows) == {("tinyserver", "/healthz"), ("tinyserver", "/"),
                         ("tinyserver", "/metrics"),
                         ("tinyserver", "/bench?threads=1&iterations=1000"),
                         ("tinyserver, buffered access log to a file", "/healthz"),
                         ("tinyserver, access log, a write per line", "/healthz"),
                         ("nginx, bench/nginx.conf", "/healthz"),
                         ("nginx, bench/nginx-minimal.conf", "/healthz")}, lines
    assert all(count > 0 for count, _ in rows.values()), rows
    assert rows[("nginx, bench/nginx.conf", "/healthz")][1] == "1.00", rows
    parts = [int(m.group(2).replace(",", "")) for m in map(PART_ROW.match, lines) if m]
    totals = [int(m.group(1).replace(",", "")) for m in map(PART_TOTAL.match, lines) if m]
    assert len(parts) >= 10 and len(totals) == 1, lines
    assert abs(sum(parts) - totals[0]) <= len(parts), (parts, totals)
    assert abs(totals[0] - rows[("tinyserver", "/healthz")][0]) <= 1, (totals, rows)
    assert any(line.startswith("- Machine: ") for line in lines), lines
    assert any(line.startswith("- Load average") for line in lines), lines
    assert any(line.startswith("- Command: `bench/http.sh --mode instructions --requests 50")
               for line in lines), lines


THROUGHPUT_ROW = re.compile(r"^\| (?P<server>[^|]+) \| GET (?P<path>\S+) \(wrk -t\d+ -c\d+\) \| "
                            r"(?P<median>\d+) \| (?P<min>\d+) \| (?P<max>\d+) \| [\d.]+ ms \| "
                            r"[\d.]+ ms \| (?P<errors>\d+) \| (?P<vs>[\d.]+x|-) \| "
                            r"(?P<cpu>[\d.]+) µs \| (?P<user>[\d.]+) µs \| "
                            r"(?P<system>[\d.]+) µs \|$")


def test_throughput_rounds_cover_every_server(tmp_path):
    """bench/http.sh in one short round: every row ran (tinyserver with and
    without the access log, both nginx configurations, Go, and tinyserver's
    other routes), each logging server wrote a line per request (the script
    stops otherwise), nginx's own ratio is 1.00x, and the per-round ratios,
    load and command are recorded. One-second runs: only the shape."""
    proc = subprocess.run([str(REPO / "bench" / "http.sh"), "--rounds", "1", "--duration", "1",
                           "--connections", "8", "--bin", str(BINARY), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = (tmp_path / "http-throughput.md").read_text().splitlines()
    rows = [m.groupdict() for m in map(THROUGHPUT_ROW.match, lines) if m]
    paths = sorted(row["path"] for row in rows)
    assert paths == sorted(["/healthz"] * 6 + ["/", "/metrics",
                                                "/bench?threads=1&iterations=1000"]), lines
    assert all(int(row["min"]) <= int(row["median"]) <= int(row["max"]) for row in rows), rows
    assert all(int(row["median"]) > 0 and float(row["cpu"]) > 0 for row in rows), rows
    nginx = [row for row in rows if row["server"].endswith("bench/nginx.conf")]
    assert len(nginx) == 1 and nginx[0]["vs"] == "1.00x", rows
    assert any(line.startswith("- tinyserver against nginx, round by round: ") for line in lines)
    assert any(line.startswith("- Access log on against off, round by round: buffered ")
               for line in lines), lines
    assert any(line.startswith("- Load average (1, 5, 15 min) before: ") for line in lines)
    assert any(line.startswith("- Command: `bench/http.sh --rounds 1 --duration 1")
               for line in lines), lines
    with open(tmp_path / "http-throughput.csv", newline="") as f:
        runs = list(csv.DictReader(f))
    assert len(runs) == 9 and all(float(run["requests_per_sec"]) > 0 for run in runs), runs
    # Each run's CPU time is its user and system time (rounded to 0.01 µs).
    assert all(abs(float(run["server_user_us_per_request"])
                   + float(run["server_system_us_per_request"])
                   - float(run["server_cpu_us_per_request"])) <= 0.02 for run in runs), runs


IDLE_ROW = re.compile(r"^\| (?P<server>[^|]+) \| (?P<before>\d+) \(\d+-\d+\) \| "
                      r"(?P<held>\d+) \(\d+-\d+\) \| (?P<per>-?\d+) \(-?\d+--?\d+\) \| "
                      r"(?P<after>\d+) \(\d+-\d+\) \| (?P<returned>-?\d+) \(-?\d+--?\d+\) \| "
                      r"(?P<open>\d+) of (?P<count>\d+) \(fewest\) \|$")
SYSCALL_ROW = re.compile(r"^\| (?P<server>tinyserver[^|]+) \| (?P<per_request>[\d.]+) \| \d+ \| "
                         r"(?P<per_connection>[\d.]+) \| \d+ \|$")


def test_idle_memory_measures_every_build_beside_nginx(tmp_path):
    """bench/idle-memory.sh in one small round, the binary under test
    standing in for all three builds: an HTTP and an HTTPS row for nginx
    and each build, every client answered and still open when RSS was read,
    a system-call row per build, and the provenance. Only the shape."""
    proc = subprocess.run([str(REPO / "bench" / "idle-memory.sh"), "--bin", str(BINARY),
                           "--secure-bin", str(BINARY), "--musl-bin", str(BINARY),
                           "--connections", "40", "--tls-connections", "20", "--rounds", "1",
                           "--settle", "1", "--requests", "200", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = (tmp_path / "idle-memory.md").read_text().splitlines()
    rows = [m.groupdict() for m in map(IDLE_ROW.match, lines) if m]
    servers = ["nginx", "tinyserver, mimalloc build", "tinyserver, mimalloc-secure build",
               "tinyserver, musl build"]
    for count in ("40", "20"):
        table = [row for row in rows if row["count"] == count]
        assert [row["server"].split(" 1.")[0] for row in table] == servers, lines
        assert all(row["open"] == count for row in table), table
        assert all(int(row["held"]) >= int(row["before"]) > 0 for row in table), table
    calls = [m.groupdict() for m in map(SYSCALL_ROW.match, lines) if m]
    assert [row["server"] for row in calls] == servers[1:], lines
    assert all(float(row["per_request"]) > 0 and float(row["per_connection"]) > 0
               for row in calls), calls
    assert any(line.startswith("- Command: `bench/idle-memory.sh --bin ") for line in lines), lines
    assert any(line.startswith("- Load average (1, 5, 15 min) before: ") for line in lines)
