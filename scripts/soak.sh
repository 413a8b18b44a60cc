#!/usr/bin/env bash
# The soak run: a bounded wrk load mixing GET /healthz with
# GET /bench (scripts/lib/soak.lua: one request in ten is a short benchmark)
# against the release binary, then checks that
#   - the server never crashed and exits 0 on SIGTERM afterwards;
#   - every answer was 200, or a designed 429 (a benchmark already running)
#     or 503; no other 5xx, no socket errors;
#   - resident memory, open descriptors and threads are stable: after the
#     load (once wrk's connections are gone) the descriptors and threads
#     are back to the starting figures and the resident memory is within
#     RSS_GROWTH_KB of what it was after a short warm-up.
# It prints every figure. With --report FILE it also writes them as Markdown
# ending with the machine, date, load average and command
# (scripts/lib/report.sh); docs/reliability.md quotes bench/results/soak.md.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=scripts/lib/report.sh
. "$REPO/scripts/lib/report.sh"

usage() {
	cat <<EOF
usage: scripts/soak.sh [-h] [--duration SECONDS] [--connections N] [--binary PATH] [--report FILE]
Soak tinyserver with wrk and check it stays healthy and stable.
  --duration SECONDS  length of the measured load (default 60)
  --connections N     wrk connections (default 64, over 2 wrk threads)
  --binary PATH       server to soak (default build/src/tinyserver)
  --report FILE       also write the figures there as Markdown (e.g. bench/results/soak.md)
EOF
}

duration=60
connections=64
binary=$REPO/build/src/tinyserver
report=
command_line="scripts/soak.sh${*:+ $*}"
parse_options "--duration=duration --connections=connections --binary=binary --report=report" "$@"
[[ $duration =~ ^[1-9][0-9]*$ ]] || die "--duration must be a positive integer"
[[ $connections =~ ^[1-9][0-9]*$ ]] || die "--connections must be a positive integer"

WARMUP_S=5
SETTLE_S=3
# Allowed growth of resident memory over the warm-up figure: caches that a
# longer run fills a little more (mimalloc's pages, libmicrohttpd's pools).
RSS_GROWTH_KB=4096

if [[ $(id -u) -eq 0 ]]; then
	"$REPO/scripts/setup.sh" soak
fi
need_cmd wrk curl
[[ -x $binary ]] || die "no server at $binary (run scripts/build.sh)"

work=$(mktemp -d)
report_begin
server_pid=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -KILL "$server_pid"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

port=$(free_port)
url=http://127.0.0.1:$port
# warn: no access line per request, so the log is not what is measured.
"$binary" --bind 127.0.0.1 --port "$port" --log-level warn >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
	[[ $(curl -s -o /dev/null -w '%{http_code}' "$url/healthz" || true) == 200 ]] && break
	kill -0 "$server_pid" 2>/dev/null || die "the server exited at startup: $(cat "$work/server.log")"
	sleep 0.1
done

# figures LABEL: resident memory (kB), open descriptors and threads.
figures() {
	local rss threads fds
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status")
	threads=$(awk '/^Threads:/ { print $2 }' "/proc/$server_pid/status")
	fds=$(find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
	printf '%s %s %s %s\n' "$1" "$rss" "$fds" "$threads"
}

wrk_run() {
	wrk -t2 -c"$connections" -d"$1"s --timeout 10s --latency -s "$REPO/scripts/lib/soak.lua" "$url"
}

log "tinyserver $("$binary" --version) on $url, pid $server_pid"
figures start >"$work/figures"
wrk_run "$WARMUP_S" >"$work/warmup.txt"
sleep "$SETTLE_S"
figures warm >>"$work/figures"
log "soaking for ${duration}s with $connections connections"
wrk_run "$duration" | tee "$work/wrk.txt" | grep -E '^(  Latency|  Req/Sec|Requests/sec)' >&2 || true
kill -0 "$server_pid" 2>/dev/null || die "the server died during the load: $(tail -n 20 "$work/server.log")"
figures loaded >>"$work/figures"
sleep "$SETTLE_S"
figures settled >>"$work/figures"
health=$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz" || true)
curl -s "$url/metrics" >"$work/metrics" || true
kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=

status=0
/usr/bin/python3 - "$work" "$duration" "$connections" "$health" "$rc" "$RSS_GROWTH_KB" <<'PY' || status=$?
import sys
from pathlib import Path

work, duration, connections, health, rc, growth = sys.argv[1:]
work, rc, growth = Path(work), int(rc), int(growth)
statuses, summary, latency = {}, {}, {}
for line in (work / "wrk.txt").read_text().splitlines():
    parts = line.split()
    if line.startswith("soak-status "):
        statuses[int(parts[1])] = int(parts[2])
    elif line.startswith("soak-summary "):
        summary = dict(zip(parts[1::2], map(int, parts[2::2])))
    elif line.startswith("soak-latency "):
        latency = dict(zip(parts[1::2], map(float, parts[2::2])))
figures = {}
for line in (work / "figures").read_text().splitlines():
    label, rss, fds, threads = line.split()
    figures[label] = (int(rss), int(fds), int(threads))

requests = summary.get("requests", 0)
socket_errors = sum(summary.get(k, 0) for k in ("connect", "read", "write", "timeout"))
bad = {s: n for s, n in statuses.items() if s not in (200, 429, 503)}
print(f"soak: {duration} s, {connections} connections: {requests} requests "
      f"({requests / max(summary.get('duration_us', 1) / 1e6, 1e-9):.0f}/s), "
      f"latency p50 {latency.get('p50_ms', 0):.2f} ms, p99 {latency.get('p99_ms', 0):.2f} ms, "
      f"max {latency.get('max_ms', 0):.2f} ms")
print("soak: statuses " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())) +
      f"; socket errors {socket_errors} {({k: summary.get(k, 0) for k in ('connect', 'read', 'write', 'timeout')})}")
print("soak: figures (VmRSS kB, open fds, threads):")
for label in ("start", "warm", "loaded", "settled"):
    rss, fds, threads = figures[label]
    print(f"soak:   {label:8} {rss:8} {fds:5} {threads:4}")
runs = {}
for line in (work / "metrics").read_text().splitlines():
    if line.startswith("tinyserver_bench_runs_total{"):
        outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
        runs[outcome] = int(float(line.split()[-1]))
print("soak: benchmark runs (server's count, warm-up included): " +
      ", ".join(f"{k} {v}" for k, v in sorted(runs.items())))
print(f"soak: /healthz after the load: {health}; exit status on SIGTERM: {rc}")

failures = []
if rc != 0:
    failures.append(f"exit status {rc} on SIGTERM")
if health != "200":
    failures.append(f"/healthz answered {health} after the load")
if bad:
    failures.append(f"unexpected statuses {bad}")
if socket_errors:
    failures.append(f"{socket_errors} socket errors")
if requests == 0 or statuses.get(200, 0) == 0:
    failures.append("no successful request at all")
start, warm, settled = figures["start"], figures["warm"], figures["settled"]
if settled[0] > warm[0] + growth:
    failures.append(f"VmRSS grew from {warm[0]} kB (warm) to {settled[0]} kB")
if settled[1] != start[1]:
    failures.append(f"open descriptors {start[1]} at start, {settled[1]} after")
if settled[2] != start[2]:
    failures.append(f"threads {start[2]} at start, {settled[2]} after")
for failure in failures:
    print(f"soak: FAILED: {failure}")
print("soak: " + ("FAILED" if failures else "clean"))

rate = requests / max(summary.get("duration_us", 1) / 1e6, 1e-9)
kb = lambda label: f"{figures[label][0]:,} kB / {figures[label][1]} / {figures[label][2]}"
(work / "report.md").write_text("\n".join([
    "# Soak", "",
    f"{duration} s of wrk, 2 threads, {connections} connections, one request in ten a short"
    " `/bench` (scripts/lib/soak.lua), after a 5 s warm-up.", "",
    "| | |", "| --- | --- |",
    f"| Requests | {requests:,} in {duration} s ({rate:,.0f}/s) |",
    f"| Latency | p50 {latency.get('p50_ms', 0):.2f} ms, p99 {latency.get('p99_ms', 0):.2f} ms,"
    f" max {latency.get('max_ms', 0):.2f} ms |",
    "| Statuses | " + "; ".join(f"{s}: {n:,}" for s, n in sorted(statuses.items())) + " |",
    "| Benchmark runs (server's count, warm-up included) | "
    + ", ".join(f"{k} {v:,}" for k, v in sorted(runs.items())) + " |",
    f"| Socket errors | {socket_errors} |",
    f"| VmRSS, open descriptors, threads | start {kb('start')}; after warm-up {kb('warm')};"
    f" after the load {kb('loaded')}; {3} s later {kb('settled')} |",
    f"| After | `/healthz` {health}; SIGTERM: exit {rc} |",
    f"| Verdict | {'FAILED: ' + '; '.join(failures) if failures else 'clean'} |", ""]))
sys.exit(1 if failures else 0)
PY
if [[ -n $report ]]; then
	{
		cat "$work/report.md"
		echo
		report_context "$command_line" "Tools: $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2); server: $("$binary" --version)"
	} >"$work/report-full.md"
	mkdir -p "$(dirname -- "$report")"
	cp "$work/report-full.md" "$report"
	log "wrote $report"
fi
exit "$status"
