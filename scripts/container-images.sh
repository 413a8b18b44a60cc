#!/usr/bin/env bash
# Builds the two images the way users do (docker build -t tinyserver . and
# docker build -f Dockerfile.alpine -t tinyserver:alpine .), with the engine
# settings of scripts/container.sh and the local bases of
# scripts/container-bases.sh. The container tests and scripts/image-sizes.sh
# both build through here, so they test and measure the same images.
#
# --platforms builds the FROM scratch image for several architectures and
# gathers them in a manifest list (an image index): with podman, images
# NAME:latest-<arch> and the list in an OCI archive; with docker, one
# `docker buildx build --platform`. Dockerfile's builder cross-compiles on the
# build machine, and the final stage only copies, so nothing is emulated.
set -euo pipefail
# shellcheck source=scripts/container.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/container.sh"
# shellcheck source=scripts/lib/arch.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/arch.sh"

usage() {
	cat <<EOF
usage: scripts/container-images.sh [-h] [--name NAME]
                                  [--allocator mimalloc|mimalloc-secure|musl|jemalloc]
                                  [--platforms LIST]
Build NAME:latest (Dockerfile, FROM scratch) and NAME:alpine (Dockerfile.alpine).
  --name NAME       image name (default: tinyserver)
  --allocator NAME  passed as --build-arg ALLOCATOR (default: mimalloc)
  --platforms LIST  instead, build Dockerfile for each platform of LIST (e.g.
                    linux/amd64,linux/arm64): with podman, images NAME:latest-<arch>
                    and their manifest list in an OCI archive (see --output); with
                    docker, one docker buildx build
  --output FILE     that archive (default: build-images/NAME.oci.tar)
EOF
}

name=tinyserver
allocator=mimalloc
platforms=
archive=
parse_options "--name=name --allocator=allocator --platforms=platforms --output=archive" "$@"

# platform_arch PLATFORM: the architecture of linux/ARCH, which must be one
# that scripts/build.sh can build for.
platform_arch() {
	[[ $1 =~ ^linux/([a-z0-9]+)$ ]] || die "platform '$1': expected linux/ARCH"
	arch_check "${BASH_REMATCH[1]}"
	printf '%s\n' "${BASH_REMATCH[1]}"
}

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
engine_detect || die "no container engine (run: scripts/setup.sh container)"
# BuildKit sets BUILDPLATFORM by itself; podman 4.3 (buildah 1.28) sets only
# the TARGET* arguments, and the builder stage is FROM --platform=$BUILDPLATFORM.
if [[ $ENGINE == podman ]]; then
	args+=(--build-arg "BUILDPLATFORM=linux/$(host_arch)")
fi

build() {
	local tag=$1 start
	shift
	start=$(now)
	log "building $tag"
	engine build "${args[@]}" "$@" -t "$tag" "$REPO"
	log "built $tag in $(($(now) - start)) s"
}

# build_platforms: the --platforms build (see the top of this file).
build_platforms() {
	local list p
	IFS=, read -r -a list <<<"$platforms"
	((${#list[@]})) || die "--platforms: no platform given"
	for p in "${list[@]}"; do
		platform_arch "$p" >/dev/null
	done
	if [[ $ENGINE == docker ]]; then
		log "docker buildx: the images stay in the builder's cache; add --push to publish them"
		docker buildx build --platform "$platforms" "${args[@]}" -t "$name:latest" \
			-f "$REPO/Dockerfile" "$REPO"
		return
	fi
	for p in "${list[@]}"; do
		build "$name:latest-$(platform_arch "$p")" --platform "$p" -f "$REPO/Dockerfile"
	done
	write_manifest_list "${list[@]}"
}

# write_manifest_list PLATFORM...: the manifest list of NAME:latest-<arch>,
# written as an OCI archive. It is made in a private, temporary store: with a
# manifest list in it, podman 4.3's `podman images` fails (it looks for the
# list's instances under digests it did not store), and the machine's store
# is shared. Docker's manifest format keeps the HEALTHCHECK.
write_manifest_list() {
	local store p arch
	mkdir -p "$(dirname -- "$archive")"
	# Under the temporary directory: podman limits the run root to 50 characters.
	store=$(mktemp -d -t tinyserver-list.XXXXXX)
	# shellcheck disable=SC2064 # the path is fixed now, on purpose
	trap "rm -rf -- '$store'" EXIT
	local private=(podman --storage-driver vfs --root "$store/root" --runroot "$store/run")
	"${private[@]}" manifest create "$name:latest" >/dev/null
	for p in "$@"; do
		arch=$(platform_arch "$p")
		engine push -q "$name:latest-$arch" \
			"containers-storage:[vfs@$store/root+$store/run]localhost/$name:latest-$arch"
		"${private[@]}" manifest add "$name:latest" "containers-storage:localhost/$name:latest-$arch" >/dev/null
	done
	rm -f "$archive"
	"${private[@]}" manifest push -q --all --format v2s2 "$name:latest" "oci-archive:$archive:$name:latest"
	log "manifest list ($*): $archive"
	log "publish it with: skopeo copy --all oci-archive:$archive docker://REGISTRY/$name:TAG"
}

if [[ -n $platforms ]]; then
	archive=${archive:-$REPO/build-images/$name.oci.tar}
	build_platforms
	exit 0
fi
build "$name:latest" -f "$REPO/Dockerfile"
build "$name:alpine" -f "$REPO/Dockerfile.alpine" --build-arg "ALPINE_IMAGE=$alpine_base"
