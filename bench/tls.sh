#!/usr/bin/env bash
# HTTPS against plain HTTP on one tinyserver, with `openssl s_server` (same
# certificate) as the anchor for handshake cost, rounds interleaved:
#   - wrk -t2 -c64 keep-alive and with Connection: close, HTTP and HTTPS
#     (and HTTPS of a --baseline build, e.g. the thread-per-connection relay);
#   - openssl s_time -new (full handshakes) and -reuse (resumed), against
#     tinyserver and s_server, with the server CPU per handshake;
#   - bench/tls_clients.py: N concurrent TLS connections each making a
#     request (threads, RSS), then N clients stuck mid-handshake while a
#     well-behaved client asks for /healthz over HTTPS.
# Prints Markdown (also OUT/tls.md), ending with the machine, the date, the
# load average before and after and the command (scripts/lib/report.sh).
# Figures only: nothing here passes or fails on them.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
# shellcheck source=scripts/lib/report.sh
. "$REPO/scripts/lib/report.sh"

usage() {
	cat <<EOF
usage: bench/tls.sh [-h] [--binary BIN] [--baseline BIN] [--duration S] [--rounds N]
                    [--clients N] [--out DIR]
  --binary BIN     the tinyserver to measure (default: build/src/tinyserver)
  --baseline BIN   another build whose keep-alive HTTPS is measured beside it
  --duration S     seconds per wrk and s_time run (default 10)
  --rounds N       interleaved rounds; medians and min-max reported (default 3)
  --clients N      concurrent and stuck TLS clients (default 2000)
  --out DIR        where tls.md and logs go (default: bench/results)
EOF
}

binary=$REPO/build/src/tinyserver baseline='' duration=10 rounds=3 clients=2000
out=$REPO/bench/results
command_line="bench/tls.sh${*:+ $*}"
parse_options "--binary=binary --baseline=baseline --duration=duration --rounds=rounds --clients=clients --out=out" "$@"
need_positive_int "$duration" "$rounds" "$clients"
[[ -x $binary ]] || die "no binary at $binary (run scripts/build.sh)"
[[ -z $baseline || -x $baseline ]] || die "no binary at $baseline"
need_cmd wrk openssl curl python3
mkdir -p "$out/logs"
LOGS=$out/logs
work=$(mktemp -d)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

"$REPO/certs/generate.sh" "$work" >"$LOGS/tls-certs.log" 2>&1 || die "certs/generate.sh failed"
cert=$work/server-ec.crt key=$work/server-ec.key ca=$work/ca.crt

# start_tinyserver BIN EXTRA...: sets PORT, TLS_PORT and PID.
start_tinyserver() {
	local bin=$1 i
	shift
	PORT=$(free_port) TLS_PORT=$(free_port)
	"$bin" --bind 127.0.0.1 --port "$PORT" --tls-port "$TLS_PORT" --tls-cert "$cert" \
		--tls-key "$key" --log-level warn "$@" >>"$LOGS/tls-servers.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
	for ((i = 0; i < 500; i++)); do
		if curl -sf -o /dev/null --cacert "$ca" "https://127.0.0.1:$TLS_PORT/healthz"; then
			return 0
		fi
		sleep 0.02
	done
	die "$bin did not answer over HTTPS (see $LOGS/tls-servers.log)"
}

# CPU seconds (user + system) a process has used.
cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}

# wrk_rate URL [HEADER]: requests per second; dies on errors or non-2xx.
wrk_rate() {
	local report
	report=$(wrk -t2 -c64 -d"${duration}s" ${2:+-H "$2"} "$1")
	printf '%s\n%s\n' "$1 ${2:-}" "$report" >>"$LOGS/tls-wrk.log"
	if grep -qE 'Non-2xx|Socket errors' <<<"$report"; then
		warn "wrk saw errors for $1 ${2:-} (see $LOGS/tls-wrk.log)"
	fi
	awk '/^Requests\/sec:/ { print $2 }' <<<"$report"
}

# s_time_rate PORT MODE PID: "handshakes/s cpu_ms_per_handshake".
s_time_rate() {
	local report before after start end count
	before=$(cpu_s "$3")
	start=$(date +%s.%N)
	# TLS 1.2 for both servers: tinyserver speaks nothing else, and with
	# TLS 1.3 s_time -reuse resumes nothing against s_server.
	report=$(openssl s_time -connect "127.0.0.1:$1" -CAfile "$ca" -tls1_2 "-$2" -time "$duration" 2>&1)
	end=$(date +%s.%N)
	after=$(cpu_s "$3")
	printf '%s %s\n%s\n' "$1" "$2" "$report" >>"$LOGS/tls-s_time.log"
	# s_time rounds its "real seconds" to whole seconds: timed here instead.
	count=$(awk '/connections in [0-9.]+ real seconds/ { print $1; exit }' <<<"$report")
	awk -v c="${count:-0}" -v s="$start" -v e="$end" -v b="$before" -v a="$after" \
		'BEGIN { printf "%.0f %.2f\n", c / (e - s), c ? (a - b) * 1000 / c : 0 }'
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

report_begin
start_tinyserver "$binary"
tiny_pid=$PID tiny_port=$PORT tiny_tls=$TLS_PORT
if [[ -n $baseline ]]; then
	start_tinyserver "$baseline"
	base_tls=$TLS_PORT
fi
anchor_port=$(free_port)
openssl s_server -accept "$anchor_port" -cert "$cert" -key "$key" -www -quiet \
	>>"$LOGS/tls-servers.log" 2>&1 </dev/null &
anchor_pid=$!
PIDS+=("$anchor_pid")
sleep 1

declare -A SAMPLES
add() { SAMPLES[$1]+="$2 "; }
for ((round = 1; round <= rounds; round++)); do
	log "round $round of $rounds"
	add http-ka "$(wrk_rate "http://127.0.0.1:$tiny_port/healthz")"
	add https-ka "$(wrk_rate "https://127.0.0.1:$tiny_tls/healthz")"
	if [[ -n $baseline ]]; then
		add base-ka "$(wrk_rate "https://127.0.0.1:$base_tls/healthz")"
	fi
	add http-close "$(wrk_rate "http://127.0.0.1:$tiny_port/healthz" "Connection: close")"
	add https-close "$(wrk_rate "https://127.0.0.1:$tiny_tls/healthz" "Connection: close")"
	for mode in new reuse; do
		read -r rate cpu < <(s_time_rate "$tiny_tls" "$mode" "$tiny_pid")
		add "tiny-$mode" "$rate"
		add "tiny-$mode-cpu" "$cpu"
		read -r rate cpu < <(s_time_rate "$anchor_port" "$mode" "$anchor_pid")
		add "anchor-$mode" "$rate"
		add "anchor-$mode-cpu" "$cpu"
	done
done
load_mid=$(load)

# The scale run gets a server of its own, with room for every client.
start_tinyserver "$binary" --max-connections $((clients + 256)) --max-connections-per-ip 0 \
	--max-tls-connections $((clients + 64))
log "$clients concurrent, then $clients stuck TLS clients"
scale=$(/usr/bin/python3 "$REPO/bench/tls_clients.py" --port "$TLS_PORT" --cafile "$ca" \
	--pid "$PID" --connections "$clients" --stuck "$clients")
printf '%s\n' "$scale" >"$LOGS/tls-scale.json"

# samples KEY: the samples, one a line.
samples() { tr ' ' '\n' <<<"${SAMPLES[$1]}" | grep .; }
# summary KEY: "median (min-max)" of the samples, to 6 significant digits.
summary() {
	local middle lowest highest
	read -r middle lowest highest < <(samples "$1" | median_range %.6g)
	echo "$middle ($lowest-$highest)"
}
# median_ratio KEY BASE: KEY's median over BASE's, as summary shows them.
median_ratio() { ratio "$(samples "$1" | median %.6g)" "$(samples "$2" | median %.6g)"; }
scale_field() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(d[sys.argv[1]][sys.argv[2]])' "$1" "$2" <<<"$scale"; }

{
	echo "# HTTPS against plain HTTP"
	echo
	echo "$rounds interleaved rounds of ${duration}s; median (min-max). EC P-256 certificate."
	echo "Load average after the wrk and s_time rounds, before the $clients clients: $load_mid."
	echo
	echo "| wrk -t2 -c64 /healthz | req/s | vs HTTP |"
	echo "| --- | --- | --- |"
	echo "| HTTP keep-alive | $(summary http-ka) | 1.00x |"
	echo "| HTTPS keep-alive | $(summary https-ka) | $(median_ratio https-ka http-ka) |"
	if [[ -n $baseline ]]; then
		echo "| HTTPS keep-alive, baseline build | $(summary base-ka) | $(median_ratio base-ka http-ka) |"
	fi
	echo "| HTTP, Connection: close | $(summary http-close) | 1.00x |"
	echo "| HTTPS, Connection: close | $(summary https-close) | $(median_ratio https-close http-close) |"
	echo
	echo "| openssl s_time | handshakes/s | server CPU per handshake, ms |"
	echo "| --- | --- | --- |"
	echo "| tinyserver -new | $(summary tiny-new) | $(summary tiny-new-cpu) |"
	echo "| openssl s_server -new | $(summary anchor-new) | $(summary anchor-new-cpu) |"
	echo "| tinyserver -reuse | $(summary tiny-reuse) | $(summary tiny-reuse-cpu) |"
	echo "| openssl s_server -reuse | $(summary anchor-reuse) | $(summary anchor-reuse-cpu) |"
	echo
	echo "Resumed against full handshakes, tinyserver: $(median_ratio tiny-reuse tiny-new)."
	echo
	echo "| $clients TLS clients | figure |"
	echo "| --- | --- |"
	echo "| handshakes, all at once | $(scale_field many handshakes_s) s, $(scale_field many unfinished_handshakes) unfinished, $(scale_field many failed_handshakes) failed |"
	echo "| GET /healthz on each | $(scale_field many answered_200) answered 200, $(scale_field many errors) errors |"
	echo "| server threads before / held / answered | $(scale_field many threads_before) / $(scale_field many threads_held) / $(scale_field many threads_answered) |"
	echo "| RSS before / held / answered / 1 s after closing | $(scale_field many rss_kib_before) / $(scale_field many rss_kib_held) / $(scale_field many rss_kib_answered) / $(scale_field many rss_kib_after) KiB |"
	echo "| RSS per connection (answered - before) | $(scale_field many rss_bytes_per_connection) bytes |"
	echo "| $clients stuck mid-handshake: threads, RSS | $(scale_field stuck threads_with_stuck), $(scale_field stuck rss_kib_with_stuck) KiB |"
	echo "| meanwhile, new HTTPS connection + /healthz | median $(scale_field stuck healthz_ms_median) ms, max $(scale_field stuck healthz_ms_max) ms, $(scale_field stuck healthz_failures) failed of $(scale_field stuck healthz_samples) |"
	echo
	report_context "$command_line" "Tools: $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(openssl version)"
} | tee "$out/tls.md"
