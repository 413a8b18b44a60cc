# shellcheck shell=bash
# Shared helpers for scripts/*.sh and bench/*.sh. Sourced, never run: it sets no shell options
# of its own so that each script states its own.
# shellcheck disable=SC2034 # REPO, CACHE, PROG are for the sourcing scripts

# The repository is found from this file's location, not from git, because the
# container build copies the tree without .git.
REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
# Everything downloaded or built goes under one directory, so it can be wiped or
# moved (e.g. onto a volume kept between container builds) as one unit.
CACHE=${TINYSERVER_CACHE:-$REPO/.cache}
PROG=$(basename -- "$0" .sh)

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "$* needs root (rerun as root, e.g. with sudo)"
}

# need_cmd CMD... : fail early with the package hint instead of midway in a build.
need_cmd() {
	local c missing=()
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || missing+=("$c")
	done
	((${#missing[@]} == 0)) || die "missing command(s): ${missing[*]} (run: scripts/setup.sh build)"
}

# parse_options SPEC ARG...: the command line of a script whose options are
# "--name VALUE" or plain flags. SPEC lists "--name=VAR" (the next argument
# goes into VAR) and "--flag=VAR:VALUE" (VAR becomes VALUE), separated by
# spaces; "@=ARRAY" takes the arguments that are not options (those not
# starting with "-"), in order, onto the caller's array ARRAY, which a SPEC
# without it refuses. -h and --help print the caller's usage() and exit 0;
# an option not in SPEC prints usage() to stderr and exits 2; a missing
# value dies. VARs are the caller's variables, set through bash's dynamic
# scope.
parse_options() {
	local spec_entry option target rest_array=
	local -A target_of=()
	for spec_entry in $1; do
		if [[ $spec_entry == @=* ]]; then
			rest_array=${spec_entry#@=}
		else
			target_of[${spec_entry%%=*}]=${spec_entry#*=}
		fi
	done
	shift
	if [[ -n $rest_array ]]; then
		local -n parse_options_rest=$rest_array
	fi
	while (($#)); do
		option=$1
		shift
		case $option in
		-h | --help)
			usage
			exit 0
			;;
		esac
		target=${target_of[$option]:-}
		if [[ -z $target && $option != -* && -n $rest_array ]]; then
			parse_options_rest+=("$option")
		elif [[ -z $target ]]; then
			usage >&2
			exit 2
		elif [[ $target == *:* ]]; then
			printf -v "${target%%:*}" '%s' "${target#*:}"
		else
			(($#)) || die "$option needs a value"
			printf -v "$target" '%s' "$1"
			shift
		fi
	done
}

# need_positive_int VALUE...: dies unless every VALUE is a whole number from 1.
need_positive_int() {
	local value
	for value in "$@"; do
		[[ $value =~ ^[1-9][0-9]*$ ]] || die "'$value' is not a positive integer"
	done
}

# Seconds since the epoch, for the build-time report.
now() { date +%s; }

# A TCP port on 127.0.0.1 that is free now (another process may still take
# it before the caller binds it).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# meson_prepare BUILDDIR NATIVE_FILE OPTION...: set BUILDDIR up for this
# repository with the Meson native file, or reconfigure it with the options
# when it already is. A directory set up with another native file (one from
# before the files moved to scripts/meson/, say) is wiped and set up again,
# since Meson can neither change nor find it.
meson_prepare() {
	local builddir=$1 native=$2
	shift 2
	if [[ -f $builddir/build.ninja ]] &&
		grep -qF "'$native'" "$builddir/meson-private/cmd_line.txt" 2>/dev/null; then
		# --reconfigure reads meson.options again, so an option added since
		# this folder was set up is known (plain `meson configure` refuses it).
		meson setup --reconfigure "$builddir" "$REPO" --native-file "$native" "$@" >/dev/null
	elif [[ -d $builddir/meson-private ]]; then
		log "$builddir was set up with another native file: setting it up again"
		meson setup --wipe "$builddir" "$REPO" --native-file "$native" "$@"
	else
		meson setup "$builddir" "$REPO" --native-file "$native" "$@"
	fi
}
