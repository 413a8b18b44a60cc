#!/usr/bin/env bash
# Fetches the source packages pinned in deps.lock from Debian's archive and
# builds them into a static prefix, $CACHE/deps/<toolchain>/{include,lib}.
#
# Why Debian source packages: apt checks them against the archive's signed
# indexes, and dpkg-source applies Debian's patches (security fixes included),
# with no network access needed beyond the apt archive.
#
# Every step is cached and keyed so that a rerun does nothing, and a changed
# version, toolchain or recipe rebuilds only the dependency it concerns.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

LOCK=$REPO/deps.lock
SRC_LIST=/etc/apt/sources.list.d/tinyserver-src.sources

usage() {
	cat <<EOF
usage: scripts/deps.sh [-h] [-v] [--fetch-only|--print-prefix] [--toolchain musl|host|clang]
                       [--variant NAME]
Fetch the sources pinned in deps.lock and build them into
  \$TINYSERVER_CACHE/deps/<toolchain>[-<variant>]/   (default cache: <repo>/.cache)
  --toolchain musl   musl-gcc, for the static release binary (default)
  --toolchain host   the system gcc (glibc), e.g. for sanitizer builds
  --toolchain clang  clang on the system's glibc, e.g. for libFuzzer builds
  --variant NAME     a prefix of its own for this toolchain, so builds with
                     other DEPS_CFLAGS (say, sanitizers) do not replace the
                     plain one; NAME: letters, digits, '-' and '_'
  --fetch-only       fetch and unpack the sources, build nothing
  --print-prefix     print the toolchain's prefix directory and exit
  -v, --verbose      show build output instead of only logging it
Environment: DEPS_CFLAGS, DEPS_LDFLAGS (extra flags for every dependency, part
of the cache key), DEPS_JOBS (default: nproc), TINYSERVER_CACHE.
EOF
}

# ---------------------------------------------------------------- deps.lock

SUITES=()
DEP_NAMES=()
declare -A DEP_PKG DEP_VER

read_lock() {
	local line name pkg ver extra n=0
	[[ -r $LOCK ]] || die "cannot read $LOCK"
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		line=${line%%#*}
		read -r name pkg ver extra <<<"$line" || true
		[[ -z ${name:-} ]] && continue
		if [[ $name == suites: ]]; then
			read -r -a SUITES <<<"${line#*suites:}"
			continue
		fi
		[[ -n ${ver:-} && -z ${extra:-} ]] ||
			die "$LOCK:$n: expected 'name source-package version', got '$line'"
		declare -F "build_$name" >/dev/null ||
			die "$LOCK:$n: no build recipe for '$name' in ${BASH_SOURCE[0]} (build_$name)"
		DEP_NAMES+=("$name")
		DEP_PKG[$name]=$pkg
		DEP_VER[$name]=$ver
	done <"$LOCK"
	((${#SUITES[@]})) || die "$LOCK: no 'suites:' line"
	((${#DEP_NAMES[@]})) || die "$LOCK: no dependencies"
}

# ------------------------------------------------------------- apt sources

# The security archive has no suite for sid (nor experimental).
security_suites() {
	local s
	for s in "${SUITES[@]}"; do
		case $s in sid | unstable | experimental) ;; *) printf '%s-security ' "$s" ;; esac
	done
}

# Prints deb-src stanzas (deb822) mirroring the machine's own "deb" entries,
# read from both the deb822 (*.sources) and one-line (*.list) formats, so that
# the same mirror and keyring are used. An entry that lists a plain suite is
# taken as the main archive, one listing only *-security suites as the
# security one. Suites that already have deb-src elsewhere are left out.
#
# Suites the machine does not otherwise use (e.g. sid) get Check-Valid-Until:
# no. The mirror reached here can be a frozen snapshot, whose sid Release file
# has expired, and apt would then refuse the whole suite. That check guards
# against being served stale indexes; it adds nothing for us, since we only
# ask for exact versions, and apt still checks their files against the
# signed index. Suites that also have deb entries keep apt's setting: a second,
# different value for the same suite is an error to apt.
derive_src_stanzas() {
	TS_TARGETS=$(apt_targets) awk -v main="${SUITES[*]}" -v sec="$(security_suites)" '
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
		if (signed != "") printf "Signed-By:%s\n", signed
		if (relaxed) printf "Check-Valid-Until: no\n"
		printf "\n"
	}
	function emit(uris, suites, comps, signed,   k, n, w, i, u, shared, other) {
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
	function flush() {
		if (types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) != "no")
			emit(uris, suites, comps, signed)
		types = uris = suites = comps = signed = enabled = ""; key = ""
	}
	FNR == 1 { flush() }
	FILENAME ~ /\.sources$/ {
		if ($0 ~ /^[ \t]*$/) { flush(); next }
		if ($0 ~ /^#/) next
		if ($0 ~ /^[ \t]/) { if (key == "signed-by") signed = signed "\n" $0; next }
		key = tolower($0); sub(/:.*/, "", key)
		val = $0; sub(/^[^:]*:[ \t]*/, "", val)
		if (key == "types") types = val
		else if (key == "uris") uris = val
		else if (key == "suites") suites = val
		else if (key == "components") comps = val
		else if (key == "enabled") enabled = val
		else if (key == "signed-by") signed = (val == "" ? "" : " " val)
		next
	}
	{
		# One-line format: deb [opt=val ...] uri suite component...
		if ($1 != "deb") next
		i = 2; signed = ""
		if ($2 ~ /^\[/) {
			while (i <= NF) {
				o = $i; gsub(/[][]/, "", o)
				if (o ~ /^signed-by=/) { sub(/^signed-by=/, "", o); signed = " " o }
				if ($i ~ /\]$/) { i++; break }
				i++
			}
		}
		c = ""
		for (j = i + 2; j <= NF; j++) c = c (c == "" ? "" : " ") $j
		emit($i, $(i + 1), c, signed)
		signed = ""
	}
	END { flush() }
	' "$@"
}

# The machine's apt source files, minus the one this script writes.
apt_source_files() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		if [[ -f $f && $f != "$SRC_LIST" ]]; then
			printf '%s\n' "$f"
		fi
	done
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

APT_UPDATED=0
apt_update() {
	need_root "apt-get update"
	log "apt-get update"
	# A partial mirror may lack some suite's index: apt then fails that suite
	# only, and apt-get source below says whether the pinned versions are found.
	if ! apt-get update -q -o DPkg::Lock::Timeout=300 >&2; then
		warn "apt-get update reported errors (see above); continuing"
	fi
	APT_UPDATED=1
}

SRC_READY=0
# Makes apt know the deb-src suites of deps.lock, with their indexes
# downloaded. Called only when some source is not cached yet.
ensure_deb_src() {
	((SRC_READY)) && return 0
	SRC_READY=1
	local files stanzas want=""
	mapfile -t files < <(apt_source_files)
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
			echo "# Written by tinyserver scripts/deps.sh: source indexes for the pinned"
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
	elif src_indexes_missing; then
		apt_update
	fi
}

# ------------------------------------------------------------------ fetch

src_dir() { printf '%s/src/%s_%s' "$CACHE" "${DEP_PKG[$1]}" "${DEP_VER[$1]}"; }

# Downloads into a scratch directory and renames it into place only once it is
# unpacked, so an interrupted fetch leaves nothing that looks complete.
fetch() {
	local name=$1 pkg=${DEP_PKG[$1]} ver=${DEP_VER[$1]} dir tmp dsc flog
	dir=$(src_dir "$name")
	if [[ -f $dir/.complete ]]; then
		FETCHED[$name]=cached
		return 0
	fi
	ensure_deb_src
	mkdir -p "$CACHE/src"
	# Leftovers of an interrupted run (the cache lock makes them ours to drop).
	rm -rf "$dir" "$CACHE/src/.fetch-$pkg".*
	tmp=$(mktemp -d "$CACHE/src/.fetch-$pkg.XXXXXX")
	chmod 755 "$tmp"
	flog=$tmp/fetch.log
	# apt downloads as the unprivileged _apt user when that user can write the
	# directory, and warns about downloading as root otherwise.
	if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then
		chown _apt "$tmp"
	fi
	log "fetching source $pkg=$ver"
	if ! apt_source "$tmp" "$pkg=$ver"; then
		if ((APT_UPDATED == 0)) && [[ $(id -u) -eq 0 ]]; then
			log "not found with the current indexes; refreshing them once"
			apt_update
			apt_source "$tmp" "$pkg=$ver" || fetch_failed "$tmp" "$pkg" "$ver"
		else
			fetch_failed "$tmp" "$pkg" "$ver"
		fi
	fi
	dsc=$(find "$tmp" -maxdepth 1 -name '*.dsc' -print)
	[[ -n $dsc && $(wc -l <<<"$dsc") -eq 1 ]] || die "expected one .dsc for $pkg=$ver in $tmp"
	log "unpacking $(basename "$dsc") (dpkg-source applies Debian's patches)"
	# dpkg-source warns that it cannot check the uploader's signature (that
	# needs debian-keyring); apt has already checked every file's hash against
	# the archive's signed Sources index, which is what establishes integrity.
	if ! (cd "$tmp" && run_logged "$flog" dpkg-source -x "$dsc" "$tmp/source"); then
		tail -n 20 "$flog" >&2
		die "dpkg-source -x failed for $pkg=$ver"
	fi
	grep -h '^dpkg-source: info: applying' "$flog" >&2 || true
	if [[ $(id -u) -eq 0 ]]; then
		chown -R 0:0 "$tmp"
	fi
	touch "$tmp/.complete"
	mv "$tmp" "$dir"
	FETCHED[$name]=fetched
}

# apt_source DIR PKG=VER: download (never build) one source package into DIR.
apt_source() {
	(cd "$1" && run_logged "$1/fetch.log" apt-get source -q --download-only "$2")
}

# run_logged LOG CMD...: append CMD's output to LOG, and show it with -v.
run_logged() {
	local logf=$1
	shift
	if ((VERBOSE)); then
		"$@" 2>&1 | tee -a "$logf" >&2
		return "${PIPESTATUS[0]}"
	fi
	"$@" >>"$logf" 2>&1
}

fetch_failed() {
	grep -E '^(E|W|Err):|404' "$1/fetch.log" >&2 || tail -n 10 "$1/fetch.log" >&2
	rm -rf "$1"
	die "cannot fetch source package $2=$3: not in the deb-src suites (${SUITES[*]}) or the mirror answers 404 for it; pin a fetchable version in $LOCK"
}

# ------------------------------------------------------------ toolchain

TOOLCHAIN=musl
VARIANT=
# The toolchain plus the variant, if any: names the prefix, build and logs.
flavor() { printf '%s%s' "$TOOLCHAIN" "${VARIANT:+-$VARIANT}"; }
prefix_dir() { printf '%s/deps/%s' "$CACHE" "$(flavor)"; }

setup_toolchain() {
	case $TOOLCHAIN in
	musl)
		CC=musl-gcc
		# Static from the start: configure's test programs then never need
		# the musl dynamic loader, and match how the libraries are used.
		TC_LDFLAGS=-static
		LIBC_PKG=musl-dev
		;;
	host)
		CC=gcc
		TC_LDFLAGS=
		LIBC_PKG=libc6-dev
		;;
	clang)
		CC=clang
		TC_LDFLAGS=
		LIBC_PKG=libc6-dev
		;;
	*) die "unknown toolchain '$TOOLCHAIN' (musl, host or clang)" ;;
	esac
	need_cmd "$CC" ar make cmake autoreconf libtoolize dpkg-query sha256sum python3
	AR="ar"
	JOBS=${DEPS_JOBS:-$(nproc)}
	# Separate sections let the application's link drop the unused bulk of
	# BearSSL and MHD with -Wl,--gc-sections. The optimisation level is each
	# recipe's own choice and comes first, so DEPS_CFLAGS can still override it.
	CFLAGS_BASE="-pipe -ffunction-sections -fdata-sections${DEPS_CFLAGS:+ ${DEPS_CFLAGS}}"
	LDFLAGS="${TC_LDFLAGS}${DEPS_LDFLAGS:+ ${DEPS_LDFLAGS}}"
	LDFLAGS=${LDFLAGS# }
	PREFIX=$(prefix_dir)
	STAMPS=$PREFIX/.stamps
	# Only the prefix may leak into configure/cmake, never the host's .pc files.
	export PKG_CONFIG_LIBDIR=$PREFIX/lib/pkgconfig PKG_CONFIG_PATH=
	local libc_ver
	libc_ver=$(dpkg-query -W -f='${Version}' "$LIBC_PKG" 2>/dev/null || echo unknown)
	# gcc has -dumpfullversion (12.2.0, where -dumpversion says 12); clang
	# has only -dumpversion, which gives the full version.
	local cc_version
	cc_version=$("$CC" -dumpfullversion 2>/dev/null || "$CC" -dumpversion)
	TC_ID="$CC $cc_version $("$CC" -dumpmachine) $LIBC_PKG $libc_ver"
}

# cflags OPT: the flags for one recipe, as a string for the build systems.
cflags() { printf '%s %s' "$1" "$CFLAGS_BASE"; }

# ------------------------------------------------------------- recipes
# Each build_<name> runs with errexit in a fresh copy of the unpacked source
# (cwd) and installs under $STAGE (the prefix as seen inside the staging root
# $DESTDIR). Its text is part of the cache key, so editing one recipe rebuilds
# that dependency alone. ARTEFACTS lists what it must produce, for the
# up-to-date check and the summary.

declare -A ARTEFACTS
ARTEFACTS[mimalloc]="lib/mimalloc.o lib/mimalloc-secure.o include/mimalloc.h"
ARTEFACTS[libmicrohttpd]="lib/libmicrohttpd.a include/microhttpd.h"
ARTEFACTS[cjson]="lib/libcjson.a include/cjson/cJSON.h"
ARTEFACTS[bearssl]="lib/libbearssl.a include/bearssl.h"
# Files of this repository that a recipe runs: their text is part of its key.
declare -A RECIPE_INPUTS
# The patches are applied in name order; each one's text is in the key.
RECIPE_INPUTS[libmicrohttpd]="$(cd "$REPO" && printf '%s ' patches/libmicrohttpd/*.patch)"

# mimalloc's documented static override: the whole allocator as one object
# (src/static.c), linked first so it wins over libc's malloc. An object rather
# than an archive, since the linker always takes an object's symbols.
build_mimalloc() {
	local f defs=(-DMI_MALLOC_OVERRIDE)
	# Without NDEBUG mimalloc builds with MI_DEBUG=2, measured ~7x slower.
	read -r -a f <<<"$(cflags -O3) -DNDEBUG -fno-builtin-malloc -ftls-model=initial-exec"
	# alloc-override.c only defines aligned_alloc under `#if __USE_ISOC11`, a
	# glibc-internal feature macro that musl never sets: musl's aligned_alloc
	# would stay in the link and hand out blocks that mimalloc's free later gets
	# (mimalloc issues #597, #733). glibc's <features.h> sets it by itself.
	# Nothing else in static.c depends on the libc: without __GLIBC__ it uses
	# the portable __thread path for the heap and thread id, which musl supports.
	if [[ $TOOLCHAIN == musl ]]; then
		defs+=(-D__USE_ISOC11=1)
	fi
	mkdir -p "$STAGE/lib" "$STAGE/include"
	local plain secure rc=0
	"$CC" "${f[@]}" "${defs[@]}" -Iinclude -c src/static.c -o "$STAGE/lib/mimalloc.o" &
	plain=$!
	"$CC" "${f[@]}" "${defs[@]}" -DMI_SECURE=4 -Iinclude -c src/static.c -o "$STAGE/lib/mimalloc-secure.o" &
	secure=$!
	wait "$plain" || rc=1
	wait "$secure" || rc=1
	((rc == 0))
	install -m 644 include/mimalloc.h "$STAGE/include/"
}

build_libmicrohttpd() {
	# tinyserver's patches (patches/README.md): the library's own refusals
	# answer in JSON, and the completion callback sees every one. No fuzz, so
	# a source that moved under a patch stops the build instead of taking a
	# hunk at a guessed place.
	local patch_file
	for patch_file in "$REPO"/patches/libmicrohttpd/*.patch; do
		patch -p1 --fuzz=0 --no-backup-if-mismatch <"$patch_file"
	done
	# Debian patches Makefile.am, and the shipped Makefile.in/configure come
	# from newer autotools than bookworm's: regenerate them all, as Debian's
	# own build (dh_autoreconf) does, or make would half-regenerate and fail.
	autoreconf -fi
	# Messages stay on: the server installs an external logger, and the
	# refusals' bodies are messages (without them they would go out as
	# application/json with an empty body). ITC and
	# epoll keep their defaults (eventfd, epoll). The tarball's configure has
	# no NLS, so there is no --disable-nls to pass.
	./configure --prefix="$PREFIX" --libdir="$PREFIX/lib" \
		CC="$CC" CFLAGS="$(cflags -O2)" LDFLAGS="$LDFLAGS" \
		--disable-shared --enable-static \
		--disable-https --without-gnutls --disable-doc --disable-examples \
		--disable-tools --disable-curl --disable-dauth --disable-bauth \
		--disable-httpupgrade --disable-postprocessor
	# Only the library: the tests and tools are not needed and cost minutes.
	make -j"$JOBS" -C src/microhttpd libmicrohttpd.la
	make -C src/microhttpd install-libLTLIBRARIES DESTDIR="$DESTDIR"
	make -C src/include install DESTDIR="$DESTDIR"
	make install-pkgconfigDATA DESTDIR="$DESTDIR"
	rm -f "$STAGE"/lib/*.la
}

build_cjson() {
	cmake -S . -B _build \
		-DCMAKE_C_COMPILER="$CC" -DCMAKE_AR="$(command -v "$AR")" \
		-DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS="$(cflags -O2)" \
		-DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" \
		-DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib \
		-DCMAKE_INSTALL_INCLUDEDIR=include \
		-DBUILD_SHARED_LIBS=OFF -DBUILD_SHARED_AND_STATIC_LIBS=OFF \
		-DENABLE_CJSON_TEST=OFF -DENABLE_CJSON_UTILS=OFF \
		-DENABLE_TARGET_EXPORT=OFF -DENABLE_CJSON_UNINSTALL=OFF
	cmake --build _build -j "$JOBS"
	DESTDIR=$DESTDIR cmake --install _build
}

build_bearssl() {
	# BearSSL is meant to be small and upstream (and Debian) build it -Os.
	make -j"$JOBS" CONF=Unix CC="$CC" AR="$AR" LD="$CC" LDDLL="$CC" \
		CFLAGS="-W -Wall -fPIC $(cflags -Os)" LDFLAGS="$LDFLAGS" lib
	mkdir -p "$STAGE/lib" "$STAGE/include"
	install -m 644 build/libbearssl.a "$STAGE/lib/"
	install -m 644 inc/bearssl*.h "$STAGE/include/"
}

# ------------------------------------------------------------- caching

# The key covers everything that changes the output: the pinned version, the
# compiler and libc, the flags, the prefix (baked into .pc files) and the
# recipe's own text. DEPS_JOBS is left out: it changes only the build's speed.
dep_key() {
	local name=$1
	{
		printf 'dep %s %s %s\n' "$name" "${DEP_PKG[$name]}" "${DEP_VER[$name]}"
		printf 'toolchain %s\n' "$TC_ID"
		printf 'flags %s | %s | %s\n' "$CFLAGS_BASE" "$LDFLAGS" "$AR"
		printf 'prefix %s\n' "$PREFIX"
		declare -f "build_$name" cflags
		local input
		for input in ${RECIPE_INPUTS[$name]:-}; do
			printf 'input %s\n' "$input"
			cat "$REPO/$input"
		done
	} | sha256sum | cut -c1-32
}

artefacts_present() {
	local a
	for a in ${ARTEFACTS[$1]}; do
		[[ -e $2/$a ]] || return 1
	done
}

# Copies a staged install into the prefix, first removing what the previous
# build of the same dependency installed, so no stale file of an older version
# survives an upgrade.
install_staged() {
	local name=$1 manifest=$STAMPS/$1.files f
	if [[ -f $manifest ]]; then
		while IFS= read -r f; do
			rm -f -- "$PREFIX/$f"
		done <"$manifest"
	fi
	(cd "$STAGE" && find . \( -type f -o -type l \) -printf '%P\n' | sort) >"$manifest.tmp"
	mkdir -p "$PREFIX"
	cp -R -- "$STAGE/." "$PREFIX/"
	mv -f "$manifest.tmp" "$manifest"
}

declare -A STATUS
build() {
	local name=$1 key stamp bdir logf rc t0
	key=$(dep_key "$name")
	stamp=$STAMPS/$name.stamp
	if [[ -f $stamp && $(head -n1 "$stamp") == "$key" ]] && artefacts_present "$name" "$PREFIX"; then
		STATUS[$name]=cached
		log "$name ${DEP_VER[$name]}: up to date"
		return 0
	fi
	mkdir -p "$STAMPS" "$CACHE/logs/$(flavor)"
	bdir=$CACHE/build/$(flavor)/$name
	logf=$CACHE/logs/$(flavor)/$name.log
	rm -rf "$bdir"
	mkdir -p "$bdir"
	# -a keeps the timestamps that make and autotools judge freshness by.
	cp -a -- "$(src_dir "$name")/source" "$bdir/src"
	DESTDIR=$bdir/stage
	STAGE=$DESTDIR$PREFIX
	mkdir -p "$STAGE"
	log "$name ${DEP_VER[$name]}: building ($(flavor), $JOBS jobs; log: $logf)"
	t0=$(now)
	# errexit must hold inside the recipe, so the subshell is not run as the
	# condition of an if or ||, where bash would silently turn errexit off.
	set +e
	if ((VERBOSE)); then
		(
			set -e
			cd "$bdir/src"
			"build_$name"
		) 2>&1 | tee "$logf"
		rc=${PIPESTATUS[0]}
	else
		(
			set -e
			cd "$bdir/src"
			"build_$name"
		) >"$logf" 2>&1
		rc=$?
	fi
	set -e
	if ((rc != 0)); then
		((VERBOSE)) || tail -n 30 "$logf" >&2
		die "$name: build failed (exit $rc); full log: $logf; tree kept in $bdir"
	fi
	artefacts_present "$name" "$STAGE" ||
		die "$name: build succeeded but did not produce: ${ARTEFACTS[$name]} (see $logf)"
	# A failed build above leaves the prefix and its stamp as they were. From
	# here the prefix changes, so there is no stamp until it is complete again.
	rm -f "$stamp"
	install_staged "$name"
	printf '%s\n%s %s %s built %s\n' "$key" "$name" "${DEP_VER[$name]}" "$(flavor)" "$(date -u +%FT%TZ)" >"$stamp.tmp"
	mv -f "$stamp.tmp" "$stamp"
	rm -rf "$bdir"
	STATUS[$name]="built $(($(now) - t0))s"
}

summary() {
	local name a size line
	printf '\nprefix %s  (%s)\n' "$PREFIX" "$TC_ID"
	[[ -z ${DEPS_CFLAGS:-}${DEPS_LDFLAGS:-} ]] ||
		printf 'extra flags: DEPS_CFLAGS=%s DEPS_LDFLAGS=%s\n' "${DEPS_CFLAGS:-}" "${DEPS_LDFLAGS:-}"
	printf '  %-14s %-20s %-7s %-10s %s\n' dependency version source build artefacts
	for name in "${DEP_NAMES[@]}"; do
		line=""
		for a in ${ARTEFACTS[$name]}; do
			size=$(stat -c %s "$PREFIX/$a")
			line+=" $a $(awk -v b="$size" 'BEGIN { printf "%.1fK", b / 1024 }')"
		done
		printf '  %-14s %-20s %-7s %-10s%s\n' "$name" "${DEP_VER[$name]}" \
			"${FETCHED[$name]}" "${STATUS[$name]}" "$line"
	done
}

main() {
	local fetch_only=0 print_prefix=0
	T0=$(now)
	while (($#)); do
		case $1 in
		-h | --help)
			usage
			exit 0
			;;
		-v | --verbose) VERBOSE=1 ;;
		--fetch-only) fetch_only=1 ;;
		--print-prefix) print_prefix=1 ;;
		--toolchain)
			(($# >= 2)) || die "--toolchain needs an argument"
			TOOLCHAIN=$2
			shift
			;;
		--toolchain=*) TOOLCHAIN=${1#*=} ;;
		--variant)
			(($# >= 2)) || die "--variant needs an argument"
			VARIANT=$2
			shift
			;;
		--variant=*) VARIANT=${1#*=} ;;
		*)
			usage >&2
			exit 2
			;;
		esac
		shift
	done
	case $TOOLCHAIN in musl | host | clang) ;; *) die "unknown toolchain '$TOOLCHAIN' (musl, host or clang)" ;; esac
	[[ $VARIANT =~ ^[A-Za-z0-9_-]*$ ]] || die "--variant: '$VARIANT' is not letters, digits, '-' and '_'"
	if ((print_prefix)); then
		prefix_dir
		echo
		return 0
	fi
	read_lock
	need_cmd apt-get dpkg-source flock
	mkdir -p "$CACHE"
	# One run at a time per cache: a second caller waits instead of building
	# the same trees underneath the first.
	exec 9>"$CACHE/.lock"
	flock 9
	local name
	for name in "${DEP_NAMES[@]}"; do
		fetch "$name"
	done
	((fetch_only)) && return 0
	setup_toolchain
	for name in "${DEP_NAMES[@]}"; do
		build "$name"
	done
	summary
	log "done in $(($(now) - T0))s"
}

VERBOSE=0
declare -A FETCHED
main "$@"
