# shellcheck shell=bash
# Instructions per benchmark operation, counted by callgrind: `--bench` with
# one thread, run with N and with 2N iterations, so that everything outside
# the workload's loop (start-up, threads, the JSON) cancels out in the
# difference. Sourced after scripts/lib/common.sh, never run; needs valgrind.

# callgrind_per_operation WORK_DIR BINARY WORKLOAD N [ARG]...: prints
# (I(2N) - I(N)) / N with two decimals; ARGs go to the binary (--allocator).
callgrind_per_operation() {
	local work=$1 binary=$2 workload=$3 n=$4 its counts=()
	shift 4
	for its in "$n" "$((2 * n))"; do
		valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" "$binary" --bench \
			--threads 1 --workload "$workload" --iterations "$its" "$@" >/dev/null 2>&1 ||
			die "callgrind: $binary --bench --workload $workload --iterations $its $* failed"
		counts+=("$(callgrind_annotate "$work/callgrind.out" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')")
	done
	awk -v a="${counts[0]}" -v b="${counts[1]}" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }'
}
