#!/usr/bin/env bash
# The sanitizer run: builds tinyserver and its pinned dependencies with
# AddressSanitizer and UndefinedBehaviorSanitizer, then runs the unit
# programs and the whole integration suite against that binary, with the
# docs, build and scripts tests (tests/docs, tests/build, tests/scripts).
#
# Sanitizers need the host's dynamic glibc runtime, so this build differs
# from the release binary on purpose: deps.sh --toolchain host (gcc, glibc)
# into its own prefix (deps/host-sanitize, instrumented as well), Meson into
# build-sanitize with -Db_sanitize=address,undefined, -Dstatic_link=false
# and -Dallocator=musl (no override: ASan's allocator serves malloc). The
# suite is told (TINYSERVER_EXPECT_ALLOCATOR=asan) and skips, with that
# reason, only the facts a static musl release binary has; it fails on any
# sanitizer report in any process's output, and ASan, LeakSanitizer and
# UBSan all stop the process at their first finding.
#
# Extra arguments go to pytest (e.g. -k limits, or --junitxml=FILE).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
	cat <<EOF
usage: scripts/sanitize.sh [-h] [--build-only] [PYTEST_ARG]...
Build build-sanitize (ASan + UBSan, glibc) and run the unit programs and the
integration, docs, build and scripts tests against it. Ends with pytest's
summary; exit 0 when clean.
  --build-only   build, run nothing
EOF
}

build_only=0
case ${1:-} in
-h | --help)
	usage
	exit 0
	;;
--build-only)
	build_only=1
	shift
	;;
esac

SANITIZERS=address,undefined
builddir=$REPO/build-sanitize

if [[ $(id -u) -eq 0 ]]; then
	"$REPO/scripts/setup.sh" build test
else
	need_cmd gcc meson ninja
fi
"$REPO/scripts/test-tools.sh"

# The dependencies are instrumented too, so a bad access inside
# libmicrohttpd, cJSON or BearSSL is caught where it happens. Their
# configure scripts run test programs that leak by design: no leak checks
# while building.
#
# BearSSL reads 64-bit words at unaligned addresses through a union on x86
# (BR_LE_UNALIGNED, src/inner.h); that is undefined in ISO C, meant by
# BearSSL and harmless on x86, and UBSan stops at it. BearSSL's own switches
# select its byte-wise decoders instead, so UBSan's alignment check stays on
# for every other line of code.
ASAN_OPTIONS=detect_leaks=0 \
	DEPS_CFLAGS="-fsanitize=$SANITIZERS -fno-omit-frame-pointer -g -DBR_LE_UNALIGNED=0 -DBR_BE_UNALIGNED=0" \
	DEPS_LDFLAGS="-fsanitize=$SANITIZERS" \
	"$REPO/scripts/deps.sh" --toolchain host --variant sanitize
deps_dir=$("$REPO/scripts/deps.sh" --toolchain host --variant sanitize --print-prefix)

# debugoptimized: -O2 keeps the suite's timing assumptions, -g gives
# reports with file and line. b_lundef would trip on the runtimes' symbols.
options=(-Dallocator=musl -Djemalloc=disabled -Dstatic_link=false -Db_sanitize="$SANITIZERS" -Db_lundef=false
	-Dbuildtype=debugoptimized -Ddeps_dir="$deps_dir")
meson_prepare "$builddir" "$REPO/scripts/meson/host.ini" "${options[@]}"
meson compile -C "$builddir"
log "built $builddir/src/tinyserver"
((build_only)) && exit 0

# Stop at the first finding of any kind, with a stack, and make every
# process (the server, one-shot commands, unit programs) report leaks on
# exit. The suite checks stderr for reports besides the exit statuses.
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:report_error_type=1
log "ASAN_OPTIONS=$ASAN_OPTIONS"
log "UBSAN_OPTIONS=$UBSAN_OPTIONS"

# Debian's python3 is named explicitly: a pyenv or venv python earlier on
# PATH would not see the python3-pytest package.
cd "$REPO/tests"
TINYSERVER_BUILD="$builddir" TINYSERVER_BIN="$builddir/src/tinyserver" \
	TINYSERVER_EXPECT_ALLOCATOR=asan exec /usr/bin/python3 -m pytest -p no:cacheprovider -ra \
	unit integration docs build scripts "$@"
