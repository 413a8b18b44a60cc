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
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=scripts/lib/arch.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/arch.sh"

LOCK=$REPO/deps.lock

usage() {
	cat <<EOF
usage: scripts/deps.sh [-h] [-v] [--fetch-only|--print-prefix] [--toolchain musl|host|clang]
                       [--arch amd64|arm64] [--variant NAME]
Fetch the sources pinned in deps.lock and build them into
  \$TINYSERVER_CACHE/deps/<toolchain>[-<arch>][-<variant>]/   (default cache: <repo>/.cache)
  --toolchain musl   musl-gcc, for the static release binary (default)
  --toolchain host   the system gcc (glibc), e.g. for sanitizer builds
  --toolchain clang  clang on the system's glibc, e.g. for libFuzzer builds
  --arch ARCH        cross-build for ARCH (musl only; default: this machine's,
                     whose prefix has no -<arch>), with Debian's
                     gcc-<cpu>-linux-gnu and musl-dev:<arch> (scripts/setup.sh cross-ARCH)
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
declare -A DEP_PKG DEP_VER DEP_DSC

read_lock() {
	local line name pkg ver dsc extra n=0
	[[ -r $LOCK ]] || die "cannot read $LOCK"
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		line=${line%%#*}
		read -r name pkg ver dsc extra <<<"$line" || true
		[[ -z ${name:-} ]] && continue
		if [[ $name == suites: ]]; then
			read -r -a SUITES <<<"${line#*suites:}"
			continue
		fi
		[[ -n ${dsc:-} && -z ${extra:-} ]] ||
			die "$LOCK:$n: expected 'name source-package version dsc-sha256', got '$line'"
		[[ $dsc =~ ^[0-9a-f]{64}$ ]] || die "$LOCK:$n: '$dsc' is not a SHA-256 in hex"
		declare -F "build_$name" >/dev/null ||
			die "$LOCK:$n: no build recipe for '$name' in ${BASH_SOURCE[0]} (build_$name)"
		DEP_NAMES+=("$name")
		DEP_PKG[$name]=$pkg
		DEP_VER[$name]=$ver
		DEP_DSC[$name]=$dsc
	done <"$LOCK"
	((${#SUITES[@]})) || die "$LOCK: no 'suites:' line"
	((${#DEP_NAMES[@]})) || die "$LOCK: no dependencies"
}

# Drops from DEP_NAMES what ONLY_FOR_TOOLCHAIN keeps for another toolchain.
skip_other_toolchains_deps() {
	local name kept=()
	for name in "${DEP_NAMES[@]}"; do
		if [[ -z ${ONLY_FOR_TOOLCHAIN[$name]:-} || ${ONLY_FOR_TOOLCHAIN[$name]} == "$TOOLCHAIN" ]]; then
			kept+=("$name")
		else
			log "$name: not built for the $TOOLCHAIN toolchain (only for ${ONLY_FOR_TOOLCHAIN[$name]})"
		fi
	done
	DEP_NAMES=("${kept[@]}")
}

# ------------------------------------------------------------- apt sources

# The deb-src entries apt needs are written by setup.sh (it owns everything
# under /etc/apt). Once per run, before the first download.
SOURCES_READY=0
ensure_sources() {
	((SOURCES_READY)) && return 0
	SOURCES_READY=1
	if [[ $(id -u) -eq 0 ]]; then
		"$REPO/scripts/setup.sh" sources
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
		check_dsc "$name" "$dir"
		FETCHED[$name]=cached
		return 0
	fi
	ensure_sources
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
		if ((REFRESHED == 0)) && [[ $(id -u) -eq 0 ]]; then
			log "not found with the current indexes; refreshing them once"
			REFRESHED=1
			"$REPO/scripts/setup.sh" --update sources
			apt_source "$tmp" "$pkg=$ver" || fetch_failed "$tmp" "$pkg" "$ver"
		else
			fetch_failed "$tmp" "$pkg" "$ver"
		fi
	fi
	dsc=$(find "$tmp" -maxdepth 1 -name '*.dsc' -print)
	[[ -n $dsc && $(wc -l <<<"$dsc") -eq 1 ]] || die "expected one .dsc for $pkg=$ver in $tmp"
	check_dsc "$name" "$tmp"
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

# check_dsc NAME DIR: the .dsc in DIR must be the one deps.lock pins. apt has
# checked it against the archive's signed index; the pin also holds when the
# archive itself changes what it serves under that version.
check_dsc() {
	local name=$1 dir=$2 dsc sum
	dsc=$(find "$dir" -maxdepth 1 -name '*.dsc' -print -quit)
	[[ -n $dsc ]] || die "$name: no .dsc in $dir"
	sum=$(sha256sum "$dsc" | cut -d' ' -f1)
	[[ $sum == "${DEP_DSC[$name]}" ]] ||
		die "$name: $(basename "$dsc") has SHA-256 $sum, but $LOCK pins ${DEP_DSC[$name]}"
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
	die "cannot fetch source package $2=$3: not in the deb-src suites (${SUITES[*]}; as root, scripts/setup.sh sources configures them) or the mirror answers 404 for it; pin a fetchable version in $LOCK"
}

# ------------------------------------------------------------ toolchain

TOOLCHAIN=musl
VARIANT=
# Set only for a cross build: the target architecture (arch.sh).
CROSS_ARCH=
# The toolchain plus the cross target and the variant, if any: names the
# prefix, build and logs, so each architecture has a cache of its own.
flavor() { printf '%s%s%s' "$TOOLCHAIN" "${CROSS_ARCH:+-$CROSS_ARCH}" "${VARIANT:+-$VARIANT}"; }
prefix_dir() { printf '%s/deps/%s' "$CACHE" "$(flavor)"; }

setup_toolchain() {
	case $TOOLCHAIN in
	musl)
		CC=musl-gcc
		# Static from the start: configure's test programs then never need
		# the musl dynamic loader, and match how the libraries are used.
		TC_LDFLAGS=-static
		LIBC_PKG=musl-dev
		if [[ -n $CROSS_ARCH ]]; then
			CC=$(write_cross_toolchain "$CROSS_ARCH")
			LIBC_PKG=musl-dev:$CROSS_ARCH
		fi
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
	# A cross build names the target for autotools (--host) and CMake, and
	# uses the target's binutils: the host's ar cannot index foreign objects.
	CROSS_GNU=
	if [[ -n $CROSS_ARCH ]]; then
		CROSS_GNU=$(arch_cpu "$CROSS_ARCH")-linux-gnu
		AR=$CROSS_GNU-ar
	fi
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
	TC_ID="$CC $cc_version $("$CC" -dumpmachine) $LIBC_PKG $libc_ver target ${CROSS_ARCH:-$(host_arch)}"
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
ARTEFACTS[jemalloc]="lib/libjemalloc.a include/jemalloc/jemalloc.h"
# A dependency only one toolchain's builds link; the others skip it. jemalloc
# is a /bench allocator of the static release binary: the sanitizer (host)
# and fuzzing (clang) builds are configured with -Djemalloc=disabled.
declare -A ONLY_FOR_TOOLCHAIN
ONLY_FOR_TOOLCHAIN[jemalloc]=musl
# Files of this repository that a recipe runs: their text is part of its key.
declare -A RECIPE_INPUTS
# build_libmicrohttpd applies these patches, in this order.
RECIPE_INPUTS[libmicrohttpd]="patches/libmicrohttpd/0001-json-error-bodies.patch
	patches/libmicrohttpd/0002-notify-completed-for-refusals.patch
	patches/libmicrohttpd/0003-answer-request-lines-over-memory.patch
	patches/libmicrohttpd/0004-transfer-encoding-chunked-not-final.patch
	patches/libmicrohttpd/0005-queue-response-while-receiving-body.patch
	patches/libmicrohttpd/0006-pool-no-zeroing.patch
	patches/libmicrohttpd/0007-cache-date-header.patch
	patches/libmicrohttpd/0008-number-formatting.patch
	patches/libmicrohttpd/0009-activity-update-once-per-millisecond.patch
	patches/libmicrohttpd/0010-release-idle-connection-pool.patch"
# build_jemalloc applies this one.
RECIPE_INPUTS[jemalloc]="patches/jemalloc/0001-no-start-up-constructor.patch
	patches/jemalloc/0002-tcache-without-arena.patch"

# build_mimalloc applies these patches, in this order.
RECIPE_INPUTS[mimalloc]="patches/mimalloc/0001-secure-decommit-returns-pages.patch
	patches/mimalloc/0002-collect-decommits-freed-spans.patch"

# mimalloc's documented static override: the whole allocator as one object
# (src/static.c), linked first so it wins over libc's malloc. An object rather
# than an archive, since the linker always takes an object's symbols.
build_mimalloc() {
	local f defs=(-DMI_MALLOC_OVERRIDE) patch_file
	# tinyserver's patches (patches/README.md), strictly, as for libmicrohttpd.
	for patch_file in ${RECIPE_INPUTS[mimalloc]}; do
		patch -p1 --fuzz=0 --no-backup-if-mismatch <"$REPO/$patch_file"
	done
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
	for patch_file in ${RECIPE_INPUTS[libmicrohttpd]}; do
		patch -p1 --fuzz=0 --no-backup-if-mismatch <"$REPO/$patch_file"
	done
	# Debian patches Makefile.am, and the shipped Makefile.in/configure come
	# from newer autotools than bookworm's: regenerate them all, as Debian's
	# own build (dh_autoreconf) does, or make would half-regenerate and fail.
	autoreconf -fi
	# Messages stay on: the server installs an external logger, and the
	# refusals' bodies are messages (without them they would go out as
	# application/json with an empty body). epoll keeps its default. ITC is
	# eventfd, named because a cross build's configure cannot run its test
	# and would fall back to a pipe. The tarball's configure has
	# no NLS, so there is no --disable-nls to pass.
	./configure --prefix="$PREFIX" --libdir="$PREFIX/lib" \
		CC="$CC" CFLAGS="$(cflags -O2)" LDFLAGS="$LDFLAGS" \
		--disable-shared --enable-static \
		--disable-https --without-gnutls --disable-doc --disable-examples \
		--disable-tools --disable-curl --disable-dauth --disable-bauth \
		--disable-httpupgrade --disable-postprocessor --enable-itc=eventfd \
		${CROSS_GNU:+--host="$CROSS_GNU"}
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
		-DENABLE_TARGET_EXPORT=OFF -DENABLE_CJSON_UNINSTALL=OFF \
		${CROSS_GNU:+-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR="${CROSS_GNU%%-*}"} \
		${CROSS_GNU:+-DCMAKE_RANLIB="$(command -v "$CROSS_GNU-ranlib")"}
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

# jemalloc as a library whose every public function carries the je_ prefix,
# so it links beside the global allocator (mimalloc's override, or musl's)
# and replaces nothing; src/bench/jemalloc_override.c turns it into the global
# allocator for -Dallocator=jemalloc. Configured down to the allocator itself
# (docs/image-sizes.md gives what each switch costs): no statistics, heap
# profiling, junk filling or C++ operators, no dlsym, and no sbrk (musl's
# refuses to grow the heap, so jemalloc's attempts could only fail).
build_jemalloc() {
	local upstream=${DEP_VER[jemalloc]%%-*} version
	# The version as Debian's rules give it: the release tarball has no
	# VERSION file and no git history, and configure would otherwise call
	# it 0.0.0.
	version=$(sed -n 's/^[[:space:]]*echo "\('"$upstream"'-[0-9]*-g[0-9a-f]*\)" > VERSION$/\1/p' debian/rules)
	[[ -n $version ]] || die "jemalloc: no '$upstream-N-gHASH' VERSION line in debian/rules"
	# tinyserver's patch (patches/README.md): no start-up constructor.
	local patch_file
	for patch_file in ${RECIPE_INPUTS[jemalloc]}; do
		patch -p1 --fuzz=0 --no-backup-if-mismatch <"$REPO/$patch_file"
	done
	# The tarball ships configure.ac only; Debian's build regenerates
	# configure too.
	autoconf
	# The page size is fixed at build time, and jemalloc aborts on a
	# kernel with larger pages: 4 KiB on amd64 and 64 KiB elsewhere, as
	# Debian builds it (its rules cite Debian #843926 and upstream #467),
	# since arm64 kernels run with 4, 16 or 64 KiB pages. Huge pages are
	# 2 MiB, not whatever this machine's /proc/meminfo says.
	local lg_page=16
	if [[ ${CROSS_ARCH:-$(host_arch)} == amd64 ]]; then
		lg_page=12
	fi
	# The host is named as musl, so configure takes its musl branch. -Os
	# after configure's own -O3 -g3 (DEPS_CFLAGS, later still, may change
	# both): measured against -O2, 135 KB less in the binary for the same
	# instructions per operation within 8% (docs/image-sizes.md).
	./configure --prefix="$PREFIX" --libdir="$PREFIX/lib" \
		CC="$CC" CFLAGS="$(cflags "-Os -g0")" LDFLAGS="$LDFLAGS" \
		AR="$AR" NM="${CROSS_GNU:+$CROSS_GNU-}nm" \
		--with-version="$version" --with-jemalloc-prefix=je_ \
		--with-lg-page="$lg_page" --with-lg-hugepage=21 \
		--disable-shared --enable-static --disable-doc --disable-cxx \
		--disable-stats --disable-prof --disable-fill --disable-libdl --disable-dss \
		${CROSS_ARCH:+--build="$(arch_cpu "$(host_arch)")-linux-gnu" --host="$(arch_cpu "$CROSS_ARCH")-linux-musl"}
	grep -qF "#define JEMALLOC_VERSION \"$upstream-" include/jemalloc/jemalloc.h ||
		die "jemalloc: configure did not take the version $version"
	# Only the non-PIC archive: the PIC one, the tests and the docs are
	# never used and would double the build time.
	make -j"$JOBS" lib/libjemalloc.a
	mkdir -p "$STAGE/lib" "$STAGE/include/jemalloc"
	install -m 644 lib/libjemalloc.a "$STAGE/lib/"
	install -m 644 include/jemalloc/jemalloc.h "$STAGE/include/jemalloc/"
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
	local fetch_only=0 print_prefix=0 arch=
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
		--arch)
			(($# >= 2)) || die "--arch needs an argument"
			arch=$2
			shift
			;;
		--arch=*) arch=${1#*=} ;;
		*)
			usage >&2
			exit 2
			;;
		esac
		shift
	done
	case $TOOLCHAIN in musl | host | clang) ;; *) die "unknown toolchain '$TOOLCHAIN' (musl, host or clang)" ;; esac
	[[ $VARIANT =~ ^[A-Za-z0-9_-]*$ ]] || die "--variant: '$VARIANT' is not letters, digits, '-' and '_'"
	if [[ -n $arch ]]; then
		arch_check "$arch"
		if arch_is_cross "$arch"; then
			[[ $TOOLCHAIN == musl ]] || die "--arch $arch: only the musl toolchain cross-builds"
			CROSS_ARCH=$arch
		fi
	fi
	if ((print_prefix)); then
		prefix_dir
		echo
		return 0
	fi
	read_lock
	skip_other_toolchains_deps
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
REFRESHED=0
declare -A FETCHED
main "$@"
