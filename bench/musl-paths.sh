#!/usr/bin/env bash
# Is the in-binary musl figure (/bench?allocator=musl in the default build)
# the musl build's figure (-Dallocator=musl)? Both call the same mallocng;
# this counts the instructions each executes per operation with callgrind
# (`--bench`, one thread, by difference of N and 2N iterations, so start-up
# cancels out), which, unlike wall time on a shared machine, does not depend
# on the neighbours. Writes bench/results/musl-paths.md (or --out), ending
# with the machine, date, load average and command.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
# shellcheck source=scripts/lib/report.sh
. "$REPO/scripts/lib/report.sh"

usage() {
	cat <<EOF
usage: bench/musl-paths.sh [-h] [--iterations N] [--out FILE]
Instructions per operation: build/src/tinyserver --allocator musl against
build-musl/src/tinyserver (scripts/build.sh --allocator musl --builddir build-musl).
  --iterations N  N of the N and 2N runs (default 200000)
  --out FILE      the report (default: bench/results/musl-paths.md)
EOF
}

iterations=200000 out=$REPO/bench/results/musl-paths.md
command_line="bench/musl-paths.sh${*:+ $*}"
while (($#)); do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--iterations | --out)
		(($# >= 2)) || die "$1 needs a value"
		[[ $1 == --out ]] && out=$2 || iterations=$2
		shift 2
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
done
[[ $iterations =~ ^[1-9][0-9]*$ ]] || die "--iterations takes a whole number from 1"
need_cmd valgrind callgrind_annotate
in_binary=$REPO/build/src/tinyserver
musl_build=$REPO/build-musl/src/tinyserver
for b in "$in_binary" "$musl_build"; do
	[[ -x $b ]] || die "no $b (scripts/build.sh; scripts/build.sh --allocator musl --builddir build-musl)"
done
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

# instructions BINARY WORKLOAD ITERATIONS [ARG]...: callgrind's program total.
instructions() {
	local binary=$1 workload=$2 its=$3
	shift 3
	valgrind --tool=callgrind --callgrind-out-file="$work/cg" "$binary" --bench --threads 1 \
		--workload "$workload" --iterations "$its" "$@" >/dev/null 2>&1
	callgrind_annotate "$work/cg" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

# per_operation BINARY WORKLOAD [ARG]...: (I(2N) - I(N)) / N.
per_operation() {
	local binary=$1 workload=$2 one two
	shift 2
	one=$(instructions "$binary" "$workload" "$iterations" "$@")
	two=$(instructions "$binary" "$workload" $((2 * iterations)) "$@")
	awk -v a="$one" -v b="$two" -v n="$iterations" 'BEGIN { printf "%.1f", (b - a) / n }'
}

report_begin
{
	echo "# musl's malloc in the default build and in the musl build"
	echo
	echo "Instructions per operation (one thread, by difference of $iterations and $((2 * iterations)) iterations, callgrind)."
	echo
	echo "| workload | in-binary musl (\`build/src/tinyserver --allocator musl\`) | musl build (\`build-musl/src/tinyserver\`) | in-binary / build |"
	echo "| --- | ---: | ---: | ---: |"
	for workload in seed larson; do
		log "$workload"
		a=$(per_operation "$in_binary" "$workload" --allocator musl)
		b=$(per_operation "$musl_build" "$workload")
		awk -v w="$workload" -v a="$a" -v b="$b" 'BEGIN { printf "| %s | %s | %s | %.2f |\n", w, a, b, a / b }'
	done
	echo
	report_context "$command_line" "Tools: $(valgrind --version)"
} >"$work/report.md"
mkdir -p "$(dirname -- "$out")"
cp "$work/report.md" "$out"
cat "$out"
