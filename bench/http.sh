#!/usr/bin/env bash
# tinyserver as a server, against what one would otherwise run: wrk against
# GET /healthz of tinyserver, nginx (Debian's, a private instance with
# bench/nginx.conf) and a static Go net/http server (bench/go-server), with
# the same wrk threads and connections, rounds interleaved; then /healthz
# latency while a /bench runs, and the footprint: exec to first 200, idle
# RSS, RSS after a /bench, binary size. Prints Markdown (also written to
# OUT/http.md). Figures only: nothing here passes or fails on them.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"

usage() {
	cat <<EOF
usage: bench/http.sh [-h] [--duration S] [--rounds N] [--threads N] [--connections N]
                     [--starts N] [--out DIR]
  --duration S      seconds per wrk run (default 10)
  --rounds N        interleaved rounds per server; the median is reported (default 3)
  --threads N       wrk threads (default 2)
  --connections N   wrk connections (default 64)
  --starts N        exec-to-first-200 samples per server (default 50)
  --out DIR         where http.md, http.csv and logs go (default: bench/results)
EOF
}

duration=10 rounds=3 wrk_threads=2 connections=64 starts=50 out=$REPO/bench/results
while (($#)); do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--duration | --rounds | --threads | --connections | --starts | --out)
		(($# >= 2)) || die "$1 needs a value"
		case $1 in
		--duration) duration=$2 ;;
		--rounds) rounds=$2 ;;
		--threads) wrk_threads=$2 ;;
		--connections) connections=$2 ;;
		--starts) starts=$2 ;;
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
for n in "$duration" "$rounds" "$wrk_threads" "$connections" "$starts"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "'$n' is not a positive integer"
done

if [[ $(id -u) -eq 0 ]]; then
	"$REPO/scripts/setup.sh" build test bench
fi
need_cmd wrk nginx go gcc curl jq python3 ps

# The /bench that runs during a wrk run is longer than the default cap allows.
export MAX_BENCH_ITERATIONS=1000000000

work=$REPO/build-bench
mkdir -p "$out/logs" "$work"
LOGS=$out/logs

# ------------------------------------------------------------------ build

declare -A BIN
for v in mimalloc mimalloc-secure musl; do
	BIN[$v]=$REPO/build-$v/src/tinyserver
	"$REPO/scripts/build.sh" --allocator "$v" --builddir "$REPO/build-$v" >"$LOGS/build-$v.log" 2>&1 ||
		die "building the $v variant failed (see $LOGS/build-$v.log)"
done
log "building the Go server and the first-200 probe"
(cd "$REPO/bench/go-server" && HOME=${HOME:-/root} GOCACHE=$CACHE/go-build CGO_ENABLED=0 \
	go build -trimpath -ldflags='-s -w' -o "$work/go-server" main.go)
gcc -O2 -Wall -Wextra -Werror -o "$work/first200" "$REPO/bench/first200.c"

# ---------------------------------------------------------------- servers

# server_command NAME PORT: the argv that runs server NAME on PORT, one per line.
server_command() {
	local name=$1 port=$2 prefix
	case $name in
	tinyserver) printf '%s\n' "${BIN[mimalloc]}" --bind 127.0.0.1 --port "$port" --log-level warn ;;
	tinyserver-log) printf '%s\n' "${BIN[mimalloc]}" --bind 127.0.0.1 --port "$port" ;;
	tinyserver-musl) printf '%s\n' "${BIN[musl]}" --bind 127.0.0.1 --port "$port" --log-level warn ;;
	tinyserver-secure) printf '%s\n' "${BIN[mimalloc-secure]}" --bind 127.0.0.1 --port "$port" --log-level warn ;;
	nginx)
		prefix=$work/nginx-$port
		mkdir -p "$prefix/tmp" "$prefix/logs"
		sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" "$REPO/bench/nginx.conf" >"$prefix/nginx.conf"
		printf '%s\n' /usr/sbin/nginx -p "$prefix" -c "$prefix/nginx.conf"
		;;
	go) printf '%s\n' "$work/go-server" -addr "127.0.0.1:$port" ;;
	*) die "unknown server $name" ;;
	esac
}

SERVER_PID='' SERVER_PORT=''
start_server() {
	local cmd i
	SERVER_PORT=$(free_port)
	mapfile -t cmd < <(server_command "$1" "$SERVER_PORT")
	"${cmd[@]}" >/dev/null 2>>"$LOGS/servers.log" &
	SERVER_PID=$!
	for ((i = 0; i < 500; i++)); do
		if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SERVER_PORT/healthz") == 200 ]]; then
			return 0
		fi
		sleep 0.01
	done
	die "$1 did not answer on port $SERVER_PORT (see $LOGS/servers.log)"
}

stop_server() {
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}
trap '[[ -z $SERVER_PID ]] || stop_server' EXIT

# RSS of the server and its children (nginx's workers), in KiB.
rss_kib() {
	ps -o rss= --pid "$SERVER_PID" --ppid "$SERVER_PID" | awk '{ s += $1 } END { print s + 0 }'
}

# wrk_run THREADS CONNECTIONS SECONDS: "req/s p50_ms p99_ms" for /healthz.
wrk_run() {
	local report
	report=$(wrk -t"$1" -c"$2" -d"$3s" --latency "http://127.0.0.1:$SERVER_PORT/healthz")
	printf '%s\n' "$report" >>"$LOGS/wrk.log"
	if grep -q 'Non-2xx' <<<"$report"; then
		die "wrk saw non-200 answers (see $LOGS/wrk.log)"
	fi
	awk 'function ms(v) {
		if (v ~ /us$/) return v / 1000
		if (v ~ /ms$/) return v + 0
		if (v ~ /s$/) return v * 1000
		return v
	}
	/^Requests\/sec:/ { rps = $2 }
	$1 == "50%" { p50 = ms($2) }
	$1 == "99%" { p99 = ms($2) }
	END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }' <<<"$report"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ----------------------------------------------------------- throughput

SERVERS=(tinyserver tinyserver-log nginx go)
declare -A SERVER_NAME=(
	[tinyserver]="tinyserver (mimalloc, --log-level warn)"
	[tinyserver-log]="tinyserver (mimalloc, access log to /dev/null)"
	[nginx]="nginx $(nginx -v 2>&1 | sed 's|.*/||') (access_log off)"
	[go]="Go $(go env GOVERSION | sed 's/^go//') net/http (static)"
)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
CSV=$out/http.csv
echo "server,round,requests_per_sec,p50_ms,p99_ms" >"$CSV"
for ((round = 1; round <= rounds; round++)); do
	for ((i = 0; i < ${#SERVERS[@]}; i++)); do
		s=${SERVERS[(round + i) % ${#SERVERS[@]}]}
		log "round $round/$rounds: $s"
		start_server "$s"
		wrk_run "$wrk_threads" "$connections" 1 >/dev/null # warm-up
		read -r rps p50 p99 < <(wrk_run "$wrk_threads" "$connections" "$duration")
		echo "$s,$round,$rps,$p50,$p99" >>"$CSV"
		stop_server
	done
done

declare -A RPS P50 P99
for s in "${SERVERS[@]}"; do
	RPS[$s]=$(awk -F, -v s="$s" '$1 == s { print $3 }' "$CSV" | median)
	P50[$s]=$(awk -F, -v s="$s" '$1 == s { print $4 }' "$CSV" | median)
	P99[$s]=$(awk -F, -v s="$s" '$1 == s { print $5 }' "$CSV" | median)
done

# ------------------------------------------------- latency during /bench

# Light load, so that the figure is the answer time, not the queueing.
LAT_THREADS=1 LAT_CONNECTIONS=4
declare -A LAT
for v in mimalloc musl; do
	s=tinyserver
	[[ $v == musl ]] && s=tinyserver-musl
	start_server "$s"
	LAT[$v, idle]=$(wrk_run "$LAT_THREADS" "$LAT_CONNECTIONS" "$duration")
	# A /bench at the default threads (all CPUs) long enough to cover the
	# wrk run: its length is calibrated with the binary's own --bench.
	ms=$("${BIN[$v]}" --bench --iterations 200000 | jq -r .elapsed_ms)
	iterations=$(awk -v ms="$ms" -v d="$duration" 'BEGIN { n = 200000 * (d + 3) * 1000 / ms; print (n > 1e9 ? 1000000000 : int(n)) }')
	curl -s -o "$LOGS/bench-during-wrk-$v.json" -w '%{http_code}\n' \
		"http://127.0.0.1:$SERVER_PORT/bench?iterations=$iterations" >"$LOGS/bench-during-wrk-$v.status" &
	bench_pid=$!
	sleep 1
	LAT[$v, bench]=$(wrk_run "$LAT_THREADS" "$LAT_CONNECTIONS" "$duration")
	wait "$bench_pid"
	[[ $(cat "$LOGS/bench-during-wrk-$v.status") == 200 ]] ||
		warn "$v: the /bench under wrk answered $(cat "$LOGS/bench-during-wrk-$v.status") (see $LOGS)"
	LAT[$v, iterations]=$iterations
	stop_server
done

# ------------------------------------------------------------- footprint

declare -A FIRST
for s in tinyserver nginx go; do
	log "exec to first 200: $s x $starts"
	samples=$LOGS/first200-$s.txt
	: >"$samples"
	for ((i = 0; i < starts; i++)); do
		port=$(free_port)
		mapfile -t cmd < <(server_command "$s" "$port")
		"$work/first200" "$port" /healthz "${cmd[@]}" >>"$samples"
	done
	FIRST[$s]=$(median <"$samples")
done

declare -A IDLE AFTER LATER
for s in tinyserver tinyserver-secure tinyserver-musl nginx go; do
	start_server "$s"
	sleep 1
	IDLE[$s]=$(rss_kib)
	if [[ $s == tinyserver* ]]; then
		curl -s -o /dev/null "http://127.0.0.1:$SERVER_PORT/bench"
		AFTER[$s]=$(rss_kib)
		sleep 5
		LATER[$s]=$(rss_kib)
	fi
	stop_server
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

size_of() { stat -c %s "$1"; }
nginx_libs=$(ldd /usr/sbin/nginx | awk '$3 ~ /^\// { print $3 }' | xargs -r readlink -f | xargs -r stat -L -c %s | awk '{ s += $1; n++ } END { printf "%d libraries, %.1f MiB", n, s / 1048576 }')

# ------------------------------------------------------------------ report

kib() { awk -v k="$1" 'BEGIN { printf (k >= 1024 ? "%.1f MiB" : "%d KiB"), (k >= 1024 ? k / 1024 : k) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }
lat_row() {
	local rps p50 p99
	read -r rps p50 p99 <<<"$2"
	printf '| %s | %s | %s ms | %s ms |\n' "$1" "$rps" "$p50" "$p99"
}
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
	echo "# tinyserver as a server"
	echo
	echo "- Machine: ${cpu_model:-unknown CPU}, $(nproc) CPUs available, Linux $(uname -r); wrk runs on the same machine"
	echo "- Load average (1, 5, 15 min) before: $load_before; after: $load_after"
	echo "- Command: \`bench/http.sh --duration $duration --rounds $rounds --threads $wrk_threads --connections $connections --starts $starts\`"
	echo
	echo "## GET /healthz: wrk -t$wrk_threads -c$connections -d${duration}s --latency, median of $rounds interleaved rounds"
	echo
	echo "| server | req/s | p50 | p99 | vs nginx | vs Go |"
	echo "| --- | --- | --- | --- | --- | --- |"
	for s in "${SERVERS[@]}"; do
		printf '| %s | %s | %s ms | %s ms | %s | %s |\n' "${SERVER_NAME[$s]}" "${RPS[$s]}" "${P50[$s]}" \
			"${P99[$s]}" "$(ratio "${RPS[$s]}" "${RPS[nginx]}")" "$(ratio "${RPS[$s]}" "${RPS[go]}")"
	done
	echo
	echo "## GET /healthz while a /bench runs: wrk -t$LAT_THREADS -c$LAT_CONNECTIONS -d${duration}s"
	echo
	echo "The /bench uses the default threads (all CPUs) and runs through the whole wrk run."
	echo
	echo "| build, condition | req/s | p50 | p99 |"
	echo "| --- | --- | --- | --- |"
	for v in mimalloc musl; do
		lat_row "$v, idle" "${LAT[$v, idle]}"
		lat_row "$v, during /bench?iterations=${LAT[$v, iterations]}" "${LAT[$v, bench]}"
	done
	echo
	echo "## Footprint"
	echo
	echo "| server | exec to first 200 (median of $starts) | idle RSS | RSS right after GET /bench | 5 s later | binary |"
	echo "| --- | --- | --- | --- | --- | --- |"
	for s in tinyserver tinyserver-secure tinyserver-musl nginx go; do
		case $s in
		tinyserver) name="tinyserver (mimalloc)" bin=${BIN[mimalloc]%/*}/tinyserver-stripped ;;
		tinyserver-secure) name="tinyserver (mimalloc secure)" bin=${BIN[mimalloc-secure]%/*}/tinyserver-stripped ;;
		tinyserver-musl) name="tinyserver (musl mallocng)" bin=${BIN[musl]%/*}/tinyserver-stripped ;;
		nginx) name="nginx (master + $(nproc) workers)" bin=/usr/sbin/nginx ;;
		go) name="Go net/http" bin=$work/go-server ;;
		esac
		first=${FIRST[$s]:-}
		printf '| %s | %s | %s | %s | %s | %s |\n' "$name" \
			"${first:+$(awk -v us="$first" 'BEGIN { printf "%.2f ms", us / 1000 }')}" \
			"$(kib "${IDLE[$s]}")" "${AFTER[$s]:+$(kib "${AFTER[$s]}")}" "${LATER[$s]:+$(kib "${LATER[$s]}")}" \
			"$(size_of "$bin") bytes$([[ $s == nginx ]] && echo " + $nginx_libs")"
	done
} >"$out/http.md"
cat "$out/http.md"
log "wrote $out/http.md and $CSV"
