#!/usr/bin/env bash
# tinyserver as an HTTP server, against what one would otherwise run: nginx
# (Debian's, a private instance) and a static Go net/http server. Figures
# only: nothing here passes or fails on them. Modes:
#
#   throughput    wrk against each server and request, rounds interleaved
#                 (every round starts each server afresh, in a rotated
#                 order), so that a change in the machine's load touches
#                 every row alike; the median, min and max of the rounds.
#   instructions  instructions per request, counted by valgrind's callgrind
#                 rather than timed: each server serves N and then 2N
#                 sequential requests on one kept-alive connection
#                 (bench/keepalive_client.py) in two runs, and
#                 (I(2N) - I(N)) / N is what one more request costs, start-up
#                 and shutdown cancelled out. One HTTP thread or worker each;
#                 the kernel's side of system calls is not counted.
#                 Also where tinyserver's /healthz instructions go, by part
#                 (bench/callgrind_parts.py), beside --baseline's if given.
#   latency       GET /healthz answer times while a /bench runs, mimalloc
#                 and musl builds.
#
# Each mode writes OUT/http-MODE.md, ending with the machine, date, load
# average and command (scripts/lib/report.sh); docs/benchmarks.md quotes it.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
# shellcheck source=scripts/lib/report.sh
. "$REPO/scripts/lib/report.sh"

usage() {
	cat <<EOF
usage: bench/http.sh [-h] [--mode MODE] [--rounds N] [--duration S] [--threads N]
                     [--connections N] [--requests N] [--bin FILE] [--baseline FILE] [--out DIR]
  --mode MODE       throughput (default), instructions or latency
  --rounds N        throughput: interleaved rounds (default 7)
  --duration S      throughput, latency: seconds per wrk run (default 4)
  --threads N       throughput: wrk threads (default 2)
  --connections N   throughput: wrk connections (default 64)
  --requests N      instructions: N of the N and 2N runs (default 2000)
  --bin FILE        the tinyserver binary (default: build/src/tinyserver, from scripts/build.sh)
  --baseline FILE   instructions: also break down this binary's /healthz, as "before";
                    throughput: also run its /healthz in every round, beside --bin's
  --out DIR         where http-MODE.md and the logs go (default: bench/results)
EOF
}

mode=throughput rounds=7 duration=4 wrk_threads=2 connections=64 requests=2000
bin=$REPO/build/src/tinyserver baseline='' out=$REPO/bench/results
command_line="bench/http.sh${*:+ $*}"
parse_options "--mode=mode --rounds=rounds --duration=duration --threads=wrk_threads --connections=connections --requests=requests --bin=bin --baseline=baseline --out=out" "$@"
case $mode in
throughput | instructions | latency) ;;
*) die "unknown mode '$mode' (throughput, instructions or latency)" ;;
esac
need_positive_int "$rounds" "$duration" "$wrk_threads" "$connections" "$requests"
[[ -x $bin ]] || die "no tinyserver binary at $bin (run scripts/build.sh first)"
[[ -z $baseline || -x $baseline ]] || die "no baseline binary at $baseline"

if [[ $(id -u) -eq 0 ]]; then
	"$REPO/scripts/setup.sh" build test bench
fi
need_cmd wrk curl python3 valgrind callgrind_annotate
[[ -x /usr/sbin/nginx ]] || die "nginx is not installed (scripts/setup.sh bench)"

work=$(mktemp -d)
LOGS=$out/logs
mkdir -p "$LOGS"
SERVER_PID='' SERVER_PORT=''
cleanup() {
	if [[ -n $SERVER_PID ]]; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf -- "$work"
}
trap cleanup EXIT

# The /bench requests measured here are small; the latency mode's is long.
export MAX_BENCH_ITERATIONS=1000000000
# What GET /bench costs as a request: one thread, a short run.
BENCH_PATH='/bench?threads=1&iterations=1000'

# ---------------------------------------------------------------- servers

# nginx_config NAME PORT WORKERS: writes the private instance's nginx.conf
# from bench/NAME.conf and prints its prefix. WORKERS 1 makes it one process
# (master_process off), as callgrind needs.
nginx_config() {
	local name=$1 port=$2 workers=$3 prefix=$work/$1-$2
	mkdir -p "$prefix/tmp" "$prefix/logs"
	sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" "$REPO/bench/$name.conf" >"$prefix/nginx.conf"
	if [[ $workers == 1 ]]; then
		sed -i 's|^worker_processes auto;|worker_processes 1;\nmaster_process off;|' "$prefix/nginx.conf"
	fi
	printf '%s\n' "$prefix"
}

# server_command NAME PORT [one]: the argv that runs server NAME on PORT,
# one per line; "one" asks for a single HTTP thread or worker.
server_command() {
	local name=$1 port=$2 one=${3:-} tiny_threads=() prefix workers=auto
	[[ -n $one ]] && tiny_threads=(--http-threads 1) workers=1
	case $name in
	tinyserver) printf '%s\n' "$bin" --bind 127.0.0.1 --port "$port" --log-level warn "${tiny_threads[@]}" ;;
	baseline) printf '%s\n' "$baseline" --bind 127.0.0.1 --port "$port" --log-level warn "${tiny_threads[@]}" ;;
	tinyserver-log)
		printf '%s\n' "$bin" --bind 127.0.0.1 --port "$port" --log-level info \
			--log-file "$work/access-$port.log" "${tiny_threads[@]}"
		;;
	tinyserver-log-unbuffered)
		printf '%s\n' "$bin" --bind 127.0.0.1 --port "$port" --log-level info \
			--log-file "$work/access-$port.log" --log-buffer 0 "${tiny_threads[@]}"
		;;
	tinyserver-musl) printf '%s\n' "$MUSL_BIN" --bind 127.0.0.1 --port "$port" --log-level warn ;;
	nginx | nginx-minimal)
		prefix=$(nginx_config "$name" "$port" "$workers")
		printf '%s\n' /usr/sbin/nginx -p "$prefix" -c "$prefix/nginx.conf"
		;;
	go) printf '%s\n' "$work/go-server" -addr "127.0.0.1:$port" ;;
	*) die "unknown server $name" ;;
	esac
}

# wait_for_200 PORT PID NAME TRIES: until GET /healthz answers 200.
wait_for_200() {
	local port=$1 pid=$2 name=$3 tries=$4 i
	for ((i = 0; i < tries; i++)); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz") == 200 ]] && return 0
		kill -0 "$pid" 2>/dev/null || die "$name exited (see $LOGS/servers.log)"
		sleep 0.1
	done
	die "$name did not answer on port $port (see $LOGS/servers.log)"
}

start_server() {
	local cmd
	SERVER_PORT=$(free_port)
	mapfile -t cmd < <(server_command "$1" "$SERVER_PORT")
	"${cmd[@]}" >/dev/null 2>>"$LOGS/servers.log" &
	SERVER_PID=$!
	wait_for_200 "$SERVER_PORT" "$SERVER_PID" "$1" 100
}

stop_server() {
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=''
}

# wrk_run THREADS CONNECTIONS SECONDS PATH: "req/s p50_ms p99_ms errors
# requests", errors being wrk's socket errors (connect, read, write,
# timeout), which the table reports; a wrong answer stops the run.
wrk_run() {
	local report
	report=$(wrk -t"$1" -c"$2" -d"$3s" --latency "http://127.0.0.1:$SERVER_PORT$4")
	printf '%s\n' "$report" >>"$LOGS/wrk.log"
	if grep -q 'Non-2xx' <<<"$report"; then
		die "wrk saw answers other than 200 (see $LOGS/wrk.log)"
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
	/Socket errors:/ { gsub(",", ""); errors = $4 + $6 + $8 + $10 }
	/ requests in / { requests = $1 }
	END { printf "%.0f %.3f %.3f %d %d\n", rps, p50, p99, errors, requests }' <<<"$report"
}

# cpu_ticks PID: "user system", the CPU time in clock ticks that process
# PID and its children (nginx's workers) have used so far.
cpu_ticks() {
	local pid stats=()
	for pid in $(ps -o pid= --pid "$1" --ppid "$1"); do
		stats+=("/proc/$pid/stat")
	done
	# After the ") " that ends the command name, fields 12 and 13 are
	# utime and stime.
	awk '{ sub(/^.*\) /, ""); u += $12; s += $13 } END { print u + 0, s + 0 }' "${stats[@]}"
}

nginx_version() { /usr/sbin/nginx -v 2>&1 | sed 's|.*nginx/||'; }

# ------------------------------------------------------------- throughput

throughput() {
	need_cmd go
	log "building the Go server"
	(cd "$REPO/bench/go-server" && HOME=${HOME:-/root} GOCACHE=$CACHE/go-build CGO_ENABLED=0 \
		go build -trimpath -ldflags='-s -w' -o "$work/go-server" main.go)
	# Rows: id server path wrk-threads wrk-connections. /bench runs one at a
	# time (its slot), so one connection asks for it.
	local rows=(
		"healthz tinyserver /healthz $wrk_threads $connections"
		"healthz-log tinyserver-log /healthz $wrk_threads $connections"
		"healthz-log-unbuffered tinyserver-log-unbuffered /healthz $wrk_threads $connections"
		"nginx nginx /healthz $wrk_threads $connections"
		"nginx-minimal nginx-minimal /healthz $wrk_threads $connections"
		"go go /healthz $wrk_threads $connections"
		"index tinyserver / $wrk_threads $connections"
		"metrics tinyserver /metrics $wrk_threads $connections"
		"bench tinyserver $BENCH_PATH 1 1"
	)
	[[ -z $baseline ]] || rows+=("healthz-baseline baseline /healthz $wrk_threads $connections")
	local csv=$out/http-throughput.csv round i id server path t c rps p50 p99 errors requests lines
	local user_before system_before user_after system_after cpu_us hz
	hz=$(getconf CLK_TCK)
	echo "row,round,requests_per_sec,p50_ms,p99_ms,socket_errors,server_cpu_us_per_request,server_user_us_per_request,server_system_us_per_request" >"$csv"
	report_begin
	for ((round = 1; round <= rounds; round++)); do
		for ((i = 0; i < ${#rows[@]}; i++)); do
			read -r id server path t c <<<"${rows[(round + i) % ${#rows[@]}]}"
			log "round $round/$rounds: $id"
			start_server "$server"
			wrk_run "$t" "$c" 1 "$path" >/dev/null # warm-up
			read -r user_before system_before < <(cpu_ticks "$SERVER_PID")
			read -r rps p50 p99 errors requests < <(wrk_run "$t" "$c" "$duration" "$path")
			read -r user_after system_after < <(cpu_ticks "$SERVER_PID")
			# "total,user,system", each in µs per request.
			cpu_us=$(awk -v u="$((user_after - user_before))" -v s="$((system_after - system_before))" \
				-v n="$requests" -v hz="$hz" 'BEGIN {
					k = n > 0 ? 1e6 / hz / n : 0
					printf "%.2f,%.2f,%.2f", (u + s) * k, u * k, s * k }')
			echo "$id,$round,$rps,$p50,$p99,$errors,$cpu_us" >>"$csv"
			local port=$SERVER_PORT
			stop_server
			# A logging server must have written a line for every request
			# wrk counted (and more: the warm-up's and the readiness probe's).
			if [[ $server == tinyserver-log* ]]; then
				lines=$(wc -l <"$work/access-$port.log")
				((lines >= requests)) || die "$id: $lines access lines for $requests requests"
			fi
		done
	done

	declare -A RPS P50 P99 ERRORS CPU CPU_USER CPU_SYSTEM NAME=(
		[healthz]="tinyserver, --log-level warn"
		[healthz-log]="tinyserver, access log to a file (--log-file, buffered)"
		[healthz-log-unbuffered]="tinyserver, access log to a file, a write per line (--log-buffer 0)"
		[nginx]="nginx $(nginx_version), bench/nginx.conf"
		[nginx-minimal]="nginx $(nginx_version), bench/nginx-minimal.conf"
		[go]="Go $(go env GOVERSION | sed 's/^go//') net/http (static)"
		[index]="tinyserver, --log-level warn"
		[metrics]="tinyserver, --log-level warn"
		[bench]="tinyserver, --log-level warn"
		[healthz-baseline]="tinyserver before (--baseline), --log-level warn"
	)
	# column ID N: column N of row ID's rounds, one per line.
	column() { awk -F, -v r="$1" -v n="$2" '$1 == r { print $n }' "$csv"; }
	for row in "${rows[@]}"; do
		read -r id _ <<<"$row"
		# Each with the decimals its column has in the CSV.
		RPS[$id]=$(column "$id" 3 | median_range %.0f)
		P50[$id]=$(column "$id" 4 | median %.3f)
		P99[$id]=$(column "$id" 5 | median %.3f)
		ERRORS[$id]=$(column "$id" 6 | awk '{ s += $1 } END { print s + 0 }')
		CPU[$id]=$(column "$id" 7 | median %.2f)
		CPU_USER[$id]=$(column "$id" 8 | median %.2f)
		CPU_SYSTEM[$id]=$(column "$id" 9 | median %.2f)
	done
	local nginx_median vs
	read -r nginx_median _ <<<"${RPS[nginx]}"
	# The per-round ratio of tinyserver to each nginx: both ran in the same
	# round, minutes apart at most, so it is the steadiest comparison.
	# per_round_ratios A B: row A's req/s over row B's, one line per round
	# (in no order).
	per_round_ratios() {
		awk -F, -v a="$1" -v b="$2" '$1 == a { x[$2] = $3 } $1 == b { y[$2] = $3 }
			END { for (r in x) if (y[r] > 0) printf "%.4f\n", x[r] / y[r] }' "$csv"
	}
	# round_ratios A B: the lowest and highest of those; median_ratio A B:
	# their median (each already a ratio, so shown as one over 1).
	round_ratios() {
		local lowest highest
		read -r _ lowest highest < <(per_round_ratios "$1" "$2" | median_range)
		echo "$(ratio "$lowest" 1) to $(ratio "$highest" 1)"
	}
	median_ratio() { ratio "$(per_round_ratios "$1" "$2" | median)" 1; }
	{
		echo "| server | request | req/s median | min | max | p50 | p99 | socket errors | vs nginx (median) | server CPU per request | user | system |"
		echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
		for row in "${rows[@]}"; do
			read -r id server path t c <<<"$row"
			read -r median min max <<<"${RPS[$id]}"
			vs=-
			[[ $path == /healthz ]] && vs=$(ratio "$median" "$nginx_median")
			printf '| %s | GET %s (wrk -t%s -c%s) | %s | %s | %s | %s ms | %s ms | %s | %s | %s µs | %s µs | %s µs |\n' \
				"${NAME[$id]}" "$path" "$t" "$c" "$median" "$min" "$max" "${P50[$id]}" "${P99[$id]}" \
				"${ERRORS[$id]}" "$vs" "${CPU[$id]}" "${CPU_USER[$id]}" "${CPU_SYSTEM[$id]}"
		done
		echo
		echo "- tinyserver against nginx, round by round: $(round_ratios healthz nginx) (bench/nginx.conf), $(round_ratios healthz nginx-minimal) (bench/nginx-minimal.conf); medians of the per-round ratios: $(median_ratio healthz nginx) and $(median_ratio healthz nginx-minimal)"
		echo "- Access log on against off, round by round: buffered $(round_ratios healthz-log healthz), a write per line $(round_ratios healthz-log-unbuffered healthz); medians of the per-round ratios: $(median_ratio healthz-log healthz) and $(median_ratio healthz-log-unbuffered healthz)"
		[[ -z $baseline ]] ||
			echo "- This build against --baseline, round by round: $(round_ratios healthz healthz-baseline); median of the per-round ratios: $(median_ratio healthz healthz-baseline)"
		echo "- $rounds interleaved rounds, wrk -d${duration}s each after a 1 s warm-up; every server at its default threads or workers (one per CPU); wrk runs on the same machine"
		echo "- Server CPU per request: the user and system time the server's process and its children (nginx's workers) used during the measured run, over the requests wrk counted, from /proc in clock ticks of $((1000 / hz)) ms; each column is the median of the rounds, so user and system need not add up to the total"
		report_context "$command_line" "wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }'), nginx $(nginx_version)"
	} >"$out/http-throughput.md"
	cat "$out/http-throughput.md"
}

# ----------------------------------------------------------- instructions

# count_instructions NAME PATH N PROFILE: runs server NAME (one thread)
# under callgrind for N requests of PATH; prints its whole life's count.
count_instructions() {
	local name=$1 path=$2 n=$3 profile=$4 port cmd pid
	port=$(free_port)
	mapfile -t cmd < <(server_command "$name" "$port" one)
	valgrind --tool=callgrind --callgrind-out-file="$profile" "${cmd[@]}" \
		>/dev/null 2>>"$LOGS/valgrind-$name.log" &
	SERVER_PID=$!
	wait_for_200 "$port" "$SERVER_PID" "$name under valgrind" 600
	python3 "$REPO/bench/keepalive_client.py" "$port" "$path" "$n"
	stop_server
	awk '/^(summary|totals):/ { print $2; exit }' "$profile"
}

# per_request NAME PATH: instructions one more request of PATH costs.
per_request() {
	local name=$1 path=$2 tag once twice
	tag=$name-$(tr -c 'a-z0-9' '_' <<<"$path")
	once=$(count_instructions "$name" "$path" "$requests" "$work/$tag-1.callgrind")
	twice=$(count_instructions "$name" "$path" "$((2 * requests))" "$work/$tag-2.callgrind")
	[[ -n $once && -n $twice ]] || die "no instruction total for $name $path"
	log "$name GET $path: $once instructions for $requests requests, $twice for $((2 * requests))"
	echo $(((twice - once) / requests))
}

instructions() {
	local rows=(
		"tinyserver /healthz"
		"nginx /healthz"
		"nginx-minimal /healthz"
		"tinyserver-log /healthz"
		"tinyserver-log-unbuffered /healthz"
		"tinyserver /"
		"tinyserver /metrics"
		"tinyserver $BENCH_PATH"
	)
	local name path count nginx_count='' breakdown_args
	declare -A COUNT
	report_begin
	for row in "${rows[@]}"; do
		read -r name path <<<"$row"
		COUNT[$row]=$(per_request "$name" "$path")
	done
	nginx_count=${COUNT[nginx /healthz]}
	breakdown_args=("$requests" "$work/tinyserver-_healthz_-1.callgrind" "$work/tinyserver-_healthz_-2.callgrind")
	if [[ -n $baseline ]]; then
		COUNT[baseline /healthz]=$(per_request baseline /healthz)
		breakdown_args+=("$work/baseline-_healthz_-1.callgrind" "$work/baseline-_healthz_-2.callgrind")
	fi
	{
		echo "| server | request | instructions per request | vs nginx GET /healthz |"
		echo "| --- | --- | ---: | ---: |"
		for row in "${rows[@]}" ${baseline:+"baseline /healthz"}; do
			read -r name path <<<"$row"
			count=${COUNT[$row]}
			case $name in
			tinyserver) name="tinyserver" ;;
			tinyserver-log) name="tinyserver, buffered access log to a file" ;;
			tinyserver-log-unbuffered) name="tinyserver, access log, a write per line" ;;
			baseline) name="tinyserver before (--baseline)" ;;
			nginx) name="nginx, bench/nginx.conf" ;;
			nginx-minimal) name="nginx, bench/nginx-minimal.conf" ;;
			esac
			printf '| %s | GET %s | %s | %s |\n' "$name" "$path" "$count" "$(ratio "$count" "$nginx_count")"
		done
		echo
		echo "Where tinyserver's GET /healthz instructions go (bench/callgrind_parts.py):"
		echo
		python3 "$REPO/bench/callgrind_parts.py" "${breakdown_args[@]}"
		echo
		echo "- (I(2N) - I(N)) / N with N = $requests sequential requests on one kept-alive connection; tinyserver --http-threads 1 --log-level warn, nginx master_process off with one worker"
		report_context "$command_line" "valgrind $(valgrind --version | sed 's/valgrind-//'), nginx $(nginx_version)"
	} >"$out/http-instructions.md"
	cat "$out/http-instructions.md"
}

# ---------------------------------------------------------------- latency

latency() {
	need_cmd jq
	MUSL_BIN=$REPO/build-musl/src/tinyserver
	"$REPO/scripts/build.sh" --allocator musl --builddir "$REPO/build-musl" >"$LOGS/build-musl.log" 2>&1 ||
		die "building the musl variant failed (see $LOGS/build-musl.log)"
	# Light load, so that the figure is the answer time, not the queueing.
	local threads=1 conns=4 v s b ms iterations bench_pid
	declare -A LAT ITER
	report_begin
	for v in mimalloc musl; do
		s=tinyserver b=$bin
		[[ $v == musl ]] && s=tinyserver-musl b=$MUSL_BIN
		start_server "$s"
		LAT[$v, idle]=$(wrk_run "$threads" "$conns" "$duration" /healthz)
		# A /bench at the default threads (all CPUs) long enough to cover the
		# wrk run: its length is calibrated with the binary's own --bench.
		ms=$("$b" --bench --iterations 200000 | jq -r .elapsed_ms)
		iterations=$(awk -v ms="$ms" -v d="$duration" 'BEGIN { n = 200000 * (d + 3) * 1000 / ms; print (n > 1e9 ? 1000000000 : int(n)) }')
		curl -s -o "$LOGS/bench-during-wrk-$v.json" -w '%{http_code}\n' \
			"http://127.0.0.1:$SERVER_PORT/bench?iterations=$iterations" >"$LOGS/bench-during-wrk-$v.status" &
		bench_pid=$!
		sleep 1
		LAT[$v, bench]=$(wrk_run "$threads" "$conns" "$duration" /healthz)
		wait "$bench_pid"
		[[ $(cat "$LOGS/bench-during-wrk-$v.status") == 200 ]] ||
			warn "$v: the /bench under wrk answered $(cat "$LOGS/bench-during-wrk-$v.status") (see $LOGS)"
		ITER[$v]=$iterations
		stop_server
	done
	{
		echo "| build, condition | req/s | p50 | p99 |"
		echo "| --- | ---: | ---: | ---: |"
		for v in mimalloc musl; do
			for cond in idle bench; do
				read -r rps p50 p99 _ _ <<<"${LAT[$v, $cond]}"
				label="$v, idle"
				[[ $cond == bench ]] && label="$v, during /bench?iterations=${ITER[$v]}"
				printf '| %s | %s | %s ms | %s ms |\n' "$label" "$rps" "$p50" "$p99"
			done
		done
		echo
		echo "- wrk -t$threads -c$conns -d${duration}s on GET /healthz; the /bench uses the default threads (all CPUs) and runs through the whole wrk run"
		report_context "$command_line"
	} >"$out/http-latency.md"
	cat "$out/http-latency.md"
}

"$mode"
log "wrote $out/http-$mode.md"
