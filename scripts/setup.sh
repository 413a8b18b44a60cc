#!/usr/bin/env bash
# Installs the Debian packages a task needs, grouped by task. It asks dpkg first
# and touches apt only for what is missing, so a second run is fast and works
# offline; that keeps it cheap to call from CI and from container builds.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=scripts/lib/arch.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/arch.sh"
# shellcheck source=scripts/lib/apt-sources.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/apt-sources.sh"

GROUPS_ALL="build test lint container bench fuzz soak cross-amd64 cross-arm64"

usage() {
	cat <<EOF
usage: scripts/setup.sh [-h] [-n] [-u] GROUP...
Install the Debian packages for each GROUP that are not installed yet.
  -n, --dry-run   only list what is missing
  -u, --update    with 'sources': download the source indexes again
groups: $GROUPS_ALL
  and 'sources': the deb-src entries (and indexes) of deps.lock's suites,
  which scripts/deps.sh needs to fetch the pinned sources (root only)
cross-ARCH adds the dpkg architecture ARCH (unless it is this machine's).
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
		# CPU load beside the suite (scripts/test.sh --under-load).
		echo stress-ng
		# qemu-user runs the other architecture's binary (scripts/test.sh).
		echo qemu-user-static
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
		# podman kube play: catatonit is its pods' init, and the pods use the
		# CNI bridge network (containernetworking-plugins, iptables).
		echo podman buildah runc catatonit containernetworking-plugins iptables \
			debootstrap debian-archive-keyring
		;;
	bench)
		# bench/compare.sh: gnuplot for the sweep plot; jemalloc and tcmalloc
		# are LD_PRELOADed under the glibc reference program. bench/http.sh:
		# wrk, nginx and Go (a static net/http server to compare against).
		# valgrind: callgrind counts instructions (bench/http.sh --mode
		# instructions, bench/stop-check.sh, bench/musl-paths.sh).
		echo wrk nginx gnuplot-nox hyperfine libjemalloc2 libtcmalloc-minimal4 golang-go valgrind
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
	cross-*)
		# scripts/build.sh --arch ARCH: the cross compiler and the target's
		# musl; nothing when ARCH is this machine's own.
		arch_known "${1#cross-}" || return 1
		arch_is_cross "${1#cross-}" && arch_cross_packages "${1#cross-}"
		return 0
		;;
	*) return 1 ;;
	esac
}

# ------------------------------------------------- deb-src for deps.sh

LOCK=$REPO/deps.lock
SRC_LIST=/etc/apt/sources.list.d/tinyserver-src.sources
SUITES=()

# The Debian suites deps.lock's pinned source packages are searched in.
read_suites() {
	local line
	line=$(grep -m1 '^suites:' "$LOCK") || die "$LOCK: no 'suites:' line"
	read -r -a SUITES <<<"${line#suites:}"
	((${#SUITES[@]})) || die "$LOCK: the 'suites:' line names no suite"
}


# The security archive has no suite for sid (nor experimental).
security_suites() {
	local s
	for s in "${SUITES[@]}"; do
		case $s in sid | unstable | experimental) ;; *) printf '%s-security ' "$s" ;; esac
	done
}

# Prints deb-src stanzas (deb822) mirroring the machine's own "deb" entries
# in the source files given (scripts/lib/apt-sources.sh reads both formats),
# so that the same mirror and keyring are used. An entry that lists a plain
# suite is taken as the main archive, one listing only *-security suites as
# the security one. Suites that already have deb-src elsewhere are left out.
#
# Suites the machine does not otherwise use (e.g. sid) get Check-Valid-Until:
# no. The mirror reached here can be a frozen snapshot, whose sid Release file
# has expired, and apt would then refuse the whole suite. That check guards
# against being served stale indexes; it adds nothing for us, since we only
# ask for exact versions, and apt still checks their files against the
# signed index. Suites that also have deb entries keep apt's setting: a second,
# different value for the same suite is an error to apt.
derive_src_stanzas() {
	TS_TARGETS=$(apt_targets) awk -v main="${SUITES[*]}" -v sec="$(security_suites)" "$APT_SOURCES_AWK"'
	function kind(suites,   n, a, i, plain, secs) {
		n = split(suites, a, /[ \t]+/); plain = 0; secs = 0
		for (i = 1; i <= n; i++) {
			if (a[i] == "") continue
			if (a[i] ~ /-security$/) secs++; else if (a[i] !~ /[-\/]/) plain++
		}
		if (plain) return "main"
		if (secs) return "security"
		return ""
	}
	BEGIN {
		n = split(ENVIRON["TS_TARGETS"], t, "\n")
		for (i = 1; i <= n; i++) have[t[i]] = 1
	}
	function stanza(uris, suites, comps, signed, relaxed) {
		printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n", uris, suites, comps
		# A key written into the stanza starts on the line after the colon.
		if (signed != "") printf "Signed-By:%s%s\n", (signed ~ /^\n/ ? "" : " "), signed
		if (relaxed) printf "Check-Valid-Until: no\n"
		printf "\n"
	}
	function apt_entry(file, types, uris, suites, comps, signed,   k, n, w, i, u, shared, other) {
		if (!apt_has_word(types, "deb")) return
		k = kind(suites)
		if (k == "") return
		u = uris; sub(/\/+$/, "", u)
		if (seen[u]++) return
		n = split(k == "main" ? main : sec, w, /[ \t]+/)
		shared = other = ""
		for (i = 1; i <= n; i++) {
			if (w[i] == "" || (("deb-src|" u "|" w[i]) in have)) continue
			if (("deb|" u "|" w[i]) in have) shared = shared (shared == "" ? "" : " ") w[i]
			else other = other (other == "" ? "" : " ") w[i]
		}
		if (shared != "") stanza(uris, shared, comps, signed, 0)
		if (other != "") stanza(uris, other, comps, signed, 1)
	}
	' "$@"
}

# "type|uri|suite" for each suite apt is configured with, except those from
# the file this script writes (the URI without its trailing slash).
apt_targets() {
	# shellcheck disable=SC2016 # $(...) are apt's format fields, not shell
	apt-get indextargets --no-release-info \
		--format '$(TARGET_OF)|$(REPO_URI)|$(RELEASE)|$(SOURCESENTRY)' 2>/dev/null |
		awk -F'|' -v own="$SRC_LIST:" 'index($4, own) != 1 { sub(/\/+$/, "", $2); print $1 "|" $2 "|" $3 }' |
		sort -u
}

# True when some configured deb-src index has not been downloaded yet.
src_indexes_missing() {
	local f
	# shellcheck disable=SC2016 # $(FILENAME) is apt's format field, not shell
	while IFS= read -r f; do
		compgen -G "$f*" >/dev/null || return 0
	done < <(apt-get indextargets --no-release-info --format '$(FILENAME)' 'Target-Of: deb-src' 2>/dev/null)
	return 1
}

apt_update() {
	need_root "apt-get update"
	log "apt-get update"
	# A partial mirror may lack some suite's index: apt then fails that suite
	# only, and apt-get source below says whether the pinned versions are found.
	if ! apt-get update -q -o DPkg::Lock::Timeout=300 >&2; then
		warn "apt-get update reported errors (see above); continuing"
	fi
}

# Makes apt know the deb-src suites of deps.lock, with their indexes
# downloaded (and refreshed when `refresh` is 1). deps.sh calls this (as
# "setup.sh sources") before it fetches a source that is not cached yet.
configure_sources() {
	read_suites
	local files stanzas want="" refresh=$1
	mapfile -t files < <(apt_source_files /etc/apt "$SRC_LIST")
	if ((${#files[@]})); then
		stanzas=$(derive_src_stanzas "${files[@]}")
	else
		stanzas=""
	fi
	if [[ -z $stanzas ]] && ! apt_targets | grep -q '^deb-src|'; then
		die "no deb-src entries, and no 'deb' entry in /etc/apt/sources.list* to derive them from"
	fi
	if [[ -n $stanzas ]]; then
		want=$(
			echo "# Written by tinyserver scripts/setup.sh: source indexes for the pinned"
			echo "# dependencies (deps.lock), mirroring this machine's own deb entries."
			echo
			printf '%s\n' "$stanzas"
		)
	fi
	if [[ $want != "$(cat "$SRC_LIST" 2>/dev/null || true)" ]]; then
		need_root "configuring deb-src entries"
		if [[ -n $want ]]; then
			log "writing $SRC_LIST (deb-src: ${SUITES[*]} $(security_suites | sed 's/ $//'))"
			printf '%s\n' "$want" >"$SRC_LIST.tmp"
			mv -f "$SRC_LIST.tmp" "$SRC_LIST"
		else
			rm -f "$SRC_LIST"
		fi
		apt_update
	elif ((refresh)) || src_indexes_missing; then
		apt_update
	fi
}

# is_installed PKG[:ARCH]: without an architecture, the machine's own (or
# "all"): with a foreign architecture added, dpkg may list a package twice.
is_installed() {
	local arch=${1#*:}
	[[ $1 == *:* ]] || arch=$HOST_ARCH
	# shellcheck disable=SC2016 # ${...} are dpkg-query's fields, not shell
	dpkg-query -W -f='${db:Status-Status} ${Architecture}\n' "$1" 2>/dev/null |
		grep -qE "^installed ($arch|all)\$"
}

# add_foreign_arches DRY GROUP...: dpkg --add-architecture for each cross
# group's architecture that dpkg does not know yet (the apt-get update
# before any install then downloads its package lists).
add_foreign_arches() {
	local dry=$1 g arch
	shift
	for g in "$@"; do
		[[ $g == cross-* ]] || continue
		arch=${g#cross-}
		arch_is_cross "$arch" || continue
		dpkg --print-foreign-architectures | grep -qx "$arch" && continue
		if ((dry)); then
			log "would run: dpkg --add-architecture $arch"
			continue
		fi
		need_root "dpkg --add-architecture $arch"
		log "dpkg --add-architecture $arch"
		dpkg --add-architecture "$arch"
	done
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
	local dry=0 update=0 sources=0 arguments=() groups=() argument
	parse_options "-n=dry:1 --dry-run=dry:1 -u=update:1 --update=update:1 @=arguments" "$@"
	for argument in "${arguments[@]}"; do
		if [[ $argument == sources ]]; then
			sources=1
		else
			groups+=("$argument")
		fi
	done
	if ((${#groups[@]} == 0 && sources == 0)); then
		usage >&2
		exit 2
	fi
	install_groups "$dry" "${groups[@]}"
	if ((sources && !dry)); then
		configure_sources "$update"
	fi
}

# install_groups DRY GROUP...: install what the groups need and lacks.
install_groups() {
	local dry=$1 g p pkgs missing=()
	shift
	local groups=("$@")
	((${#groups[@]})) || return 0

	for g in "${groups[@]}"; do
		pkgs=$(group_pkgs "$g") || die "unknown group '$g' (groups: $GROUPS_ALL)"
		for p in $pkgs; do
			if ! is_installed "$p" && [[ " ${missing[*]} " != *" $p "* ]]; then
				missing+=("$p")
			fi
		done
	done

	add_foreign_arches "$dry" "${groups[@]}"
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

HOST_ARCH=$(host_arch)
main "$@"
