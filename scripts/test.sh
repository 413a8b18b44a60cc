#!/usr/bin/env bash
# The README's second command: set up a bare Debian 12 (as root), build, and
# run every test: the C unit programs, the integration tests against the
# real binary with curl, the binary checks, both container images, and the
# short fuzz and soak runs (tests/pytest.ini). Extra arguments go to pytest
# (e.g. -k keepalive). The last line is the count: "N passed, N failed".
# --allocator NAME tests another allocator variant instead of the default
# mimalloc build, built in build-NAME; the tests then expect that allocator.
# The default run also runs the unit, integration, docs, build and scripts
# tests again on the ASan + UBSan build (scripts/sanitize.sh), so CI covers it; --no-sanitize
# leaves that out for a quicker local run, and so do pytest arguments (they
# pick tests from the whole tree; run scripts/sanitize.sh with them instead).
# It also cross-builds for the other architecture (arm64 on an amd64 machine)
# and runs the unit programs and part of the integration suite against that
# binary under qemu-user; --no-cross leaves that out, and so do pytest
# arguments and --allocator.
# --under-load runs all of it beside `stress-ng --cpu N` (N: the CPUs
# available), started once the build is done and stopped at the end, to
# show that no test depends on an idle machine.
# Options come before pytest arguments.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=scripts/lib/arch.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/arch.sh"

# The part of the suite run against the cross-built binary under qemu-user:
# the binary's own facts, the API, validation, lifecycle, HTTP protocol,
# TLS, metrics and logs, the OpenAPI contract and concurrent /bench runs.
# Left out: what builds or runs other binaries (variants, docs, bench
# harness) and the slow limit and fault tests, to keep CI's time in bounds.
CROSS_TESTS=(unit build/test_binary.py integration/test_api.py
	integration/test_validation.py integration/test_lifecycle.py integration/test_protocol.py
	integration/test_tls.py integration/test_observability.py docs/test_openapi.py
	integration/test_concurrency.py)

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	echo "usage: scripts/test.sh [--allocator mimalloc|mimalloc-secure|musl|jemalloc] [--no-sanitize]"
	echo "                      [--no-cross] [--under-load] [PYTEST_ARG]..."
	echo "       (set up, build, run all tests; options before pytest arguments)"
	exit 0
fi

allocator=mimalloc
sanitize=1
cross=1
under_load=0
while (($#)); do
	case $1 in
	--under-load)
		under_load=1
		shift
		;;
	--allocator)
		allocator=${2:?--allocator needs a value}
		shift 2
		;;
	--no-sanitize)
		sanitize=0
		shift
		;;
	--no-cross)
		cross=0
		shift
		;;
	*) break ;;
	esac
done
if (($#)); then
	sanitize=0
	cross=0
fi
builddir=$REPO/build
if [[ $allocator != mimalloc ]]; then
	builddir=$REPO/build-$allocator
	# The sanitizer build has one allocator (ASan's): run it once, with
	# the default build.
	sanitize=0
	cross=0
fi
cross_arch=
for a in $ARCHES; do
	arch_is_cross "$a" && cross_arch=$a && break
done

if [[ $(id -u) -eq 0 ]]; then
	"$REPO/scripts/setup.sh" build test container fuzz soak
fi
"$REPO/scripts/test-tools.sh"
"$REPO/scripts/build.sh" --allocator "$allocator" --builddir "$builddir"
if ((cross)); then
	"$REPO/scripts/build.sh" --arch "$cross_arch" --builddir "$REPO/build-$cross_arch"
fi

if ((under_load)); then
	need_cmd stress-ng
	load_cpus=$(nproc)
	log "running the tests beside stress-ng --cpu $load_cpus"
	stress-ng --cpu "$load_cpus" --quiet &
	load_pid=$!
	# Only the stress-ng this script started; whatever way the script ends.
	trap 'kill -TERM "$load_pid" 2>/dev/null || true; wait "$load_pid" 2>/dev/null || true' EXIT
fi

results=$REPO/tests/.results
mkdir -p "$results"
rm -f "$results"/junit*.xml
# Debian's python3 is named explicitly: a pyenv or venv python earlier on
# PATH would not see the python3-pytest package.
release_status=0
(cd "$REPO/tests" && TINYSERVER_BUILD="$builddir" TINYSERVER_BIN="$builddir/src/tinyserver" \
	TINYSERVER_EXPECT_ALLOCATOR="$allocator" /usr/bin/python3 -m pytest \
	-p no:cacheprovider -ra --junitxml="$results/junit.xml" "$@") || release_status=$?
runs=("$release_status:$results/junit.xml")

if ((cross)); then
	cross_status=0
	log "the $cross_arch build under $(arch_qemu "$cross_arch"): ${CROSS_TESTS[*]}"
	(cd "$REPO/tests" && TINYSERVER_BUILD="$REPO/build-$cross_arch" \
		TINYSERVER_BIN="$REPO/build-$cross_arch/src/tinyserver" \
		TINYSERVER_BIN_RUNNER="$(arch_qemu "$cross_arch")" TINYSERVER_EXPECT_ARCH="$cross_arch" \
		/usr/bin/python3 -m pytest -p no:cacheprovider -ra \
		--junitxml="$results/junit-$cross_arch.xml" "${CROSS_TESTS[@]}") || cross_status=$?
	runs+=("$cross_status:$results/junit-$cross_arch.xml")
fi

if ((sanitize)); then
	sanitize_status=0
	"$REPO/scripts/sanitize.sh" --junitxml="$results/junit-sanitize.xml" || sanitize_status=$?
	runs+=("$sanitize_status:$results/junit-sanitize.xml")
fi

# pytest's own summary is not the plain line CI counts, so the count is
# taken from the JUnit files: the release build's run and, by default, the
# sanitizer build's. The line and the exit status must agree: a run that
# failed without a failed test in its report (nothing collected, a crash,
# no report at all) counts as one failure.
status=0
/usr/bin/python3 "$REPO/scripts/lib/junit_count.py" "${runs[@]}" || status=1
exit "$status"
