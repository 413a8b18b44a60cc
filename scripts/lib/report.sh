# shellcheck shell=bash
# Provenance for the figures a script measures. Sourced after
# scripts/lib/common.sh, never run. A measuring script calls report_begin
# before its first measurement and ends its results file
# (bench/results/NAME.md) with report_context, so that every figure the docs
# quote (scripts/docs-figures.py copies the file into them) says on which
# machine, when, under what load and with which command it was taken.
#
#   report_begin
#   ... measure ...
#   { print the tables; echo; report_context "bench/foo.sh --rounds 3" "wrk 4.1.0"; } >bench/results/foo.md
#
# It brings scripts/lib/stats.sh along (median_range, median, ratio), which
# the figures of every report go through.

# shellcheck source=scripts/lib/stats.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/stats.sh"

# report_begin: remember when the measurement started and the load average
# at that moment. Call it once, before the first measurement.
report_begin() {
	REPORT_STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
	REPORT_LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
}

# report_context "COMMAND AS A USER TYPES IT" [EXTRA...]: print the
# provenance block in Markdown: machine (CPU model, CPUs available, kernel),
# date (UTC), load average before (from report_begin) and now, the command,
# then each EXTRA as a line of its own (tool versions, for instance).
report_context() {
	(($# >= 1)) || die "report_context needs the command that was run"
	[[ -n ${REPORT_STARTED:-} ]] || die "report_context called before report_begin"
	local command=$1 extra cpu_model
	shift
	cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	echo "- Machine: ${cpu_model:-unknown CPU}, $(nproc) CPUs available, Linux $(uname -r)"
	echo "- Date: $REPORT_STARTED"
	echo "- Load average (1, 5, 15 min) before: $REPORT_LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- Command: \`$command\`"
	for extra in "$@"; do
		echo "- $extra"
	done
}
