#!/usr/bin/env bash
# Installs the Debian packages a task needs, grouped by task. It asks dpkg first
# and touches apt only for what is missing, so a second run is fast and works
# offline; that keeps it cheap to call from CI and from container builds.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

GROUPS_ALL="build test lint container bench fuzz soak"

usage() {
	cat <<EOF
usage: scripts/setup.sh [-h] [-n] GROUP...
Install the Debian packages for each GROUP that are not installed yet.
  -n, --dry-run   only list what is missing
groups: $GROUPS_ALL
EOF
}

# Packages per group. deps.sh needs dpkg-dev (dpkg-source), patch and gpgv to
# unpack and check the pinned sources; the builds themselves need musl-gcc,
# make, cmake and ar, autotools to regenerate libmicrohttpd's configure, and
# python3 for Meson (and scripts/mhd_json_errors.py, which regenerates a patch).
group_pkgs() {
	case $1 in
	build)
		echo musl-tools musl-dev gcc libc6-dev make cmake meson ninja-build \
			pkg-config binutils autoconf automake libtool dpkg-dev patch gpgv xz-utils \
			ca-certificates debian-archive-keyring file python3
		;;
	test)
		echo curl jq openssl python3 python3-pytest python3-yaml python3-prometheus-client yamllint procps iproute2 psmisc
		# Node.js and npm run the OpenAPI validator (scripts/test-tools.sh).
		# A machine may have them from another source (NodeSource's nodejs
		# bundles npm): Debian's packages only when the commands are missing.
		command -v node >/dev/null 2>&1 || echo nodejs
		command -v npm >/dev/null 2>&1 || echo npm
		# The page at / is tested in a real browser, driven through
		# chromedriver's WebDriver protocol (tests/integration/test_page.py).
		echo chromium chromium-driver
		;;
	lint)
		echo shellcheck clang-format
		;;
	container)
		# Rootful podman with the vfs driver and host networking: uidmap,
		# slirp4netns and fuse-overlayfs (rootless or overlay) are not used.
		# runc rather than crun, which refuses this host's hybrid cgroups.
		echo podman buildah runc debootstrap debian-archive-keyring
		;;
	bench)
		# bench/compare.sh: gnuplot for the sweep plot; jemalloc and tcmalloc
		# are LD_PRELOADed under the glibc reference program. bench/http.sh:
		# wrk, nginx and Go (a static net/http server to compare against).
		echo wrk nginx gnuplot-nox hyperfine libjemalloc2 libtcmalloc-minimal4 golang-go
		;;
	fuzz)
		# scripts/fuzz.sh: clang with libFuzzer and the sanitizer runtimes
		# (libclang-rt); openssl makes the TLS target's certificates. The
		# sanitizer build (scripts/sanitize.sh) needs only gcc from 'build'.
		echo clang libclang-rt-14-dev openssl python3
		;;
	soak)
		# scripts/soak.sh: wrk drives the load (with a Lua script).
		echo wrk curl procps
		;;
	*) return 1 ;;
	esac
}

is_installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

# Debian starts a daemon at install time (nginx would take port 80). The bench
# starts its own instances, so service starts are refused for the install, the
# usual policy-rc.d way; an existing policy (e.g. a container's) is left alone.
POLICY=/usr/sbin/policy-rc.d
policy_added=0
block_service_starts() {
	[[ -e $POLICY ]] && return 0
	printf '#!/bin/sh\n# added by tinyserver scripts/setup.sh for one install\nexit 101\n' >"$POLICY"
	chmod 755 "$POLICY"
	policy_added=1
}
unblock_service_starts() {
	if ((policy_added)); then
		rm -f "$POLICY"
	fi
}

main() {
	local dry=0 groups=() g p pkgs missing=()
	while (($#)); do
		case $1 in
		-h | --help)
			usage
			exit 0
			;;
		-n | --dry-run) dry=1 ;;
		-*)
			usage >&2
			exit 2
			;;
		*) groups+=("$1") ;;
		esac
		shift
	done
	if ((${#groups[@]} == 0)); then
		usage >&2
		exit 2
	fi

	for g in "${groups[@]}"; do
		pkgs=$(group_pkgs "$g") || die "unknown group '$g' (groups: $GROUPS_ALL)"
		for p in $pkgs; do
			if ! is_installed "$p" && [[ " ${missing[*]} " != *" $p "* ]]; then
				missing+=("$p")
			fi
		done
	done

	if ((${#missing[@]} == 0)); then
		log "all packages for '${groups[*]}' are installed"
		return 0
	fi
	log "missing: ${missing[*]}"
	((dry)) && return 0

	need_root "installing packages"
	export DEBIAN_FRONTEND=noninteractive
	trap unblock_service_starts EXIT
	block_service_starts
	# Another apt run (a second session, CI) may hold the lock: wait for it.
	local apt=(apt-get -q -o DPkg::Lock::Timeout=300)
	"${apt[@]}" update
	"${apt[@]}" install -y --no-install-recommends "${missing[@]}"
	log "installed: ${missing[*]}"
}

main "$@"
