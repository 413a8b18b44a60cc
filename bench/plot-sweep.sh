#!/usr/bin/env bash
# Draws the thread sweep that bench/compare.sh measured: one panel per
# workload, ops/s against threads, both on log scales, one line per
# allocator variant.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"

if (($# < 3)) || [[ $1 == -h || $1 == --help ]]; then
	echo "usage: bench/plot-sweep.sh SWEEP_CSV OUT_PNG WORKLOAD..."
	[[ ${1:-} == -h || ${1:-} == --help ]] && exit 0
	exit 2
fi
csv=$1 png=$2
shift 2
need_cmd gnuplot
[[ -r $csv ]] || die "cannot read $csv"

# One y range for every panel, in whole decades, so panels compare at a glance.
read -r ymin ymax < <(awk -F, 'NR > 1 && $7 > 0 {
	if (min == "" || $7 < min) min = $7
	if ($7 > max) max = $7
} END {
	if (min == "") { min = 1; max = 10 }
	printf "%g %g\n", 10 ^ int(log(min) / log(10)), 10 ^ int(log(max) / log(10) + 1)
}' "$csv")

variants=(musl mimalloc-secure mimalloc jemalloc)
titles=("musl mallocng" "mimalloc secure" "mimalloc" "jemalloc")

script="set terminal pngcairo size $((380 * $#)),340 font ',9'
set output '$png'
set datafile separator ','
set logscale x 2
set logscale y 10
set yrange [$ymin:$ymax]
set format y '%.0s%c'
set xlabel 'threads'
set ylabel 'ops/s (median)'
set grid ytics mytics xtics
set key bottom left font ',8'
set multiplot layout 1,$#"
for w in "$@"; do
	plots=()
	for i in "${!variants[@]}"; do
		# Rows of this workload and variant; everything else is skipped (1/0).
		plots+=("'$csv' using (strcol(1) eq '$w' && strcol(2) eq '${variants[i]}' ? \$3 : 1/0):7 with linespoints lw 2 pt 7 ps 0.6 title '${titles[i]}'")
	done
	script+="
set title '$w'
plot $(
		IFS=,
		echo "${plots[*]}"
	)"
done
script+="
unset multiplot"
gnuplot <<<"$script"
