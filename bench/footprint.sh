#!/usr/bin/env bash
# tinyserver's footprint, the figures the README's opening quotes: exec to
# the first 200 on GET /healthz (bench/first200.c; median and range of
# --starts starts), the resident memory of an idle server (VmRSS one second
# after its first 200, median of --idle starts) and the size of the stripped
# binary the images ship. Writes bench/results/footprint.md (or --out),
# ending with the machine, date, load average and command. Figures only:
# nothing here passes or fails on them. Quick: seconds, one CPU at a time.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
# shellcheck source=scripts/lib/report.sh
. "$REPO/scripts/lib/report.sh"

usage() {
	cat <<EOF
usage: bench/footprint.sh [-h] [--builddir DIR] [--starts N] [--idle N] [--out FILE]
  --builddir DIR  the build to measure (default: build; scripts/build.sh makes it)
  --starts N      exec-to-first-200 samples (default 30)
  --idle N        idle-RSS samples, one server start each (default 3)
  --out FILE      the report (default: bench/results/footprint.md)
EOF
}

builddir=$REPO/build starts=30 idle=3 out=$REPO/bench/results/footprint.md
command_line="bench/footprint.sh${*:+ $*}"
parse_options "--builddir=builddir --starts=starts --idle=idle --out=out" "$@"
need_positive_int "$starts" "$idle"
binary=$builddir/src/tinyserver
stripped=$builddir/src/tinyserver-stripped
[[ -x $binary && -f $stripped ]] || die "no build in $builddir (run: scripts/build.sh --builddir $builddir)"
need_cmd gcc curl

work=$(mktemp -d)
server_pid=
cleanup() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf -- "$work"
}
trap cleanup EXIT
gcc -O2 -Wall -Wextra -Werror -o "$work/first200" "$REPO/bench/first200.c"

report_begin
log "exec to first 200: $starts starts"
for ((i = 0; i < starts; i++)); do
	port=$(free_port)
	"$work/first200" "$port" /healthz "$binary" --bind 127.0.0.1 --port "$port" \
		--log-level warn >>"$work/first200.txt"
done

log "idle RSS: $idle starts"
for ((i = 0; i < idle; i++)); do
	port=$(free_port)
	"$binary" --bind 127.0.0.1 --port "$port" --log-level warn >/dev/null 2>&1 &
	server_pid=$!
	for _ in $(seq 200); do
		curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
		sleep 0.05
	done
	curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" || die "the server did not start"
	sleep 1
	awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status" >>"$work/rss.txt"
	kill "$server_pid"
	wait "$server_pid" || die "the server did not exit 0 on SIGTERM"
	server_pid=
done

read -r start_median start_min start_max < <(median_range <"$work/first200.txt")
read -r rss_median rss_min rss_max < <(median_range <"$work/rss.txt")
{
	echo "# Footprint"
	echo
	echo "| measure | $("$binary" --version | head -1) |"
	echo "| --- | --- |"
	awk -v m="$start_median" -v a="$start_min" -v b="$start_max" -v n="$starts" \
		'BEGIN { printf "| exec to first 200, median of %d (min-max) | %.2f ms (%.2f-%.2f ms) |\n", n, m / 1000, a / 1000, b / 1000 }'
	echo "| idle RSS (VmRSS 1 s after the first 200), median of $idle (min-max) | $rss_median KiB ($rss_min-$rss_max KiB) |"
	echo "| stripped binary (\`tinyserver-stripped\`, as the images ship it) | $(stat -c %s "$stripped") B |"
	echo
	report_context "$command_line" "Binary: ${binary#"$REPO"/}, served with --log-level warn on 127.0.0.1"
} >"$work/footprint.md"
mkdir -p "$(dirname -- "$out")"
cp "$work/footprint.md" "$out"
cat "$out"
