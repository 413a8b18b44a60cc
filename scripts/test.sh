#!/usr/bin/env bash
# The README's second command: set up a bare Debian 12 (as root), build, and
# run every test: the C unit programs, the integration tests against the
# real binary with curl, the binary checks, both container images, and the
# short fuzz and soak runs (tests/pytest.ini). Extra arguments go to pytest
# (e.g. -k keepalive). The last line is the count: "N passed, N failed".
# --allocator NAME tests another allocator variant instead of the default
# mimalloc build, built in build-NAME; the tests then expect that allocator.
# The default run also runs the unit and integration tests again on the
# ASan + UBSan build (scripts/sanitize.sh), so CI covers it; --no-sanitize
# leaves that out for a quicker local run.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	echo "usage: scripts/test.sh [--allocator mimalloc|mimalloc-secure|musl] [--no-sanitize] [PYTEST_ARG]..."
	echo "       (set up, build, run all tests)"
	exit 0
fi

allocator=mimalloc
sanitize=1
while (($#)); do
	case $1 in
	--allocator)
		allocator=${2:?--allocator needs a value}
		shift 2
		;;
	--no-sanitize)
		sanitize=0
		shift
		;;
	*) break ;;
	esac
done
builddir=$REPO/build
if [[ $allocator != mimalloc ]]; then
	builddir=$REPO/build-$allocator
	# The sanitizer build has one allocator (ASan's): run it once, with
	# the default build.
	sanitize=0
fi

if [[ $(id -u) -eq 0 ]]; then
	"$REPO/scripts/setup.sh" build test container fuzz soak
fi
"$REPO/scripts/test-tools.sh"
"$REPO/scripts/build.sh" --allocator "$allocator" --builddir "$builddir"

results=$REPO/tests/.results
mkdir -p "$results"
rm -f "$results/junit.xml" "$results/junit-sanitize.xml"
reports=("$results/junit.xml")
status=0
# Debian's python3 is named explicitly: a pyenv or venv python earlier on
# PATH would not see the python3-pytest package.
(cd "$REPO/tests" && TINYSERVER_BUILD="$builddir" TINYSERVER_BIN="$builddir/src/tinyserver" \
	TINYSERVER_EXPECT_ALLOCATOR="$allocator" /usr/bin/python3 -m pytest \
	-p no:cacheprovider -ra --junitxml="$results/junit.xml" "$@") || status=$?

if ((sanitize)); then
	"$REPO/scripts/sanitize.sh" --junitxml="$results/junit-sanitize.xml" "$@" || status=$?
	reports+=("$results/junit-sanitize.xml")
fi

# pytest's own summary is not the plain line CI counts, and a run that
# collected nothing must not pass, so the count is taken from the JUnit
# files: the release build's run and, by default, the sanitizer build's.
/usr/bin/python3 - "${reports[@]}" <<'PY' || status=1
import sys
import xml.etree.ElementTree as ET
total = failed = skipped = missing = 0
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as error:
        print(f"no test report {path}: {error}", file=sys.stderr)
        missing += 1
        continue
    suites = [root] if root.tag == "testsuite" else list(root)
    total += sum(int(s.get("tests", 0)) for s in suites)
    failed += sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped += sum(int(s.get("skipped", 0)) for s in suites)
passed = total - failed - skipped
failed += missing
line = f"{passed} passed, {failed} failed"
print(line + (f", {skipped} skipped" if skipped else ""))
sys.exit(0 if failed == 0 and passed > 0 else 1)
PY
exit "$status"
