#!/usr/bin/env bash
# The allocator comparison in one command. Builds the four allocator
# variants of tinyserver (static musl; dependencies from the shared cache),
# runs every workload through `tinyserver --bench` with identical parameters,
# interleaving the repetitions, and prints the published table's layout as
# Markdown: the median of each variant, its ratio to musl's own malloc, and
# beside it what the run cost in memory (peak and retained resident memory
# above the run's start, minor faults, system time and mapping calls).
# Reference rows (context only, never shipped) run the same workload source
# as a plain glibc program, with glibc's malloc, jemalloc and tcmalloc. A
# thread sweep writes a CSV and a PNG plot (gnuplot).
#
# Every run's total_counter must equal its operations (see src/bench/bench.h), or
# the script stops: a figure is never printed for a run that did not do its
# work. Nothing here judges the figures; they are for reading.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
# shellcheck source=scripts/lib/report.sh
. "$REPO/scripts/lib/report.sh"

VARIANTS=(musl mimalloc-secure mimalloc jemalloc) # the published table's order
SWEEP_THREADS=(1 2 4 8 16 32)
# Reference allocators: label, Debian package, file to LD_PRELOAD (empty for
# glibc's own malloc), and what the malloc the program resolved must come from.
# Debian's jemalloc is labelled apart from the jemalloc variant (the one in
# tinyserver's binary), and shown under its own name.
REFERENCES=(
	"glibc|libc6||/libc.so.6"
	"jemalloc-preload|libjemalloc2|/usr/lib/x86_64-linux-gnu/libjemalloc.so.2|/libjemalloc.so.2"
	"tcmalloc|libtcmalloc-minimal4|/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4|/libtcmalloc_minimal.so.4"
)

usage() {
	cat <<EOF
usage: bench/compare.sh [-h] [--quick] [--reps N] [--threads N] [--iterations N]
                        [--workloads LIST] [--sweep-ops N] [--no-sweep] [--no-reference]
                        [--out DIR]
Build the allocator variants, run the workloads, print the comparison table.
  --quick           tiny runs, 1 repetition, output under build-bench/quick: checks
                    that the harness works (used by the tests); figures mean nothing
  --reps N          interleaved repetitions per variant and workload (default 5)
  --threads N       threads for the table (default: CPUs available, $(nproc))
  --iterations N    iterations per thread for the table (default 1000000)
  --workloads LIST  comma-separated (default: seed,xthread,larson)
  --sweep-ops N     operations per sweep point, split over its threads (default 2000000)
  --no-sweep        skip the thread sweep and the plot
  --no-reference    skip the glibc/jemalloc/tcmalloc reference rows
  --out DIR         where results go (default: bench/results)
Writes DIR/compare.md (also printed), DIR/runs.csv (every run), DIR/sweep.csv
and DIR/sweep.png; build and run logs go to DIR/logs/.
EOF
}

quick=0
reps=5
threads=$(nproc)
iterations=1000000
workloads=seed,xthread,larson
sweep_ops=2000000
sweep=1
reference=1
out=
parse_options "--quick=quick:1 --reps=reps --threads=threads --iterations=iterations --workloads=workloads --sweep-ops=sweep_ops --out=out --no-sweep=sweep:0 --no-reference=reference:0" "$@"
if ((quick)); then
	reps=1 iterations=2000 sweep_ops=8000
	out=${out:-$REPO/build-bench/quick}
fi
out=${out:-$REPO/bench/results}
need_positive_int "$reps" "$threads" "$iterations" "$sweep_ops"
IFS=, read -r -a WORKLOADS <<<"$workloads"

mkdir -p "$out/logs"
RUNS=$out/runs.csv
SWEEP_RUNS=$out/logs/sweep-runs.csv

# ------------------------------------------------------------------ build

# The full comparison installs what it needs; --quick makes do with what is
# there (the tests run it where only the build and test groups are).
if [[ $(id -u) -eq 0 ]] && ((quick == 0)); then
	"$REPO/scripts/setup.sh" build test bench
fi
need_cmd jq awk

declare -A BIN
for v in "${VARIANTS[@]}"; do
	BIN[$v]=$REPO/build-$v/src/tinyserver
	log "building the $v variant (log: $out/logs/build-$v.log)"
	if ! "$REPO/scripts/build.sh" --allocator "$v" --builddir "$REPO/build-$v" >"$out/logs/build-$v.log" 2>&1; then
		tail -n 20 "$out/logs/build-$v.log" >&2
		die "building the $v variant failed"
	fi
done

# The reference program compiles tinyserver's own workload sources (and the
# thread and clock helpers the run's timed wait uses) with the flags Meson gives them
# (-O3, as buildtype=release), against glibc, with the wraps that
# src/bench/bench_syscalls.h's counters link against (glibc's mman.h calls
# mmap mmap64); they see only the program's own calls, not a shared
# allocator's, so the reference rows report none.
REF_BIN=$REPO/build-bench/reference/workload
declare -a REF_ROWS=()
if ((reference)); then
	if command -v gcc >/dev/null && [[ -f /usr/include/dlfcn.h ]]; then
		mkdir -p "$(dirname "$REF_BIN")"
		# One allocator path: the workloads call malloc and free (src/bench/bench_alloc.h).
		gcc -std=gnu11 -O3 -DNDEBUG -Wall -Wextra -Werror -fno-builtin-malloc -pthread \
			-DBENCH_PATH_GLOBAL -DTINYSERVER_ALLOCATOR_OPTION='"glibc"' \
			-I"$REPO/src/core" -I"$REPO/src/bench" -o "$REF_BIN" "$REPO/bench/reference/workload.c" \
			"$REPO"/src/bench/bench.c "$REPO"/src/bench/bench_[a-z]*.c "$REPO"/src/core/threads.c \
			"$REPO"/src/core/clock.c \
			-Wl,--wrap=mmap,--wrap=mmap64,--wrap=munmap,--wrap=madvise,--wrap=mprotect
		for r in "${REFERENCES[@]}"; do
			IFS='|' read -r name pkg preload _ <<<"$r"
			if [[ -z $preload || -f $preload ]]; then
				REF_ROWS+=("$r")
			else
				warn "no $preload: the $name reference row is skipped (install $pkg: scripts/setup.sh bench)"
			fi
		done
	else
		warn "no gcc or glibc headers: the reference rows are skipped"
	fi
fi

# ------------------------------------------------------------------- runs

# run_one CSV KIND LABEL WORKLOAD THREADS ITERATIONS REP: one run, appended
# to CSV as $CSV_HEADER. LABEL is a variant or a reference name. A figure the
# run could not read is left empty; a reference has no mapping calls (the
# link-time wraps do not see a shared library's own calls).
run_one() {
	local csv=$1 kind=$2 label=$3 workload=$4 t=$5 n=$6 rep=$7 json check r name pkg preload origin
	local args=(--workload "$workload" --threads "$t" --iterations "$n")
	if [[ $kind == variant ]]; then
		json=$("${BIN[$label]}" --bench "${args[@]}" --max-bench-threads 4096 \
			--max-bench-iterations 1000000000 2>>"$out/logs/runs.log") ||
			die "$label: --bench ${args[*]} failed (see $out/logs/runs.log)"
	else
		for r in "${REF_ROWS[@]}"; do
			IFS='|' read -r name pkg preload origin <<<"$r"
			[[ $name == "$label" ]] && break
		done
		json=$(LD_PRELOAD=$preload "$REF_BIN" "${args[@]}" 2>>"$out/logs/runs.log") ||
			die "reference $label: ${args[*]} failed (see $out/logs/runs.log)"
		[[ $(jq -r .malloc_from <<<"$json") == *"$origin" ]] ||
			die "reference $label: malloc came from $(jq -r .malloc_from <<<"$json"), not $origin"
	fi
	printf '%s %s\n' "$label" "$json" >>"$out/logs/runs.log"
	check=$(jq -r 'if .total_counter == .operations then "ok" else "bad" end' <<<"$json")
	[[ $check == ok ]] || die "$label $workload: total_counter differs from operations: $json"
	jq -r --arg kind "$kind" --arg name "$label" --arg rep "$rep" \
		'[$kind, $name, .workload, .threads, .iterations, $rep, .operations, .elapsed_ms, .ops_per_sec,
		  .memory.peak_bytes, .memory.retained_bytes, .memory.retained_after_release_bytes,
		  .cpu.minor_faults, .cpu.system_ms,
		  (if .syscalls then .syscalls.mmap + .syscalls.munmap + .syscalls.madvise + .syscalls.mprotect
		   else null end)] | map(. // "") | @csv' \
		<<<"$json" | tr -d '"' >>"$csv"
}

# The fewest threads a workload accepts (xthread needs two), asked of the
# binary rather than written down twice.
min_threads() {
	local t
	for t in 1 2 3 4; do
		if "${BIN[mimalloc]}" --bench --workload "$1" --threads "$t" --iterations 1 >/dev/null 2>&1; then
			echo "$t"
			return 0
		fi
	done
	die "workload $1 runs with none of 1 to 4 threads"
}

# rotated START ITEM...: the items, starting at index START mod count. Each
# repetition starts with a different variant, so none always runs first
# (on a cold cache) or right after the same neighbour.
rotated() {
	local start=$1
	shift
	local items=("$@") i
	for ((i = 0; i < ${#items[@]}; i++)); do
		printf '%s\n' "${items[(start + i) % ${#items[@]}]}"
	done
}

SUBJECTS=()
for v in "${VARIANTS[@]}"; do SUBJECTS+=("variant|$v"); done
for r in "${REF_ROWS[@]}"; do SUBJECTS+=("reference|${r%%|*}"); done

CSV_HEADER=kind,label,workload,threads,iterations,rep,operations,elapsed_ms,ops_per_sec,peak_bytes,retained_bytes,retained_after_release_bytes,minor_faults,system_ms,map_calls
report_begin
echo "$CSV_HEADER" >"$RUNS"
for w in "${WORKLOADS[@]}"; do
	t=$threads
	min=$(min_threads "$w")
	((t >= min)) || t=$min
	log "$w: $t threads x $iterations iterations, $reps interleaved repetitions"
	for ((rep = 1; rep <= reps; rep++)); do
		while IFS='|' read -r kind label; do
			run_one "$RUNS" "$kind" "$label" "$w" "$t" "$iterations" "$rep"
		done < <(rotated "$rep" "${SUBJECTS[@]}")
	done
done

if ((sweep)); then
	echo "$CSV_HEADER" >"$SWEEP_RUNS"
	for w in "${WORKLOADS[@]}"; do
		min=$(min_threads "$w")
		log "$w: thread sweep (${SWEEP_THREADS[*]}), $sweep_ops operations per point"
		for t in "${SWEEP_THREADS[@]}"; do
			((t >= min)) || continue
			n=$((sweep_ops / t > 0 ? sweep_ops / t : 1))
			for ((rep = 1; rep <= reps; rep++)); do
				while read -r v; do
					run_one "$SWEEP_RUNS" variant "$v" "$w" "$t" "$n" "$rep"
				done < <(rotated "$rep" "${VARIANTS[@]}")
			done
		done
	done
fi

# ---------------------------------------------------------------- reports

# Medians per (workload, label, threads) of runs in CSV format, as
# $MEDIAN_HEADER (empty where a run lacked the figure).
# With an even count the median is the mean of the middle two.
# (CSV_HEADER's columns, without the kind and the repetition.)
MEDIAN_HEADER=workload,label,threads,iterations,${CSV_HEADER#*,rep,}
medians() {
	awk -F, "$STATS_AWK"'NR > 1 {
		key = $3 "," $2 "," $4
		if (!(key in n)) { order[++keys] = key; iters[key] = $5; ops[key] = $7 }
		i = ++n[key]
		for (c = 8; c <= 15; c++) { v[key, c, i] = $c; if ($c == "") blank[key, c] = 1 }
	}
	function median(key, c, count, format,   i, s) {
		if ((key, c) in blank) return ""
		for (i = 1; i <= count; i++) s[i] = v[key, c, i]
		sort_numbers(s, count)
		return sprintf(format, median_of(s, count))
	}
	END {
		for (k = 1; k <= keys; k++) {
			key = order[k]; split(key, p, ",")
			printf "%s,%s,%s,%s,%s,%s,%s", p[1], p[2], p[3], iters[key], ops[key],
				median(key, 8, n[key], "%.3f"), median(key, 9, n[key], "%.0f")
			for (c = 10; c <= 15; c++) printf ",%s", median(key, c, n[key], c == 14 ? "%.1f" : "%.0f")
			printf "\n"
		}
	}' "$1"
}

# The display name of a table row, from what the binary itself reported
# (or, for a reference, the Debian package's version).
declare -A DISPLAY
for v in "${VARIANTS[@]}"; do
	DISPLAY[$v]=$("${BIN[$v]}" --bench --threads 1 --iterations 1 |
		jq -r '.allocator | "\(.name) \(.version)\(if .secure then " secure" else "" end)"')
done
for r in "${REF_ROWS[@]}"; do
	IFS='|' read -r name pkg preload _ <<<"$r"
	version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null | sed 's/-[^-]*$//; s/^[0-9]*://')
	DISPLAY[$name]="reference: ${name%-preload} ${version:-?}${preload:+ (LD_PRELOAD)}"
	[[ -n $preload ]] || DISPLAY[$name]+=" malloc"
done

{
	echo "# Allocator comparison"
	echo
	echo "Each row is the median of $reps interleaved runs of \`tinyserver --bench\`; reference rows"
	echo "run the same workload source as a plain glibc program (context only, not shipped)."
	echo "Memory is resident memory above the run's start: the peak, what the run still held"
	echo "when it ended, and what it held after the allocator's release call (mimalloc's"
	echo "mi_collect, the in-binary jemalloc's purge; musl and the references have none)."
	echo "Faults, system time and mapping calls (mmap, munmap, madvise, mprotect) are the"
	echo "worker threads' own; a reference has no call count (the link-time wraps cannot"
	echo "see a shared library's calls)."
	((quick)) && echo "This was a --quick run: its figures mean nothing."
	medians "$RUNS" | awk -F, -v workloads="$workloads" -v labels="$(printf '%s\n' "${SUBJECTS[@]#*|}")" \
		-v names="$(for k in "${!DISPLAY[@]}"; do printf '%s=%s\n' "$k" "${DISPLAY[$k]}"; done)" "$STATS_AWK"'
	function si(x) {
		if (x >= 1e9) return sprintf("%.2fG", x / 1e9)
		if (x >= 1e6) return sprintf("%.2fM", x / 1e6)
		if (x >= 1e3) return sprintf("%.0fk", x / 1e3)
		return sprintf("%.0f", x)
	}
	function ms(x) { return x >= 1000 ? sprintf("%.2f s", x / 1000) : sprintf("%.1f ms", x) }
	# A few pages given back show as 0.0, not -0.0.
	function mib(x,   s) { if (x == "") return "n/a"; s = sprintf("%.1f", x / 1048576); return s == "-0.0" ? "0.0" : s }
	function count(x) { return x == "" ? "n/a" : grouped(x) }
	function tenths(x) { return x == "" ? "n/a" : sprintf("%.1f", x) }
	function grouped(x,   s) {
		s = sprintf("%d", x)
		while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
		return s
	}
	# One decimal, none from 100x up (where a tenth says nothing).
	function vs_musl(x, base) { return ratio_of(x, base, base > 0 && x / base >= 100 ? 0 : 1) }
	BEGIN {
		n = split(names, lines, "\n")
		for (i = 1; i <= n; i++) { eq = index(lines[i], "="); if (eq) display[substr(lines[i], 1, eq - 1)] = substr(lines[i], eq + 1) }
		wn = split(workloads, order, ",")
		ln = split(labels, label, "\n")
	}
	{ row[$1, $2] = $0; if ($2 == "musl") base[$1] = $7 }
	END {
		for (w = 1; w <= wn; w++) {
			wl = order[w]
			split(row[wl, label[1]], f, ",")
			printf "\n### %s: %s threads x %s iterations\n\n", wl, f[3], grouped(f[4])
			print "| variant | operations | elapsed | ops/s (median) | vs musl | peak MiB | retained MiB | after release MiB | minor faults | system ms | mapping calls |"
			print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
			for (i = 1; i <= ln; i++) {
				if (!((wl, label[i]) in row)) continue
				split(row[wl, label[i]], f, ",")
				printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", display[f[2]],
					grouped(f[5]), ms(f[6]), si(f[7]), (f[2] == "musl" ? "1x" : vs_musl(f[7], base[wl])),
					mib(f[8]), mib(f[9]), mib(f[10]), count(f[11]), tenths(f[12]), count(f[13])
			}
		}
	}'
	if ((sweep)); then
		echo
		echo "Thread sweep: sweep.csv and sweep.png ($sweep_ops operations per point, median of $reps)."
	fi
	echo
	report_context "bench/compare.sh --reps $reps --threads $threads --iterations $iterations --workloads $workloads$( ((quick)) && echo " --quick")" \
		"Toolchain: $(gcc --version | head -1), musl-dev $(dpkg-query -W -f='${Version}' musl-dev 2>/dev/null || echo '?')"
} >"$out/compare.md"

if ((sweep)); then
	{
		echo "${MEDIAN_HEADER/label/variant}"
		medians "$SWEEP_RUNS" | sort -t, -k1,1 -k2,2 -k3,3n
	} >"$out/sweep.csv"
	if command -v gnuplot >/dev/null; then
		"$REPO/bench/plot-sweep.sh" "$out/sweep.csv" "$out/sweep.png" "${WORKLOADS[@]}"
	else
		warn "no gnuplot: sweep.png not drawn (scripts/setup.sh bench installs gnuplot-nox)"
	fi
fi

cat "$out/compare.md"
log "wrote $out/compare.md, $RUNS$( ((sweep)) && echo ", $out/sweep.csv, $out/sweep.png")"
