# shellcheck shell=bash
# The median, the range and the ratio the bench scripts report. Sourced
# after scripts/lib/common.sh, never run. One awk text, STATS_AWK, holds the
# arithmetic: the shell helpers below run it, and a script whose own awk
# program groups its rows (bench/compare.sh) puts it before that program:
#
#   awk -F, "$STATS_AWK"'{ ... sort_numbers(v, n); m = median_of(v, n) ... }'
#
# Its functions (the names are global in awk; the callers use none of them):
#   sort_numbers(a, n)          sorts a[1..n] by value, in place
#   median_of(a, n)             the median of a sorted a[1..n]: the middle one,
#                               or with an even n the mean of the middle two
#   ratio_of(a, b, decimals)    "A/Bx" with DECIMALS decimals, or "n/a" when B
#                               is not above 0 (nothing to compare with)
# shellcheck disable=SC2034 # STATS_AWK is for the sourcing scripts
STATS_AWK='
function sort_numbers(a, n,   i, j, v) {
	# Insertion sort: a report has a few dozen rounds at most.
	for (i = 2; i <= n; i++) {
		v = a[i]
		for (j = i - 1; j >= 1 && a[j] + 0 > v + 0; j--) a[j + 1] = a[j]
		a[j + 1] = v
	}
}
function median_of(a, n) { return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function ratio_of(a, b, decimals) { return b > 0 ? sprintf("%." decimals "fx", a / b) : "n/a" }
'

# median_range [FORMAT]: "MEDIAN MIN MAX" of the numbers on stdin, one a
# line, each printed with the printf conversion FORMAT (e.g. %.0f). Without
# FORMAT: the minimum, the maximum and an odd count's median as written, an
# even count's median to 17 significant digits, which carry a double
# exactly, so that a caller's own rounding is the only one. No numbers at
# all is an error.
median_range() {
	awk -v format="${1:-}" -v CONVFMT=%.17g "$STATS_AWK"'
	function shown(x) { return format == "" ? x "" : sprintf(format, x) }
	{ v[NR] = $1 }
	END {
		if (NR == 0) {
			print "median_range: no numbers" >"/dev/stderr"
			exit 1
		}
		sort_numbers(v, NR)
		print shown(median_of(v, NR)), shown(v[1]), shown(v[NR])
	}'
}

# median [FORMAT]: only the median of median_range.
median() {
	local line
	line=$(median_range "$@") || return 1
	printf '%s\n' "${line%% *}"
}

# ratio A B [DECIMALS]: "A/B" with DECIMALS decimals (default 2) and an "x",
# e.g. "1.07x"; "n/a" when B is not above 0.
ratio() {
	awk -v a="$1" -v b="$2" -v decimals="${3:-2}" "$STATS_AWK"'BEGIN { print ratio_of(a, b, decimals) }'
}
