#!/usr/bin/env bash
# What each allocator costs beside its speed, from the binary's own figures:
# `tinyserver --bench --allocator all --repeat R` (allocators interleaved
# round by round) for each workload, and per allocator the median rate, the
# sampled latency, resident memory (peak above the start, retained after
# the run and after the allocator's release call), the window's overhead,
# the workers' faults and CPU time and their memory-mapping calls. Writes
# bench/results/costs.md (or --out), ending with the machine, date, load
# average and command.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
# shellcheck source=scripts/lib/report.sh
. "$REPO/scripts/lib/report.sh"

usage() {
	cat <<EOF
usage: bench/costs.sh [-h] [--repeat R] [--threads N] [--workloads LIST] [--binary FILE]
                      [--out FILE]
Every allocator's costs, from build/src/tinyserver --bench --allocator all.
  --repeat R        rounds, each allocator once per round (default 5)
  --threads N       threads (default 2)
  --workloads LIST  comma-separated (default: window,seed)
  --binary FILE     the server binary (default: build/src/tinyserver)
  --out FILE        the report (default: bench/results/costs.md)
EOF
}

repeat=5 threads=2 workloads=window,seed out=$REPO/bench/results/costs.md
binary=$REPO/build/src/tinyserver
command_line="bench/costs.sh${*:+ $*}"
parse_options "--repeat=repeat --threads=threads --workloads=workloads --binary=binary --out=out" "$@"
need_positive_int "$repeat" "$threads"
[[ -x $binary ]] || die "no $binary (scripts/build.sh)"
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

report_begin
IFS=, read -ra workload_list <<<"$workloads"
for workload in "${workload_list[@]}"; do
	log "$workload"
	"$binary" --bench --workload "$workload" --allocator all --repeat "$repeat" \
		--threads "$threads" >"$work/$workload.json"
done
{
	echo "# What each allocator costs: \`tinyserver --bench --allocator all\`"
	echo
	echo "Each row is one allocator's figures, each the median of $repeat interleaved rounds"
	echo "(latency max: the largest). Memory is resident memory above the run's start; the"
	echo "faults, CPU time and calls are the worker threads' own."
	/usr/bin/python3 - "$work" "${workload_list[@]}" <<'PY'
import json
import sys

work, workloads = sys.argv[1], sys.argv[2:]


def mib(value):
    """MiB to one decimal; less than 0.05 MiB either way is 0.0."""
    if value is None:
        return "n/a"
    return f"{value / 1048576:.1f}" if abs(value) >= 52429 else "0.0"


for workload in workloads:
    with open(f"{work}/{workload}.json") as file:
        body = json.load(file)
    shape = body.get("window")
    title = f"{workload}: {body['threads']} threads x {body['iterations']:,} iterations"
    if shape:
        title += f", {shape['slots']} slots of {shape['min_block']} B to {shape['max_block'] // 1024} KiB"
    print(f"\n### {title}\n")
    print("| allocator | ops/s | vs musl | p50 ns | p99 ns | max ns | peak MiB | retained MiB "
          "| after release MiB | overhead | minor faults | user ms | system ms "
          "| mmap | munmap | madvise | mprotect |")
    print("| --- |" + " ---: |" * 16)
    for entry in body["results"]:
        lat, mem, cpu, calls = (entry[k] for k in ("latency_ns", "memory", "cpu", "syscalls"))
        print(f"| {entry['bench_allocator']} | {entry['ops_per_sec'] / 1e6:.2f}M "
              f"| {entry.get('ratio_vs_musl', 'n/a')} | {lat['p50']:,} | {lat['p99']:,} "
              f"| {lat['max']:,} | {mib(mem['peak_bytes'])} | {mib(mem['retained_bytes'])} "
              f"| {mib(mem['retained_after_release_bytes'])} "
              f"| {mem.get('overhead') if mem.get('overhead') is not None else 'n/a'} "
              f"| {cpu['minor_faults']:,} | {cpu['user_ms']:.1f} | {cpu['system_ms']:.1f} "
              f"| {calls['mmap']:,} | {calls['munmap']:,} | {calls['madvise']:,} "
              f"| {calls['mprotect']:,} |")
PY
	echo
	report_context "$command_line"
} >"$work/report.md"
mkdir -p "$(dirname -- "$out")"
cp "$work/report.md" "$out"
cat "$out"
