#!/usr/bin/env bash
# Memory per idle keep-alive connection and what comes back after a burst,
# tinyserver's three allocator builds beside nginx, rounds interleaved:
#   - HTTP: N clients each send one GET /healthz, read the answer and stay
#     open and idle; the server's VmRSS then, and 5 s after they all closed
#     (bench/idle_clients.py);
#   - HTTPS: the same with M TLS clients (a full handshake each), the same
#     certificate for tinyserver and nginx, TLS 1.2 for both.
# Every measurement starts its server afresh. nginx is one process with one
# worker (bench/nginx-idle.conf). Idle and request timeouts are raised so
# that no server closes a connection while the clients hold it; the report
# says how many were still open when RSS was read.
# Then system calls, counted with strace -c -f (the machine is shared, so
# wall time is noise; counts are not): per keep-alive GET /healthz over R
# requests on one connection (--http-threads 1), and over one burst of N.
# Prints Markdown (also OUT/idle-memory.md) ending with the provenance
# (scripts/lib/report.sh). Figures only: nothing here passes or fails.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
# shellcheck source=scripts/lib/report.sh
. "$REPO/scripts/lib/report.sh"

usage() {
	cat <<EOF
usage: bench/idle-memory.sh [-h] [--bin BIN] [--secure-bin BIN] [--musl-bin BIN]
                            [--baseline BIN] [--connections N] [--tls-connections N]
                            [--rounds N] [--settle S] [--requests N] [--out DIR]
  --bin BIN              the mimalloc build (default: build/src/tinyserver)
  --secure-bin BIN       the mimalloc-secure build (default: build-mimalloc-secure/src/tinyserver)
  --musl-bin BIN         the musl build (default: build-musl/src/tinyserver)
  --baseline BIN         another build measured beside them as "before" (e.g. main's)
  --connections N        idle HTTP connections (default 10000)
  --tls-connections N    idle HTTPS connections (default 2000)
  --rounds N             interleaved rounds; median (min-max) reported (default 3)
  --settle S             seconds after the last close before RSS is read again (default 5)
  --requests N           keep-alive requests counted with strace (default 20000)
  --out DIR              where idle-memory.md and the logs go (default: bench/results)
Build the binaries with scripts/build.sh --allocator NAME --builddir build-NAME.
EOF
}

bin=$REPO/build/src/tinyserver secure_bin=$REPO/build-mimalloc-secure/src/tinyserver
musl_bin=$REPO/build-musl/src/tinyserver baseline='' connections=10000 tls_connections=2000
rounds=3 settle=5 requests=20000 out=$REPO/bench/results
command_line="bench/idle-memory.sh${*:+ $*}"
parse_options "--bin=bin --secure-bin=secure_bin --musl-bin=musl_bin --baseline=baseline --connections=connections --tls-connections=tls_connections --rounds=rounds --settle=settle --requests=requests --out=out" "$@"
need_positive_int "$connections" "$tls_connections" "$rounds" "$settle" "$requests"
for b in "$bin" "$secure_bin" "$musl_bin" ${baseline:+"$baseline"}; do
	[[ -x $b ]] || die "no binary at $b (scripts/build.sh --allocator NAME --builddir build-NAME)"
done
if [[ $(id -u) -eq 0 ]]; then
	"$REPO/scripts/setup.sh" build test bench
fi
need_cmd curl python3 openssl strace
[[ -x /usr/sbin/nginx ]] || die "nginx is not installed (scripts/setup.sh bench)"

# Each server holds a socket per client (tinyserver three per TLS client:
# the TCP one and a socketpair), and so does the client process.
nofile=$((connections > tls_connections * 3 ? connections : tls_connections * 3))
nofile=$((nofile + 1024))
ulimit -n "$nofile" 2>/dev/null || die "cannot raise the open files limit to $nofile (hard limit: $(ulimit -Hn))"

mkdir -p "$out/logs"
LOGS=$out/logs
work=$(mktemp -d)
SERVER_PID=''
cleanup() {
	if [[ -n $SERVER_PID ]]; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf -- "$work"
}
trap cleanup EXIT

"$REPO/certs/generate.sh" "$work" >"$LOGS/idle-memory-certs.log" 2>&1 || die "certs/generate.sh failed"
cert=$work/server-ec.crt tls_key=$work/server-ec.key ca=$work/ca.crt

# ------------------------------------------------------------- servers

declare -A BINARY=([mimalloc]=$bin [mimalloc-secure]=$secure_bin [musl]=$musl_bin)
SERVERS=(nginx mimalloc mimalloc-secure musl)
if [[ -n $baseline ]]; then
	BINARY[baseline]=$baseline
	SERVERS+=(baseline)
fi

# start_server NAME [EXTRA...]: sets SERVER_PID, PORT and TLS_PORT; waits
# until it answers over HTTPS.
start_server() {
	local name=$1 i prefix
	shift
	PORT=$(free_port) TLS_PORT=$(free_port)
	if [[ $name == nginx ]]; then
		prefix=$work/nginx-$PORT
		mkdir -p "$prefix/tmp"
		sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$PORT|g" -e "s|@TLS_PORT@|$TLS_PORT|g" \
			-e "s|@CERT@|$cert|g" -e "s|@KEY@|$tls_key|g" -e "s|@NOFILE@|$nofile|g" \
			-e "s|@CONNECTIONS@|$((nofile - 64))|g" "$REPO/bench/nginx-idle.conf" >"$prefix/nginx.conf"
		/usr/sbin/nginx -p "$prefix" -c "$prefix/nginx.conf" 2>>"$LOGS/idle-memory-servers.log" &
	else
		"${BINARY[$name]}" --bind 127.0.0.1 --port "$PORT" --tls-port "$TLS_PORT" \
			--tls-cert "$cert" --tls-key "$tls_key" --log-level warn \
			--max-connections $((connections + tls_connections + 256)) --max-connections-per-ip 0 \
			--max-tls-connections $((tls_connections + 64)) \
			--request-timeout 3600 --connection-timeout 3600 "$@" \
			>>"$LOGS/idle-memory-servers.log" 2>&1 &
	fi
	SERVER_PID=$!
	for ((i = 0; i < 200; i++)); do
		if curl -sf -o /dev/null --cacert "$ca" "https://127.0.0.1:$TLS_PORT/healthz"; then
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited (see $LOGS/idle-memory-servers.log)"
		sleep 0.05
	done
	die "$name did not answer over HTTPS (see $LOGS/idle-memory-servers.log)"
}

stop_server() {
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=''
}

# idle_run NAME KIND: one measurement on a fresh server; prints the JSON.
idle_run() {
	local name=$1 kind=$2 result
	start_server "$name"
	if [[ $kind == http ]]; then
		result=$(python3 "$REPO/bench/idle_clients.py" --port "$PORT" --pid "$SERVER_PID" \
			--connections "$connections" --settle "$settle")
	else
		result=$(python3 "$REPO/bench/idle_clients.py" --port "$TLS_PORT" --pid "$SERVER_PID" \
			--connections "$tls_connections" --settle "$settle" --tls "$ca")
	fi
	stop_server
	printf '%s %s %s\n' "$name" "$kind" "$result" >>"$LOGS/idle-memory-runs.log"
	printf '%s\n' "$result"
}

field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# -------------------------------------------------------- memory rounds

report_begin
declare -A SAMPLES
add() { SAMPLES[$1]+="$2 "; }
for ((round = 1; round <= rounds; round++)); do
	for ((i = 0; i < ${#SERVERS[@]}; i++)); do
		name=${SERVERS[(round + i) % ${#SERVERS[@]}]}
		for kind in http tls; do
			log "round $round/$rounds: $name, $kind"
			result=$(idle_run "$name" "$kind")
			for key in rss_kib_before rss_kib_held rss_kib_after bytes_per_connection; do
				add "$name-$kind-$key" "$(field "$result" "$key")"
			done
			add "$name-$kind-returned" $(($(field "$result" rss_kib_after) - $(field "$result" rss_kib_before)))
			add "$name-$kind-open" "$(field "$result" open_at_held)"
			add "$name-$kind-answered" "$(field "$result" answered)"
		done
	done
done

# summary KEY: "median (min-max)" of the samples, as whole numbers.
summary() {
	tr ' ' '\n' <<<"${SAMPLES[$1]}" | grep . | sort -g |
		awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.0f (%.0f-%.0f)", m, v[1], v[NR] }'
}
minimum() { tr ' ' '\n' <<<"${SAMPLES[$1]}" | grep . | sort -g | head -n1; }

# ------------------------------------------------------------ syscalls

# strace_counts FILE: "total madvise+munmap+mprotect+mmap+brk" calls in an
# strace -c summary.
strace_counts() {
	awk '/^-|^%/ { next }
		$NF == "total" { total = $4; next }
		NF >= 5 && $NF ~ /^(madvise|munmap|mprotect|mmap|brk)$/ { memory += $4 }
		END { printf "%d %d\n", total, memory }' "$1"
}

# traced OUTFILE CMD...: runs CMD while strace counts the server's system
# calls (all threads), into OUTFILE.
traced() {
	local outfile=$1 tracer
	shift
	strace -c -f -p "$SERVER_PID" -o "$outfile" 2>>"$LOGS/idle-memory-strace.log" &
	tracer=$!
	sleep 1 # strace attaches to every thread before the first request
	"$@" >/dev/null
	sleep 1
	kill -INT "$tracer"
	wait "$tracer" 2>/dev/null || true
}

declare -A SYSCALLS
for name in "${SERVERS[@]}"; do
	[[ $name == nginx ]] && continue
	log "system calls: $name"
	start_server "$name" --http-threads 1
	traced "$work/strace-ka" python3 "$REPO/bench/keepalive_client.py" "$PORT" /healthz "$requests"
	stop_server
	start_server "$name"
	traced "$work/strace-burst" python3 "$REPO/bench/idle_clients.py" --port "$PORT" \
		--pid "$SERVER_PID" --connections "$connections" --settle "$settle"
	stop_server
	cp "$work/strace-ka" "$LOGS/idle-memory-strace-$name-keepalive.txt"
	cp "$work/strace-burst" "$LOGS/idle-memory-strace-$name-burst.txt"
	SYSCALLS[$name]="$(strace_counts "$work/strace-ka") $(strace_counts "$work/strace-burst")"
done

# ------------------------------------------------------------- report

label() {
	case $1 in
	nginx) echo "nginx $(/usr/sbin/nginx -v 2>&1 | sed 's|.*nginx/||'), one worker" ;;
	baseline) echo "tinyserver before (--baseline)" ;;
	*) echo "tinyserver, $1 build" ;;
	esac
}

memory_table() {
	local kind=$1 count=$2 name
	echo "| $count idle ${kind^^} connections | RSS before, KiB | held, KiB | per idle connection, bytes | ${settle} s after closing, KiB | after - before, KiB | still open when read |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	for name in "${SERVERS[@]}"; do
		echo "| $(label "$name") | $(summary "$name-$kind-rss_kib_before") | $(summary "$name-$kind-rss_kib_held") | $(summary "$name-$kind-bytes_per_connection") | $(summary "$name-$kind-rss_kib_after") | $(summary "$name-$kind-returned") | $(minimum "$name-$kind-open") of $count (fewest) |"
	done
}

{
	echo "# Memory per idle connection, and after a burst"
	echo
	echo "$rounds interleaved rounds, each server started afresh for each measurement; median (min-max)."
	echo "Each client sent one GET /healthz, read the answer and stayed open; RSS (VmRSS) read 1 s after the last had connected,"
	echo "and again $settle s after they all closed. Per idle connection: (held - before) / connections still open then."
	echo
	memory_table http "$connections"
	echo
	memory_table tls "$tls_connections"
	echo
	echo "System calls of the server, counted with strace -c -f (all threads): over $requests keep-alive GET /healthz on one"
	echo "connection (--http-threads 1), and over one burst of $connections idle connections (accept, answer, close, ${settle} s after)."
	echo "Memory calls: madvise, munmap, mprotect, mmap and brk."
	echo
	echo "| build | per keep-alive request | memory calls in $requests requests | per connection of the burst | memory calls in the burst |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	for name in "${SERVERS[@]}"; do
		[[ $name == nginx ]] && continue
		read -r ka_total ka_memory burst_total burst_memory <<<"${SYSCALLS[$name]}"
		awk -v l="$(label "$name")" -v kt="$ka_total" -v km="$ka_memory" -v bt="$burst_total" \
			-v bm="$burst_memory" -v r="$requests" -v c="$connections" \
			'BEGIN { printf "| %s | %.3f | %d | %.2f | %d |\n", l, kt / r, km, bt / c, bm }'
	done
	echo
	report_context "$command_line" "nginx $(/usr/sbin/nginx -v 2>&1 | sed 's|.*nginx/||'), $(strace -V | head -n1 | sed "s| -- version | |"), $(python3 --version)"
} | tee "$out/idle-memory.md"
log "wrote $out/idle-memory.md"
