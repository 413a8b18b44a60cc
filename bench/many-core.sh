#!/bin/sh
# The allocator comparison for a large machine, with nothing but the static
# binary: copy build/src/tinyserver-stripped and this script to any x86-64
# Linux host and run it. For each workload and each thread count from 1 to
# 4x the CPUs it runs `tinyserver --bench --allocator all`, so mimalloc,
# mimalloc in secure mode and musl's malloc take turns round by round with
# the same parameters, and writes:
#   OUT/runs.jsonl   one line per thread count: the machine, the load
#                    average before the run, and the binary's own JSON
#   OUT/table.md     medians and the ratio to musl, as a Markdown table,
#                    ending with the machine, date, load average and
#                    command in the layout of scripts/lib/report.sh (this
#                    script runs without the repository, so it prints them
#                    itself); copy it to bench/results/ to quote it
#   OUT/machine.txt  CPUs, model, kernel, cgroup CPU limit
# Every run's total_counter must equal threads * iterations (src/bench/bench.h),
# or the script stops: a figure is never kept for a run that did not do its
# work. POSIX sh, awk and the binary; no jq, no Python.
set -eu

usage() {
	cat <<EOF
usage: bench/many-core.sh [-h] [--binary PATH] [--out DIR] [--iterations N] [--repeat N]
                          [--workloads "seed xthread larson"] [--max-threads N]
Run tinyserver's allocator comparison at 1..4x CPUs threads; JSON lines and Markdown.
  --binary PATH     the static tinyserver (default: ./tinyserver-stripped, then
                    ./tinyserver, then build/src/tinyserver-stripped)
  --out DIR         where to write (default: ./many-core-out)
  --iterations N    iterations per thread (default 100000)
  --repeat N        interleaved rounds per point, 1 to 10 (default 3)
  --workloads LIST  space-separated (default: "seed xthread larson")
  --max-threads N   highest thread count (default: 4x the CPUs)
EOF
}

die() {
	echo "many-core: error: $*" >&2
	exit 1
}

command_line="bench/many-core.sh${*:+ $*}"
binary=""
out=./many-core-out
iterations=100000
repeat=3
workloads="seed xthread larson"
max_threads=""
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--binary | --out | --iterations | --repeat | --workloads | --max-threads)
		[ $# -ge 2 ] || die "$1 needs a value"
		case $1 in
		--binary) binary=$2 ;;
		--out) out=$2 ;;
		--iterations) iterations=$2 ;;
		--repeat) repeat=$2 ;;
		--workloads) workloads=$2 ;;
		--max-threads) max_threads=$2 ;;
		esac
		shift 2
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
done

if [ -z "$binary" ]; then
	for candidate in ./tinyserver-stripped ./tinyserver build/src/tinyserver-stripped; do
		if [ -x "$candidate" ]; then
			binary=$candidate
			break
		fi
	done
fi
if [ -z "$binary" ] || [ ! -x "$binary" ]; then
	die "no tinyserver binary (use --binary PATH)"
fi
case $iterations$repeat${max_threads:-1} in
*[!0-9]*) die "--iterations, --repeat and --max-threads take whole numbers" ;;
esac

cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
[ -n "$max_threads" ] || max_threads=$((4 * cpus))
mkdir -p "$out"
{
	echo "cpus: $cpus"
	grep -m1 'model name' /proc/cpuinfo 2>/dev/null || true
	echo "kernel: $(uname -r)"
	echo "cgroup cpu.max: $(cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo none)"
	echo "binary: $("$binary" --version)"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

# 1, 2, 4, ... and the CPU multiples themselves, up to max_threads.
thread_counts() {
	{
		t=1
		while [ "$t" -le "$max_threads" ]; do
			echo "$t"
			t=$((t * 2))
		done
		for m in 1 2 4; do
			[ $((m * cpus)) -le "$max_threads" ] && echo $((m * cpus))
		done
	} | sort -n | uniq
}

: >"$out/runs.jsonl"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for workload in $workloads; do
	for threads in $(thread_counts); do
		[ "$workload" = xthread ] && [ "$threads" -lt 2 ] && continue
		load=$(cut -d' ' -f1-3 /proc/loadavg)
		json=$("$binary" --bench --allocator all --repeat "$repeat" --workload "$workload" \
			--threads "$threads" --iterations "$iterations" \
			--max-bench-threads "$max_threads" --max-bench-iterations "$iterations") ||
			die "$workload at $threads threads failed"
		expected=$((threads * iterations))
		# Every run's counter, as the binary printed it.
		bad=$(printf '%s\n' "$json" | grep -o '"total_counter":[0-9]*' |
			awk -F: -v want="$expected" '$2 != want { print $2 }')
		[ -z "$bad" ] || die "$workload at $threads threads: total_counter $bad, expected $expected"
		printf '{"cpus":%s,"loadavg":"%s","workload":"%s","threads":%s,"r":%s}\n' \
			"$cpus" "$load" "$workload" "$threads" "$json" >>"$out/runs.jsonl"
		echo "many-core: $workload threads=$threads done (load $load)" >&2
	done
done

# The table: per line, each allocator's median and ratio to musl.
awk '
function grab(text, key,    m) {
	if (match(text, "\"" key "\":[^,}]*")) {
		m = substr(text, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
		gsub(/"/, "", m)
		return m
	}
	return ""
}
function rate(v) {
	v += 0 # a number, not the text grab() returned
	if (v >= 1e9) return sprintf("%.2fG", v / 1e9)
	if (v >= 1e7) return sprintf("%.0fM", v / 1e6)
	if (v >= 1e6) return sprintf("%.2fM", v / 1e6)
	return sprintf("%.0fk", v / 1e3)
}
BEGIN {
	print "# Many cores: the allocator sweep"
	print ""
	print "| workload | threads | load avg | mimalloc | mimalloc-secure | jemalloc | musl | mimalloc / musl |"
	print "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
}
{
	line = $0
	workload = grab(line, "workload"); threads = grab(line, "threads"); load = grab(line, "loadavg")
	delete ops; delete ratio
	rest = substr(line, index(line, "\"results\":"))
	while (match(rest, /"bench_allocator":"[a-z-]+","ops_per_sec":[0-9]+(,"ratio_vs_musl":[0-9.e+-]+)?/)) {
		entry = substr(rest, RSTART, RLENGTH)
		name = grab(entry, "bench_allocator")
		ops[name] = grab(entry, "ops_per_sec")
		ratio[name] = grab(entry, "ratio_vs_musl")
		rest = substr(rest, RSTART + RLENGTH)
	}
	printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", workload, threads, load,
		("mimalloc" in ops) ? rate(ops["mimalloc"]) : "-",
		("mimalloc-secure" in ops) ? rate(ops["mimalloc-secure"]) : "-",
		("jemalloc" in ops) ? rate(ops["jemalloc"]) : "-",
		("musl" in ops) ? rate(ops["musl"]) : "-",
		(ratio["mimalloc"] != "") ? ratio["mimalloc"] "x" : "-"
}' "$out/runs.jsonl" >"$out/table.md"
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
{
	echo
	echo "- Machine: ${model:-unknown CPU}, $cpus CPUs available, Linux $(uname -r)"
	echo "- Date: $started"
	echo "- Load average (1, 5, 15 min) before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- Command: \`$command_line\`"
	echo "- Binary: $("$binary" --version), $iterations iterations per thread, $repeat interleaved rounds per point"
} >>"$out/table.md"
cat "$out/table.md"
