#!/usr/bin/env bash
# What the access log costs: wrk against GET /healthz of tinyserver in three
# set-ups, rounds interleaved (each round runs all three, in a rotating
# order), the same wrk threads and connections:
#   warn        --log-level warn: no access line at all
#   buffered    --log-file FILE: a line per request, per-thread buffers
#               (the default --log-buffer 65536, --log-flush-ms 1000)
#   unbuffered  --log-file FILE --log-buffer 0: one write(2) per line
# Reports each set-up's median with min and max, and the ratio to warn
# taken within each round (median, min, max), since on a shared machine a
# round's servers share its load. Checks that each logging run wrote at
# least a line per request wrk counted. Prints Markdown, also written to
# OUT/access-log.md with its provenance (scripts/lib/report.sh), which
# docs/benchmarks.md quotes (scripts/docs-figures.py). Figures only:
# nothing here passes or fails on them.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
# shellcheck source=scripts/lib/report.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/lib/report.sh"

usage() {
	cat <<USAGE
usage: bench/access-log.sh [-h] [--rounds N] [--duration S] [--threads N] [--connections N]
                           [--bin FILE] [--out DIR]
  --rounds N        interleaved rounds (default 7)
  --duration S      seconds per wrk run (default 4)
  --threads N       wrk threads (default 2)
  --connections N   wrk connections (default 64)
  --bin FILE        the tinyserver binary (default: build/src/tinyserver, from scripts/build.sh)
  --out DIR         where access-log.md and access-log.csv go (default: bench/results)
USAGE
}

command_line="bench/access-log.sh${*:+ $*}"
rounds=7 duration=4 wrk_threads=2 connections=64 bin=$REPO/build/src/tinyserver
out=$REPO/bench/results
while (($#)); do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--rounds | --duration | --threads | --connections | --bin | --out)
		(($# >= 2)) || die "$1 needs a value"
		case $1 in
		--rounds) rounds=$2 ;;
		--duration) duration=$2 ;;
		--threads) wrk_threads=$2 ;;
		--connections) connections=$2 ;;
		--bin) bin=$2 ;;
		--out) out=$2 ;;
		esac
		shift
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
	shift
done
for n in "$rounds" "$duration" "$wrk_threads" "$connections"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "'$n' is not a positive integer"
done
[[ -x $bin ]] || die "no tinyserver binary at $bin (run scripts/build.sh first)"
need_cmd wrk curl python3
mkdir -p "$out"

work=$(mktemp -d)
pid=''
cleanup() {
	if [[ -n $pid ]]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

SETUPS=(warn buffered unbuffered)
# setup_args SETUP LOGFILE: the set-up's flags, one a line.
setup_args() {
	case $1 in
	warn) printf '%s\n' --log-level warn ;;
	buffered) printf '%s\n' --log-level info --log-file "$2" ;;
	unbuffered) printf '%s\n' --log-level info --log-file "$2" --log-buffer 0 ;;
	esac
}

# run_setup SETUP: one wrk run against a fresh server; leaves
# "requests_per_s requests log_lines" in $work/result.
run_setup() {
	local setup=$1 port logfile args i report lines=0
	port=$(free_port)
	logfile=$work/$setup.log
	rm -f "$logfile"
	mapfile -t args < <(setup_args "$setup" "$logfile")
	"$bin" --bind 127.0.0.1 --port "$port" "${args[@]}" >"$work/stdout" 2>"$work/stderr" &
	pid=$!
	for ((i = 0; i < 500; i++)); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz") == 200 ]] && break
		sleep 0.01
	done
	((i < 500)) || die "$setup: no answer on port $port: $(cat "$work/stderr")"
	report=$(wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" "http://127.0.0.1:$port/healthz")
	kill -TERM "$pid"
	wait "$pid" || die "$setup: the server exited with $? on SIGTERM"
	pid=''
	! grep -q 'Non-2xx' <<<"$report" || die "$setup: wrk saw non-200 answers: $report"
	[[ ! -f $logfile ]] || lines=$(wc -l <"$logfile")
	awk -v lines="$lines" '
		/^Requests\/sec:/ { rps = $2 }
		/requests in/ { requests = $1 }
		END { printf "%.0f %d %d\n", rps, requests, lines }' <<<"$report" >"$work/result"
}

csv=$out/access-log.csv
echo "round,setup,requests_per_s,requests,log_lines" >"$csv"
report_begin
for ((r = 1; r <= rounds; r++)); do
	for ((k = 0; k < ${#SETUPS[@]}; k++)); do
		setup=${SETUPS[(k + r) % ${#SETUPS[@]}]}
		run_setup "$setup"
		read -r rps requests lines <"$work/result"
		if [[ $setup != warn ]] && ((lines < requests)); then
			die "$setup: $lines log lines for $requests requests"
		fi
		log "round $r/$rounds: $setup $rps req/s ($requests requests, $lines log lines)"
		echo "$r,$setup,$rps,$requests,$lines" >>"$csv"
	done
done

{
	python3 - "$csv" "$wrk_threads" "$connections" "$duration" "$rounds" <<'PY'
import csv
import statistics
import sys

path, threads, connections, duration, rounds = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
rate = {(r["round"], r["setup"]): float(r["requests_per_s"]) for r in rows}
setups = ["warn", "buffered", "unbuffered"]
names = {
    "warn": "`--log-level warn` (no access log)",
    "buffered": "`--log-file FILE` (buffered: 65536 B per thread, flush 1000 ms)",
    "unbuffered": "`--log-file FILE --log-buffer 0` (a write per line)",
}
round_ids = sorted({r["round"] for r in rows}, key=int)


def spread(values):
    return statistics.median(values), min(values), max(values)


print("# Access log: buffered vs unbuffered\n")
print(f"wrk -t{threads} -c{connections} -d{duration}s on GET /healthz, {rounds} interleaved "
      "rounds, a fresh server per run, wrk on the same CPUs.\n")
print("| set-up | req/s median (min-max) | ratio to warn, per round: median (min-max) |")
print("| --- | --- | --- |")
for setup in setups:
    median, low, high = spread([rate[(r, setup)] for r in round_ids])
    ratios = [rate[(r, setup)] / rate[(r, "warn")] for r in round_ids]
    ratio = "1" if setup == "warn" else "{:.2f}x ({:.2f}-{:.2f})".format(*spread(ratios))
    print(f"| {names[setup]} | {median:,.0f} ({low:,.0f}-{high:,.0f}) | {ratio} |")
PY
	echo
	report_context "$command_line" "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)" \
		"Binary: ${bin#"$REPO"/}, \`$("$bin" --version | head -1)\`"
} >"$work/access-log.md"
cp "$work/access-log.md" "$out/access-log.md"
cat "$out/access-log.md"
