#!/usr/bin/env python3
"""Keeps the figures in the docs equal to the scripts' results files.

A doc embeds a results file (written by the script that measured it, ending
with its provenance block; see scripts/lib/report.sh) between two markers:

    <!-- figures: bench/results/NAME.md -->
    ...the file's text, without its "# " title line...
    <!-- /figures -->

--write copies each results file into its regions. --check exits 1, naming
the doc, the line and the results file, when a region differs from its file
(or the file is missing), and also when a Markdown table of measured figures
(rows with units such as req/s, ops/s, instructions, ms, KiB, MB or B) sits
outside a figures region, unless its header row is in ALLOWED_TABLES: tables
that state no measurement (defaults, limits, targets quoted from regions).
Without FILE arguments, both act on README.md and docs/*.md.

usage: scripts/docs-figures.py (--write | --check) [--root DIR] [FILE...]
"""
import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BEGIN = re.compile(r"^<!-- figures: (\S+) -->$")
END = "<!-- /figures -->"
FENCE = re.compile(r"^(```|~~~)")

# A number followed by a unit of something measured: "61,552 req/s",
# "0.97 ms", "928 KiB", "2.19M ops/s", "45871 bytes".
MEASURED_UNIT = re.compile(
    r"\d[\d,.]*\s?[kMG]?\s?(?:req/s|ops/s|handshakes/s|instructions|ms|µs|s|"
    r"KiB|MiB|GiB|KB|kB|MB|GB|B|bytes)(?![\w/])"
    # or a rate written with its multiplier alone, as the tables do: "2.19M", "968k"
    r"|\b\d+(?:\.\d+)?[kM]\b")
# Column titles that make every number below them a measurement.
MEASURED_HEADER = re.compile(
    r"req/s|ops/s|handshakes/s|instructions|elapsed|RSS|uncompressed|compressed")

# Tables whose figures are not measurements, by their header row: each says why.
ALLOWED_TABLES = {
    "| Flag | Environment | Default | Meaning |":
        "the configuration table: defaults and limits, generated from src/app/config.c",
    "| metric | type | labels |":
        "the metrics the server exports, not their values",
    "| target | measured | |":
        "the targets, each measured figure quoted from a figures region above it",
    "| Method and path | Success | Errors |":
        "the API table: routes and statuses",
    "| | `Dockerfile` | `Dockerfile.alpine` |":
        "what each image holds and how it is set up",
}
# reliability.md's tables record test cases: what was sent and what the
# tests assert (timeouts, limits), not benchmark figures.
ALLOWED_TABLES.update({header: "test cases of docs/reliability.md" for header in (
    "| Limit | Sent | Expected | What happened | Rerun |",
    "| Case | Sent | Expected | What happened | Rerun |",
    "| Case | Sent | Answer | Why that is right |",
    "| Limit | Behaviour | Log (info) | Metric | Test |",
    "| Case | Done | Expected | What happened | Rerun |",
    "| Finding | Fix | Before the fix | Test |",
)})

class Region:
    def __init__(self, results, begin, end):
        self.results = results  # path as written in the marker
        self.begin = begin  # index of the marker line
        self.end = end  # index of the END line


def results_text(root, name):
    """The text a region holds for results file NAME: the file without its
    leading "# " title line and the blank lines after it."""
    lines = (root / name).read_text().splitlines(keepends=True)
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
        while lines and not lines[0].strip():
            lines = lines[1:]
    return "".join(lines)


def find_regions(doc, lines):
    """The figures regions of a doc's lines; a ValueError for a marker without
    its end, or an end without its marker."""
    regions, open_region = [], None
    for number, line in enumerate(lines):
        stripped = line.rstrip("\n")
        match = BEGIN.match(stripped)
        if match:
            if open_region is not None:
                raise ValueError(f"{doc}:{number + 1}: figures region opened inside another")
            open_region = (match.group(1), number)
        elif stripped == END:
            if open_region is None:
                raise ValueError(f"{doc}:{number + 1}: {END} without its opening marker")
            regions.append(Region(open_region[0], open_region[1], number))
            open_region = None
    if open_region is not None:
        raise ValueError(f"{doc}:{open_region[1] + 1}: figures region never closed")
    return regions


def measured(table):
    header, rows = table[0], table[2:]
    if MEASURED_HEADER.search(header) and any(re.search(r"\d", row) for row in rows):
        return True
    return any(MEASURED_UNIT.search(row) for row in rows)


def loose_tables(doc, lines, regions):
    """Tables of measured figures outside every figures region, as
    (line number, header row), less the allowed ones."""
    inside = set()
    for region in regions:
        inside.update(range(region.begin, region.end + 1))
    found, table, start, fenced = [], [], 0, False

    def close():
        if len(table) >= 3 and table[0] not in ALLOWED_TABLES and measured(table):
            found.append((start + 1, table[0]))

    for number, line in enumerate(lines + ["\n"]):
        text = line.rstrip("\n").strip()
        if FENCE.match(text):
            fenced = not fenced
        is_row = not fenced and number not in inside and text.startswith("|")
        if is_row:
            if not table:
                start = number
            table.append(re.sub(r"\s+", " ", text))
            continue
        if table:
            close()
            table = []
    return found


def process(root, doc_path, write):
    """Returns the problems of one doc (after rewriting it, with write)."""
    doc = doc_path.relative_to(root).as_posix() if doc_path.is_relative_to(root) else str(doc_path)
    lines = doc_path.read_text().splitlines(keepends=True)
    try:
        regions = find_regions(doc, lines)
    except ValueError as error:
        return [str(error)]
    problems, out, copied = [], [], 0
    for region in regions:
        if not (root / region.results).is_file():
            problems.append(f"{doc}:{region.begin + 1}: region {region.results}: no such results file")
            continue
        want = results_text(root, region.results)
        have = "".join(lines[region.begin + 1:region.end])
        if have != want:
            if not write:
                problems.append(f"{doc}:{region.begin + 1}: region {region.results} differs from"
                                " the results file (scripts/docs-figures.py --write copies it)")
            out.append((region, want))
    if write and out:
        for region, want in reversed(out):
            lines[region.begin + 1:region.end] = [want]
            copied += 1
        doc_path.write_text("".join(lines))
        print(f"{doc}: {copied} region(s) copied")
        lines = doc_path.read_text().splitlines(keepends=True)
        regions = find_regions(doc, lines)
    for number, header in loose_tables(doc, lines, regions):
        problems.append(f"{doc}:{number}: a table of measured figures outside a figures region:"
                        f" {header}")
    return problems


def main():
    parser = argparse.ArgumentParser(
        description="Copy bench/results/*.md into the docs' figures regions, or check them.")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="copy each results file into its regions")
    mode.add_argument("--check", action="store_true", help="exit 1 when a region or table is off")
    parser.add_argument("--root", type=Path, default=REPO,
                        help="the tree results paths are relative to (default: this repository)")
    parser.add_argument("files", nargs="*", type=Path, help="docs (default: README.md docs/*.md)")
    args = parser.parse_args()
    root = args.root.resolve()
    files = [f.resolve() for f in args.files] or \
        [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    problems = []
    for path in files:
        problems += process(root, path, args.write)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
