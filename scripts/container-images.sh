#!/usr/bin/env bash
# Builds the two images the way users do (docker build -t tinyserver . and
# docker build -f Dockerfile.alpine -t tinyserver:alpine .), with the engine
# settings of scripts/container.sh and the local bases of
# scripts/container-bases.sh. The container tests and scripts/image-sizes.sh
# both build through here, so they test and measure the same images.
set -euo pipefail
# shellcheck source=scripts/container.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/container.sh"

usage() {
	cat <<EOF
usage: scripts/container-images.sh [-h] [--name NAME] [--allocator mimalloc|mimalloc-secure|musl]
Build NAME:latest (Dockerfile, FROM scratch) and NAME:alpine (Dockerfile.alpine).
  --name NAME       image name (default: tinyserver)
  --allocator NAME  passed as --build-arg ALLOCATOR (default: mimalloc)
EOF
}

name=tinyserver
allocator=mimalloc
while (($#)); do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--name)
		name=${2:?--name needs a value}
		shift 2
		;;
	--allocator)
		allocator=${2:?--allocator needs a value}
		shift 2
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
done

alpine_base=$("$REPO/scripts/container-bases.sh" --print-alpine)

# The labels' values. The version is meson.build's (the one the binary
# reports); revision and source come from git when the tree is a clone.
version=$(sed -n "s/^[[:space:]]*version:[[:space:]]*'\([^']*\)'.*/\1/p" "$REPO/meson.build" | head -n 1)
[[ -n $version ]] || die "no version: in $REPO/meson.build"
revision=$(git -C "$REPO" rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
if [[ $revision != unknown && -n $(git -C "$REPO" status --porcelain 2>/dev/null) ]]; then
	revision+=-dirty
fi
source_url=$(git -C "$REPO" remote get-url origin 2>/dev/null || echo unknown)

args=(--build-arg "ALLOCATOR=$allocator" --build-arg "VERSION=$version"
	--build-arg "REVISION=$revision" --build-arg "SOURCE=$source_url")

build() {
	local tag=$1 start
	shift
	start=$(now)
	log "building $tag"
	engine build "${args[@]}" "$@" -t "$tag" "$REPO"
	log "built $tag in $(($(now) - start)) s"
}

build "$name:latest" -f "$REPO/Dockerfile"
build "$name:alpine" -f "$REPO/Dockerfile.alpine" --build-arg "ALPINE_IMAGE=$alpine_base"
