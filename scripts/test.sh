#!/usr/bin/env bash
# The README's second command: set up a bare Debian 12 (as root), build, and
# run every test: the C unit programs, the integration tests against the
# real binary with curl, and the binary checks. Extra arguments go to pytest
# (e.g. -k keepalive). The last line is the count: "N passed, N failed".
# --allocator NAME tests another allocator variant instead of the default
# mimalloc build, built in build-NAME; the tests then expect that allocator.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	echo "usage: scripts/test.sh [--allocator mimalloc|mimalloc-secure|musl] [PYTEST_ARG]..."
	echo "       (set up, build, run all tests)"
	exit 0
fi

allocator=mimalloc
builddir=$REPO/build
if [[ ${1:-} == --allocator ]]; then
	allocator=${2:?--allocator needs a value}
	shift 2
	if [[ $allocator != mimalloc ]]; then
		builddir=$REPO/build-$allocator
	fi
fi

if [[ $(id -u) -eq 0 ]]; then
	"$REPO/scripts/setup.sh" build test container fuzz
fi
"$REPO/scripts/build.sh" --allocator "$allocator" --builddir "$builddir"

results=$REPO/tests/.results
mkdir -p "$results"
rm -f "$results/junit.xml"
status=0
# Debian's python3 is named explicitly: a pyenv or venv python earlier on
# PATH would not see the python3-pytest package.
(cd "$REPO/tests" && TINYSERVER_BUILD="$builddir" TINYSERVER_BIN="$builddir/src/tinyserver" \
	TINYSERVER_EXPECT_ALLOCATOR="$allocator" /usr/bin/python3 -m pytest \
	-p no:cacheprovider -ra --junitxml="$results/junit.xml" "$@") || status=$?

# pytest's own summary is not the plain line CI counts, and a run that
# collected nothing must not pass, so the count is taken from the JUnit file.
/usr/bin/python3 - "$results/junit.xml" <<'PY' || status=1
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError) as error:
    print(f"no test report: {error}", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)
suites = [root] if root.tag == "testsuite" else list(root)
total = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
passed = total - failed - skipped
line = f"{passed} passed, {failed} failed"
print(line + (f", {skipped} skipped" if skipped else ""))
sys.exit(0 if failed == 0 and passed > 0 else 1)
PY
exit "$status"
