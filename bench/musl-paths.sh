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
# shellcheck source=scripts/lib/callgrind.sh
. "$REPO/scripts/lib/callgrind.sh"

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
parse_options "--iterations=iterations --out=out" "$@"
[[ $iterations =~ ^[1-9][0-9]*$ ]] || die "--iterations takes a whole number from 1"
need_cmd valgrind callgrind_annotate
in_binary=$REPO/build/src/tinyserver
musl_build=$REPO/build-musl/src/tinyserver
for b in "$in_binary" "$musl_build"; do
	[[ -x $b ]] || die "no $b (scripts/build.sh; scripts/build.sh --allocator musl --builddir build-musl)"
done
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

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
		a=$(callgrind_per_operation "$work" "$in_binary" "$workload" "$iterations" --allocator musl)
		b=$(callgrind_per_operation "$work" "$musl_build" "$workload" "$iterations")
		awk -v w="$workload" -v a="$a" -v b="$b" 'BEGIN { printf "| %s | %s | %s | %.2f |\n", w, a, b, a / b }'
	done
	echo
	report_context "$command_line" "Tools: $(valgrind --version)"
} >"$work/report.md"
mkdir -p "$(dirname -- "$out")"
cp "$work/report.md" "$out"
cat "$out"
