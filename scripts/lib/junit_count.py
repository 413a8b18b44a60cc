#!/usr/bin/env python3
"""Counts the tests of one or more pytest runs for scripts/test.sh.

usage: junit_count.py EXIT_STATUS:JUNIT_XML...

Each argument is one run: pytest's exit status and its JUnit report. The
last line printed is the count CI reads, exactly "N passed, N failed"; the
skipped count goes on the line before. A run that failed without a failed
test in its report (nothing collected, a crash, no report at all) counts as
one failure, so the line and the exit status (0 only when nothing failed)
always agree.
"""
import sys
import xml.etree.ElementTree as ET
passed = failed = skipped = 0
for run in sys.argv[1:]:
    exit_status, path = run.split(":", 1)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as error:
        print(f"no test report {path}: {error}", file=sys.stderr)
        failed += 1
        continue
    suites = [root] if root.tag == "testsuite" else list(root)
    run_total = sum(int(s.get("tests", 0)) for s in suites)
    run_failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    run_skipped = sum(int(s.get("skipped", 0)) for s in suites)
    passed += run_total - run_failed - run_skipped
    skipped += run_skipped
    failed += run_failed
    if exit_status != "0" and run_failed == 0:
        print(f"{path}: pytest exited {exit_status} with no failed test", file=sys.stderr)
        failed += 1
if passed == 0 and failed == 0:
    print("no test passed", file=sys.stderr)
    failed = 1
# The count CI reads is the last line, exactly "N passed, N failed".
print(f"{skipped} skipped")
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
