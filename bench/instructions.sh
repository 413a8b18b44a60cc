#!/usr/bin/env bash
# Instructions per request, counted rather than timed: on a shared or small
# machine wall time is noise, while valgrind's callgrind counts the same
# instructions for the same binary and requests whatever else runs. Each
# server runs under callgrind twice, once serving N and once 2N sequential
# GET /healthz requests on one kept-alive connection (bench/keepalive_client.py),
# and (I(2N) - I(N)) / N is what one more request costs, start-up and
# shutdown cancelled out. The servers:
#   tinyserver  --http-threads 1 --log-level warn (no access log)
#   nginx       Debian's, bench/nginx.conf (return 200, access log off) as
#               one process: master_process off, worker_processes 1
# Prints Markdown (also written to OUT/instructions.md). Figures only:
# nothing here passes or fails on them.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"

usage() {
	cat <<USAGE
usage: bench/instructions.sh [-h] [--requests N] [--bin FILE] [--out DIR]
  --requests N   N of the N and 2N runs (default 2000)
  --bin FILE     the tinyserver binary (default: build/src/tinyserver, from scripts/build.sh)
  --out DIR      where instructions.md goes (default: bench/results)
USAGE
}

requests=2000 bin=$REPO/build/src/tinyserver out=$REPO/bench/results
while (($#)); do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--requests | --bin | --out)
		(($# >= 2)) || die "$1 needs a value"
		case $1 in
		--requests) requests=$2 ;;
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
[[ $requests =~ ^[1-9][0-9]*$ ]] || die "'$requests' is not a positive integer"
[[ -x $bin ]] || die "no tinyserver binary at $bin (run scripts/build.sh first)"
if [[ $(id -u) -eq 0 ]]; then
	"$REPO/scripts/setup.sh" build test bench
fi
need_cmd valgrind curl python3
[[ -x /usr/sbin/nginx ]] || die "nginx is not installed (scripts/setup.sh bench)"

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

# server_command NAME PORT: the argv that runs server NAME on PORT, one per line.
server_command() {
	local name=$1 port=$2 prefix
	case $name in
	tinyserver)
		printf '%s\n' "$bin" --bind 127.0.0.1 --port "$port" --http-threads 1 --log-level warn
		;;
	nginx)
		prefix=$work/nginx-$port
		mkdir -p "$prefix/tmp" "$prefix/logs"
		sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" \
			-e 's|^worker_processes auto;|worker_processes 1;\nmaster_process off;|' \
			"$REPO/bench/nginx.conf" >"$prefix/nginx.conf"
		printf '%s\n' /usr/sbin/nginx -p "$prefix" -c "$prefix/nginx.conf"
		;;
	*) die "unknown server $name" ;;
	esac
}

# count_instructions NAME N: the instructions callgrind counted in server
# NAME's whole life (start, N requests, shutdown).
count_instructions() {
	local name=$1 n=$2 port cmd i profile=$work/$1-$2.callgrind
	port=$(free_port)
	mapfile -t cmd < <(server_command "$name" "$port")
	valgrind --tool=callgrind --callgrind-out-file="$profile" "${cmd[@]}" \
		>/dev/null 2>>"$work/$name.log" &
	SERVER_PID=$!
	for ((i = 0; i < 600; i++)); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz") == 200 ]] && break
		kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited under valgrind: $(tail -n 5 "$work/$name.log")"
		sleep 0.1
	done
	((i < 600)) || die "$name did not answer under valgrind within 60 s"
	python3 "$REPO/bench/keepalive_client.py" "$port" /healthz "$n"
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || true
	SERVER_PID=''
	awk '/^(summary|totals):/ { print $2; exit }' "$profile"
}

declare -A per_request
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for name in tinyserver nginx; do
	once=$(count_instructions "$name" "$requests")
	twice=$(count_instructions "$name" "$((2 * requests))")
	[[ -n $once && -n $twice ]] || die "no instruction total for $name"
	per_request[$name]=$(((twice - once) / requests))
	log "$name: $once instructions for $requests requests, $twice for $((2 * requests)): ${per_request[$name]} per request"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mkdir -p "$out"
{
	echo "| server | instructions per /healthz request | vs nginx |"
	echo "| --- | ---: | ---: |"
	for name in tinyserver nginx; do
		printf '| %s | %s | %sx |\n' "$name" "${per_request[$name]}" \
			"$(awk -v a="${per_request[$name]}" -v b="${per_request[nginx]}" 'BEGIN { printf "%.2f", a / b }')"
	done
	echo
	echo "- Machine: ${cpu_model:-unknown CPU}, $(nproc) CPUs available, Linux $(uname -r); $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- Load average before and after: $load_before / $load_after (instruction counts do not depend on it)"
	echo "- Command: bench/instructions.sh --requests $requests; (I(2N) - I(N)) / N with N = $requests, valgrind $(valgrind --version | sed 's/valgrind-//'), nginx $(/usr/sbin/nginx -v 2>&1 | sed 's|.*nginx/||')"
} | tee "$out/instructions.md"
