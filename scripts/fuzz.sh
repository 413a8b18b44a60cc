#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ and runs each for a bounded time,
# then reports, per target, the executions, the coverage (edges and
# features, libFuzzer's "cov" and "ft") and the corpus size.
#
# The build: Debian's clang on the host's glibc, everything (the pinned
# dependencies too, in their own prefix deps/clang-fuzz) instrumented for
# coverage with -fsanitize=fuzzer-no-link plus ASan and UBSan, into
# build-fuzz with -Dfuzzing=true. BearSSL is built without a system seeder
# (BR_RDRAND=0, BR_USE_URANDOM=0), so the TLS engine is deterministic under
# the fuzzer's fixed seed, and without its unaligned-access fast path (see
# scripts/sanitize.sh). Seeds: fuzz/seeds/<target>/ (in the repository)
# plus, for the TLS target, ClientHellos and recorded sessions that
# fuzz/make_tls_seeds.py writes. What the fuzzer learns accumulates in
# build-fuzz/corpus/<target>/; crashes land in build-fuzz/artifacts/.
#
# Exit status: 0 when every target ran its time without a finding.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

TARGETS=(fuzz_bench_params fuzz_config fuzz_tls_records)

usage() {
	cat <<EOF
usage: scripts/fuzz.sh [-h] [--list] [--build-only | --no-build] [SECONDS [TARGET...]]
Build the fuzz targets (build-fuzz) and run each for SECONDS (default 60).
  --list        print the target names and exit
  --build-only  build (and make the seeds), run nothing
  --no-build    run what build-fuzz already has
targets: ${TARGETS[*]}
EOF
}

build=1 run=1 list=0 arguments=()
parse_options "--list=list:1 --build-only=run:0 --no-build=build:0 @=arguments" "$@"
if ((list)); then
	printf '%s\n' "${TARGETS[@]}"
	exit 0
fi
seconds=${arguments[0]:-60}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive integer, not '$seconds'"
selected=("${arguments[@]:1}")
((${#selected[@]})) || selected=("${TARGETS[@]}")
for target in "${selected[@]}"; do
	[[ " ${TARGETS[*]} " == *" $target "* ]] || die "unknown target '$target' (${TARGETS[*]})"
done

builddir=$REPO/build-fuzz
work=$builddir/fuzz-work
certs=$work/tls-certs

build_targets() {
	if [[ $(id -u) -eq 0 ]]; then
		"$REPO/scripts/setup.sh" build fuzz
	else
		need_cmd clang meson ninja openssl
	fi
	local sanitizers=address,undefined
	local instrument="-fsanitize=fuzzer-no-link,$sanitizers -fno-omit-frame-pointer -g"
	ASAN_OPTIONS=detect_leaks=0 \
		DEPS_CFLAGS="$instrument -DBR_RDRAND=0 -DBR_USE_URANDOM=0 -DBR_LE_UNALIGNED=0 -DBR_BE_UNALIGNED=0" \
		DEPS_LDFLAGS="-fsanitize=$sanitizers" \
		"$REPO/scripts/deps.sh" --toolchain clang --variant fuzz
	local deps_dir options
	deps_dir=$("$REPO/scripts/deps.sh" --toolchain clang --variant fuzz --print-prefix)
	options=(-Dfuzzing=true -Dallocator=musl -Djemalloc=disabled -Dstatic_link=false -Db_sanitize="$sanitizers"
		-Db_lundef=false -Dbuildtype=debugoptimized -Dc_args=-fsanitize=fuzzer-no-link
		-Ddeps_dir="$deps_dir")
	meson_prepare "$builddir" "$REPO/scripts/meson/clang.ini" "${options[@]}" >/dev/null
	meson compile -C "$builddir" >/dev/null
	[[ -f $certs/server-ec.key ]] || "$REPO/certs/generate.sh" "$certs" >/dev/null
	# Recorded against this very build's engine, so always made afresh.
	rm -rf "$work/seeds/fuzz_tls_records"
	ASAN_OPTIONS=detect_leaks=0 /usr/bin/python3 "$REPO/fuzz/make_tls_seeds.py" \
		"$builddir/fuzz/tls_transcript" "$certs" "$work/seeds/fuzz_tls_records" >&2
	log "built ${TARGETS[*]} in $builddir/fuzz"
}

# run_target NAME: one bounded run; prints the summary line, returns
# libFuzzer's status.
run_target() {
	local name=$1 corpus=$work/corpus/$1 artifacts=$work/artifacts/$1/ logf=$work/$1.log
	local seeds=() rc=0
	mkdir -p "$corpus" "$artifacts"
	[[ -d $REPO/fuzz/seeds/$name ]] && seeds+=("$REPO/fuzz/seeds/$name")
	[[ -d $work/seeds/$name ]] && seeds+=("$work/seeds/$name")
	# Any sanitizer finding stops the run and counts as a crash.
	FUZZ_TLS_DIR=$certs \
		ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:allocator_may_return_null=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$builddir/fuzz/$name" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$artifacts" "$corpus" "${seeds[@]}" \
		>"$logf" 2>&1 || rc=$?
	# libFuzzer's last status line ("#N DONE cov: C ft: F corp: K/..") and
	# its final stats give the figures.
	awk -v name="$name" -v secs="$seconds" -v rc="$rc" '
		/^#[0-9]+/ && / cov: / {
			for (i = 1; i <= NF; i++) {
				if ($i == "cov:") cov = $(i + 1)
				if ($i == "ft:") ft = $(i + 1)
				if ($i == "corp:") corp = $(i + 1)
			}
		}
		/^stat::number_of_executed_units:/ { execs = $2 }
		/^stat::average_exec_per_sec:/ { rate = $2 }
		/^stat::peak_rss_mb:/ { rss = $2 }
		END {
			printf "fuzz: %s %ss: %s execs (%s/s), cov %s, ft %s, corpus %s, peak rss %s MB, %s\n",
				name, secs, execs + 0, rate + 0, cov + 0, ft + 0, corp == "" ? "0" : corp,
				rss + 0, rc == 0 ? "clean" : "FAILED (exit " rc ")"
		}' "$logf"
	if ((rc != 0)); then
		grep -E "ERROR|runtime error|SUMMARY|Test unit written|^fuzz_" "$logf" | head -n 20 >&2 || true
		warn "$name: see $logf and $artifacts"
	fi
	return "$rc"
}

((build)) && build_targets
((run)) || exit 0
[[ -x $builddir/fuzz/${selected[0]} ]] || die "no fuzz build in $builddir (run without --no-build)"
status=0
for target in "${selected[@]}"; do
	run_target "$target" || status=1
done
exit "$status"
