#!/usr/bin/env bash
# The image-size comparison in one command: builds both images
# (scripts/container-images.sh), saves each as the engine would push it,
# measures it (scripts/lib/image_sizes.py), breaks the binary down by component
# from the linker map of the very binary in the image, and prints the
# Markdown report, which it also writes to bench/results/image-sizes.md (the
# docs quote it from there: scripts/docs-figures.py), ending with the machine,
# date and command (scripts/lib/report.sh). The FROM
# scratch image gets a row per architecture (amd64 and arm64), built with
# container-images.sh --platforms.
set -euo pipefail
# shellcheck source=scripts/container.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/container.sh"
# shellcheck source=scripts/lib/report.sh
. "$REPO/scripts/lib/report.sh"

usage() {
	cat <<EOF
usage: scripts/image-sizes.sh [-h] [--no-build] [--name NAME] [--output FILE]
Build tinyserver:latest, tinyserver:alpine and tinyserver:latest-arm64, then print
their sizes as Markdown.
  --no-build     measure the images as they are
  --name NAME    image name (default: tinyserver; another name keeps a
                 concurrent build on the same engine apart)
  --output FILE  also write the report there (default: bench/results/image-sizes.md;
                 '-' for none)
EOF
}

build=1
name=tinyserver
output=$REPO/bench/results/image-sizes.md
command_line="scripts/image-sizes.sh${*:+ $*}"
parse_options "--no-build=build:0 --name=name --output=output" "$@"
need_cmd python3 tar

report_begin
if ((build)); then
	"$REPO/scripts/container-images.sh" --name "$name"
	"$REPO/scripts/container-images.sh" --name "$name" --platforms linux/amd64,linux/arm64
fi
alpine_base=$("$REPO/scripts/container-bases.sh" --print-alpine)

tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT

# docker save and podman save (docker-archive, its default) both write a tar
# with manifest.json and uncompressed layer tarballs.
for tag in latest alpine latest-arm64; do
	log "saving $name:$tag"
	engine save -o "$tmp/$tag.tar" "$name:$tag" >/dev/null
done

# The map and the unstripped binary come from the builder stage (all cached
# layers by now), so the breakdown describes exactly the binary that ships.
log "extracting the linker map from the builder stage"
engine build --target builder -t "$name-builder" -f "$REPO/Dockerfile" "$REPO" >/dev/null
mkdir "$tmp/builder"
engine run --rm --network none --entrypoint tar "$name-builder" \
	-C /src/build/src -cf - tinyserver tinyserver-stripped tinyserver.map | tar -C "$tmp/builder" -xf -

python3 "$REPO/scripts/lib/image_sizes.py" \
	--image "$name:latest" "$tmp/latest.tar" scratch \
	--image "$name:alpine" "$tmp/alpine.tar" "$alpine_base" \
	--image "$name:latest-arm64" "$tmp/latest-arm64.tar" scratch \
	--map "$tmp/builder/tinyserver.map" --elf "$tmp/builder/tinyserver" \
	--stripped "$tmp/builder/tinyserver-stripped" >"$tmp/report.md"
{
	echo
	report_context "$command_line" "Engine: $(engine --version | head -1)"
} >>"$tmp/report.md"
cat "$tmp/report.md"
if [[ $output != - ]]; then
	mkdir -p "$(dirname -- "$output")"
	cp "$tmp/report.md" "$output"
	log "wrote $output"
fi
