#!/usr/bin/env bash
# Builds tinyserver from a bare Debian 12: installs the build packages (when
# run as root), builds the pinned dependencies (cached), then configures and
# compiles with Meson. The container images run this same script, so there
# is one build recipe.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=scripts/lib/arch.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/arch.sh"

usage() {
	cat <<EOF
usage: scripts/build.sh [-h] [--allocator mimalloc|mimalloc-secure|musl|jemalloc]
                       [--jemalloc enabled|disabled|auto] [--arch amd64|arm64] [--builddir DIR]
Build build/src/tinyserver (and build/src/tinyserver-stripped).
  --allocator NAME  global allocator (default: mimalloc)
  --jemalloc WHEN   link jemalloc as a /bench allocator (Meson's -Djemalloc; default:
                    enabled); disabled gives the smaller binary without it
  --arch ARCH       target architecture (default: this machine's, $(host_arch)); another
                    one is cross-built with Debian's cross gcc and musl-dev:ARCH, its
                    unit tests run under qemu-user
  --builddir DIR    Meson build directory (default: build, or build-ARCH for a cross build)
EOF
}

allocator=mimalloc
jemalloc=enabled
arch=$(host_arch)
builddir=
parse_options "--allocator=allocator --jemalloc=jemalloc --arch=arch --builddir=builddir" "$@"
case $allocator in
mimalloc | mimalloc-secure | musl | jemalloc) ;;
*) die "unknown allocator '$allocator'" ;;
esac
case $jemalloc in
enabled | disabled | auto) ;;
*) die "--jemalloc: '$jemalloc' is not enabled, disabled or auto" ;;
esac
arch_check "$arch"

if [[ $(id -u) -eq 0 ]]; then
	"$REPO/scripts/setup.sh" build "cross-$arch"
else
	need_cmd musl-gcc meson ninja
fi
"$REPO/scripts/deps.sh" --toolchain musl --arch "$arch"
deps_dir=$("$REPO/scripts/deps.sh" --toolchain musl --arch "$arch" --print-prefix)

# The machine's own architecture builds natively with musl-gcc; another one
# with the cross file that deps.sh wrote next to its compiler wrapper.
options=(-Dallocator="$allocator" -Djemalloc="$jemalloc" -Ddeps_dir="$deps_dir")
if arch_is_cross "$arch"; then
	builddir=${builddir:-$REPO/build-$arch}
	if [[ -f $builddir/build.ninja ]]; then
		meson configure "$builddir" "${options[@]}" >/dev/null
	else
		meson setup "$builddir" "$REPO" --cross-file "$(cross_toolchain_dir "$arch")/meson-cross.ini" \
			"${options[@]}"
	fi
else
	builddir=${builddir:-$REPO/build}
	meson_prepare "$builddir" "$REPO/scripts/meson/musl.ini" "${options[@]}"
fi
meson compile -C "$builddir"
log "built $builddir/src/tinyserver ($(stat -c %s "$builddir/src/tinyserver-stripped") bytes stripped)"
