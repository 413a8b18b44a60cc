#!/usr/bin/env bash
# Does the workers' stop check cost anything? Runs two or more tinyserver
# binaries side by side as servers and asks each for the same /bench runs,
# interleaved round by round (each round starting with the next binary), so
# load on this shared machine hits all alike.
# Prints, per workload and binary, the median ops/s and the spread (min-max).
# Then counts instructions per operation with callgrind (`--bench`, 1 thread,
# by difference of N and 2N iterations), which wall time cannot resolve at
# this scale. The report (also in --out, bench/results/stop-check.md by
# default) ends with the machine, date, load average and command.
#
# Typical use: the binary before a change, the binary after it, and one built
# with the check compiled out (see docs/benchmarks.md for how it was made).
# Every run's total_counter must equal its operations, or the script stops.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
# shellcheck source=scripts/lib/report.sh
. "$REPO/scripts/lib/report.sh"
# shellcheck source=scripts/lib/callgrind.sh
. "$REPO/scripts/lib/callgrind.sh"

usage() {
	cat <<USAGE
usage: bench/stop-check.sh [-h] [--rounds N] [--threads N] [--iterations N]
                           [--workloads LIST] [--no-callgrind] [--out FILE] NAME=BINARY...
Interleaved /bench runs of each binary (served on a free port), medians and spread.
  --rounds N        interleaved rounds (default 9)
  --threads N       threads per run (default 2)
  --iterations N    iterations per thread (default 2000000)
  --workloads LIST  comma-separated (default: seed,xthread,larson)
  --no-callgrind    skip the instruction counts
  --out FILE        the report's copy (default: bench/results/stop-check.md)
Each server gets the server-side extras of the binary given after ':', e.g.
  new=build/src/tinyserver:--max-bench-seconds=600
USAGE
}

rounds=9 threads=2 iterations=2000000 workloads=seed,xthread,larson callgrind=1
out=$REPO/bench/results/stop-check.md
command_line="bench/stop-check.sh${*:+ $*}"
binaries=()
parse_options "--rounds=rounds --threads=threads --iterations=iterations --workloads=workloads --no-callgrind=callgrind:0 --out=out @=binaries" "$@"
for spec in "${binaries[@]}"; do
	[[ $spec == *=* ]] || { usage >&2; exit 2; }
done
((${#binaries[@]} >= 2)) || { usage >&2; exit 2; }
need_cmd curl jq python3
((callgrind == 0)) || need_cmd valgrind callgrind_annotate

work=$(mktemp -d)
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

names=() ports=()
for spec in "${binaries[@]}"; do
	name=${spec%%=*} rest=${spec#*=}
	binary=${rest%%:*} extra=()
	[[ $rest == *:* ]] && IFS=, read -r -a extra <<<"${rest#*:}"
	[[ -x $binary ]] || die "$name: no binary at $binary"
	port=$(free_port)
	"$binary" --bind 127.0.0.1 --port "$port" --log-level warn \
		--max-bench-iterations "$iterations" "${extra[@]}" >"$work/$name.log" 2>&1 &
	pids+=("$!")
	for _ in $(seq 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
		sleep 0.05
	done
	curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" || die "$name did not start"
	names+=("$name") ports+=("$port")
done

report_begin
IFS=, read -r -a workload_list <<<"$workloads"
count=${#names[@]}
for ((round = 0; round < rounds; round++)); do
	for workload in "${workload_list[@]}"; do
		# Each round starts with the next binary, so none always runs
		# right after the same neighbour.
		for ((k = 0; k < count; k++)); do
			i=$(((round + k) % count))
			body=$(curl -sf "http://127.0.0.1:${ports[$i]}/bench?workload=$workload&threads=$threads&iterations=$iterations")
			[[ $(jq '.total_counter == .operations' <<<"$body") == true ]] ||
				die "${names[$i]} $workload: total_counter differs from operations: $body"
			printf '%s %s %s\n' "$workload" "${names[$i]}" "$(jq .ops_per_sec <<<"$body")" >>"$work/runs"
		done
	done
done
report=$work/report.md
exec 3>&1 >"$report"
echo "# The stop check's cost"
echo
echo "$threads threads x $iterations iterations, $rounds interleaved rounds; ops/s"
echo
python3 - "$work/runs" "${names[@]}" <<'PY'
import statistics
import sys
runs, names = sys.argv[1], sys.argv[2:]
table = {}
for line in open(runs):
    workload, name, ops = line.split()
    table.setdefault(workload, {}).setdefault(name, []).append(float(ops))
print("| workload | " + " | ".join(f"{n} median (min-max)" for n in names)
      + f" | {names[1]} / {names[0]} |")
print("| --- |" + " --- |" * (len(names) + 1))
for workload, by_name in table.items():
    cells = []
    for n in names:
        v = by_name[n]
        cells.append(f"{statistics.median(v) / 1e6:.1f}M ({min(v) / 1e6:.1f}-{max(v) / 1e6:.1f}M)")
    ratio = statistics.median(by_name[names[1]]) / statistics.median(by_name[names[0]])
    print(f"| {workload} | " + " | ".join(cells) + f" | {ratio:.3f} |")
PY

# Instructions per operation (scripts/lib/callgrind.sh). Not xthread: it
# needs two threads, whose interleaving makes its count vary run to run.
if ((callgrind)); then
	n=200000
	echo
	echo "Instructions per operation (1 thread, by difference of $n and $((2 * n)) iterations)"
	echo
	echo "| binary | seed | larson |"
	echo "| --- | --- | --- |"
	for spec in "${binaries[@]}"; do
		name=${spec%%=*} rest=${spec#*=} binary=${rest%%:*}
		row="| $name |"
		for workload in seed larson; do
			row+=" $(callgrind_per_operation "$work" "$binary" "$workload" "$n") |"
		done
		echo "$row"
	done
fi
echo
report_context "$command_line" "Tools: curl $(curl --version | awk 'NR == 1 { print $2 }')$( ((callgrind)) && echo ", $(valgrind --version)")"
exec >&3 3>&-
mkdir -p "$(dirname -- "$out")"
cp "$report" "$out"
cat "$report"
