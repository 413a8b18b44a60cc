#!/usr/bin/env bash
# Builds tinyserver from a bare Debian 12: installs the build packages (when
# run as root), builds the pinned dependencies (cached), then configures and
# compiles with Meson. The container images run this same script, so there
# is one build recipe.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
	cat <<EOF
usage: scripts/build.sh [-h] [--allocator mimalloc|mimalloc-secure|musl] [--builddir DIR]
Build build/src/tinyserver (and build/src/tinyserver-stripped).
  --allocator NAME  global allocator (default: mimalloc)
  --builddir DIR    Meson build directory (default: build)
EOF
}

allocator=mimalloc
builddir=$REPO/build
while (($#)); do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--allocator)
		allocator=${2:?--allocator needs a value}
		shift 2
		;;
	--builddir)
		builddir=${2:?--builddir needs a value}
		shift 2
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
done
case $allocator in
mimalloc | mimalloc-secure | musl) ;;
*) die "unknown allocator '$allocator'" ;;
esac

if [[ $(id -u) -eq 0 ]]; then
	"$REPO/scripts/setup.sh" build
else
	need_cmd musl-gcc meson ninja
fi
"$REPO/scripts/deps.sh" --toolchain musl

deps_dir=$CACHE/deps/musl
options=(-Dallocator="$allocator" -Ddeps_dir="$deps_dir")
meson_prepare "$builddir" "$REPO/scripts/meson/musl.ini" "${options[@]}"
meson compile -C "$builddir"
log "built $builddir/src/tinyserver ($(stat -c %s "$builddir/src/tinyserver-stripped") bytes stripped)"
