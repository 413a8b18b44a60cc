#!/usr/bin/python3
"""Measures saved container images and writes the Markdown size report
(scripts/image-sizes.sh runs it; see there).

usage: scripts/lib/image_sizes.py [-h] --image NAME ARCHIVE BASE [--image ...]
                              [--map MAP --elf BINARY --stripped BINARY]

ARCHIVE is what `docker save` or `podman save` wrote (a tar with a
manifest.json naming the layer tarballs). For each image:
  uncompressed  the layer tarballs as the engine stores them, summed;
  compressed    each layer tarball gzipped (level 6, what docker push and
                podman push use), summed: what a registry stores and a pull
                downloads, apart from the small config and manifest blobs;
  binary        the size of /tinyserver in the image.
An image whose labels carry io.tinyserver.standin-for was built on a local
stand-in base (scripts/container-bases.sh); its row says so, and the
published size of the real base is cited next to it, marked approximate.
With --map and --elf, the binary's breakdown by component follows
(scripts/lib/map_breakdown.py); --stripped makes sure the map belongs to the
binary in the images.
"""
import argparse
import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import map_breakdown  # noqa: E402  (a sibling script, not an installed module)

STANDIN_LABEL = "io.tinyserver.standin-for"
# What Docker Hub lists for alpine:3.20 on linux/amd64, rounded; it changes a
# little with every rebuild of the tag, so it is cited as approximate.
PUBLISHED = {"alpine:3.20": {"uncompressed": 7.8e6, "compressed": 3.5e6}}
GZIP_LEVEL = 6


def _members(archive):
    return {m.name.lstrip("./") if m.name != "." else m.name: m for m in archive.getmembers()}


def _read(archive, members, name):
    member = members.get(name.lstrip("./"))
    if member is None:
        raise ValueError(f"{name} is not in the image archive")
    return archive.extractfile(member).read()


def measure(path):
    """Returns {"uncompressed", "compressed", "binary", "sha256", "labels",
    "layers", "architecture"} for one saved image (single-image archive)."""
    with tarfile.open(path) as archive:
        members = _members(archive)
        manifest = json.loads(_read(archive, members, "manifest.json"))
        if len(manifest) != 1:
            raise ValueError(f"{path}: expected one image, found {len(manifest)}")
        config = json.loads(_read(archive, members, manifest[0]["Config"]))
        result = {"uncompressed": 0, "compressed": 0, "binary": None, "sha256": None,
                  "layers": [], "architecture": config.get("architecture", "unknown"),
                  "labels": (config.get("config") or {}).get("Labels") or {}}
        for name in manifest[0]["Layers"]:
            blob = _read(archive, members, name)
            if blob[:2] == b"\x1f\x8b":  # an engine that saves layers compressed
                blob = gzip.decompress(blob)
            packed = len(gzip.compress(blob, compresslevel=GZIP_LEVEL, mtime=0))
            result["uncompressed"] += len(blob)
            result["compressed"] += packed
            result["layers"].append((len(blob), packed))
            found = _binary_in_layer(blob)
            if found is not None:
                result["binary"], result["sha256"] = found
    return result


def _binary_in_layer(blob):
    """(size, sha256) of /tinyserver if this layer holds it."""
    with tarfile.open(fileobj=io.BytesIO(blob)) as layer:
        for member in layer:
            if member.isfile() and member.name.lstrip("./") == "tinyserver":
                data = layer.extractfile(member).read()
                return member.size, hashlib.sha256(data).hexdigest()
    return None


# ELF e_machine values, as the Debian architecture that the images' config
# names: the map's binary is matched to the images of its architecture.
ELF_MACHINES = {0x3E: "amd64", 0xB7: "arm64"}


def elf_architecture(data):
    if data[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    machine = int.from_bytes(data[18:20], "little")
    return ELF_MACHINES.get(machine, f"e_machine {machine:#x}")


def human(n):
    """Bytes in the units `docker images` uses (decimal kB and MB)."""
    if n >= 1e6:
        return f"{n / 1e6:.2f} MB"
    return f"{n / 1e3:.0f} kB"


def exact(n):
    return f"{human(n)} ({n:,} B)"


def report(images, breakdown=None, file_size=None):
    out = ["# Image sizes", "",
           "| image | architecture | base | uncompressed "
           "| compressed (gzip, as a registry stores it) | binary |",
           "| --- | --- | --- | ---: | ---: | ---: |"]
    notes = []
    for name, data, base in images:
        standin = data["labels"].get(STANDIN_LABEL)
        if standin:
            base_text = (f"**stand-in** for {standin}: `{base}` (busybox from Debian, "
                         f"not Alpine)")
        else:
            base_text = f"`{base}`"
        binary = exact(data["binary"]) if data["binary"] is not None else "not found"
        out.append(f"| `{name}` | {data['architecture']} | {base_text} "
                   f"| {exact(data['uncompressed'])} "
                   f"| {exact(data['compressed'])} | {binary} |")
        if standin and standin in PUBLISHED:
            pub = PUBLISHED[standin]
            # tinyserver's own layers: everything above the base's (one) layer.
            app_u = sum(u for u, _ in data["layers"][1:])
            app_c = sum(c for _, c in data["layers"][1:])
            out.append(f"| `{standin}` base alone (published figure, approximate; not "
                       f"measured here) | | | ~{human(pub['uncompressed'])} "
                       f"| ~{human(pub['compressed'])} | |")
            out.append(f"| `{name}` on the real `{standin}` (estimate: published base + "
                       f"tinyserver's layer) | {data['architecture']} | `{standin}` "
                       f"| ~{human(pub['uncompressed'] + app_u)} "
                       f"| ~{human(pub['compressed'] + app_c)} | |")
            notes.append(f"`{standin}` could not be pulled here (no registry), so "
                         f"`{name}` was built on a local stand-in, and its measured size "
                         f"is the stand-in's, not Alpine's. The {standin} figures are those "
                         f"published for the image (about {human(pub['compressed'])} "
                         f"compressed, {human(pub['uncompressed'])} uncompressed); they vary "
                         f"slightly between rebuilds of the tag.")
    out += ["", "Uncompressed: the image's layer tarballs, as `docker save` writes them "
            "(`docker images` and `podman images` show the unpacked size, a little below it: "
            "no tar headers). Compressed: each layer gzipped at "
            "level 6, as `docker push` uploads it; the config and manifest blobs (about "
            "2 kB) are not counted."]
    if notes:
        out += [""] + [f"Note: {n}" for n in notes]
    if breakdown is not None:
        out += ["", "### Where the binary's bytes come from", "",
                "From the linker map of the binary in the image (`-Wl,-Map`, "
                "`scripts/lib/map_breakdown.py`), checked against the section sizes "
                "`size -A` reports:", "",
                map_breakdown.markdown(breakdown, file_size)]
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", nargs=3, action="append", required=True,
                        metavar=("NAME", "ARCHIVE", "BASE"))
    parser.add_argument("--map", type=Path, help="linker map of the image's binary")
    parser.add_argument("--elf", type=Path, help="the unstripped binary the map describes")
    parser.add_argument("--stripped", type=Path,
                        help="the stripped binary built with that map: must be the images' binary")
    args = parser.parse_args(argv)
    images = [(name, measure(Path(archive)), base) for name, archive, base in args.image]
    if args.stripped:
        # The map must describe the binary that ships, not a later build.
        stripped = args.stripped.read_bytes()
        want, arch = hashlib.sha256(stripped).hexdigest(), elf_architecture(stripped)
        # The map describes one architecture's binary; other architectures'
        # images get their rows, not the breakdown.
        images_of_arch = [image for image in images if image[1]["architecture"] == arch]
        if not images_of_arch:
            raise ValueError(f"no image of the map's architecture ({arch})")
        for name, data, _ in images_of_arch:
            if data["sha256"] != want:
                raise ValueError(f"{name}'s /tinyserver is not the binary the map belongs to "
                                 f"({args.stripped}); were the sources changed after the "
                                 f"images were built? Rebuild them (run without --no-build)")
    breakdown = file_size = None
    if args.map:
        breakdown = map_breakdown.breakdown(args.map.read_text())
        if args.elf:
            map_breakdown.check_against_elf(breakdown, args.elf)
        file_size = next((d["binary"] for _, d, _ in images
                          if d["binary"] and (not args.stripped or d["sha256"] == want)), None)
    sys.stdout.write(report(images, breakdown, file_size))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError, KeyError, tarfile.TarError) as error:
        print(f"image_sizes: error: {error}", file=sys.stderr)
        sys.exit(1)
