#!/usr/bin/python3
"""Where the bytes of the tinyserver binary come from, per component, taken
from the GNU ld map file that the build writes (build/src/tinyserver.map).

usage: scripts/lib/map_breakdown.py [-h] [--elf BINARY] MAP

Every input section the linker kept in an allocated output section is
attributed to the file it came from (an object, or an archive member), and
files are grouped into components: musl, mimalloc, jemalloc, libmicrohttpd,
BearSSL, cJSON, tinyserver's own code. What no input file accounts for (alignment
padding, linker-made sections such as .got) is reported as such, so the rows
add up to the binary's section sizes. With --elf, those totals are checked
against `size -A` of the linked binary; a mismatch is an error rather than a
silently wrong table.

Prints a Markdown table. Also importable: breakdown() and markdown().
"""
import argparse
import re
import subprocess
import sys
from pathlib import Path

# Components, first match wins, tested against the input file as the map
# names it: "/path/lib.a(member.o)" or "/path/file.o". Paths differ between
# the host build and the container build (/work/... vs /src/...), so only
# file names are matched.
COMPONENTS = [
    # The page at / (src/app/page/index.html, embedded as C) and the workloads'
    # extra copies for the in-binary musl, secure-mimalloc and jemalloc paths.
    ("the page at / (HTML)", re.compile(r"page_data\.c\.o\)?$")),
    ("workload copies for musl, mimalloc-secure and jemalloc",
     re.compile(r"(^|/)libbench_(musl|secure|jemalloc)\.a(\.p/|\()")),
    # jemalloc (je_ prefixed), with the override that makes it the global
    # allocator in the -Dallocator=jemalloc build.
    ("jemalloc", re.compile(r"(^|/)libjemalloc\.a\(|(^|[/_])jemalloc_override\.c\.o\)?$")),
    ("tinyserver (own code)",
     re.compile(r"(^|/)(libtinyserver_\w+\.a|tinyserver\.p/|libbench_global\.a)")),
    ("mimalloc-secure, second instance (prefixed symbols)",
     re.compile(r"(^|/)mimalloc-secure-prefixed\.o\)?$")),
    ("mimalloc", re.compile(r"(^|/)mimalloc(-secure)?\.o$")),
    # musl's mallocng: the global allocator of the musl build, and beside
    # mimalloc the in-binary musl path (its internal entry points).
    ("musl mallocng", re.compile(r"(^|/)libc\.a\((malloc|free|realloc|lite_malloc|libc_calloc|"
                                 r"donate|aligned_alloc|malloc_usable_size|memalign|"
                                 r"posix_memalign|calloc)\.lo\)")),
    ("libmicrohttpd", re.compile(r"(^|/)libmicrohttpd\.a\(")),
    ("BearSSL", re.compile(r"(^|/)libbearssl\.a\(")),
    ("cJSON", re.compile(r"(^|/)libcjson\.a\(")),
    # musl's libc.a, plus its start files (Scrt1.o, crti.o, crtn.o) and the
    # empty libpthread.a that sit beside it.
    ("musl libc", re.compile(r"(^|/)(libc\.a\(|libpthread\.a\(|S?crt1\.o$|rcrt1\.o$|crt[in]\.o$)")),
    ("gcc runtime (crtbegin/crtend, libgcc)", re.compile(r"(^|/)(crtbegin|crtend)\w*\.o$|(^|/)libgcc(_eh)?\.a\(")),
]
OTHER = "other input files"
UNATTRIBUTED = "padding and linker-made sections"

# Sections that take memory at run time but no bytes in the file.
NOBITS = re.compile(r"^\.(t?bss|lbss)(\.|$)")
# Mergeable constants (SHF_MERGE): the linker keeps one copy of equal strings
# and constants, so the map's input sizes can add up to more than the output.
MERGEABLE = re.compile(r"^\.rodata\.(str|cst)")

HEX = r"0x([0-9a-fA-F]+)"
OUT_FULL = re.compile(rf"^(\.\S+)\s+{HEX}\s+{HEX}\s*$")
OUT_NAME = re.compile(r"^(\.\S+)\s*$")
IN_FULL = re.compile(rf"^ (\S+)\s+{HEX}\s+{HEX}\s+(\S.*?)\s*$")
IN_NAME = re.compile(r"^ (\.\S+|COMMON)\s*$")
ADDR_SIZE = re.compile(rf"^\s+{HEX}\s+{HEX}\s*(\S.*?)?\s*$")


def component_of(path):
    for name, pattern in COMPONENTS:
        if pattern.search(path):
            return name
    return OTHER


def parse_map(lines):
    """Yields ("out", name, addr, size) for each output section and
    ("in", section, addr, size, file) for each input section in it."""
    lines = iter(lines)
    for line in lines:
        if line.startswith("Linker script and memory map"):
            break
    pending_out = pending_in = None
    for line in lines:
        line = line.rstrip("\n")
        if pending_out is not None:
            m = ADDR_SIZE.match(line)
            if m and not m.group(3):
                yield ("out", pending_out, int(m.group(1), 16), int(m.group(2), 16))
                pending_out = None
                continue
            pending_out = None  # an empty output section: name only
        if pending_in is not None:
            m = ADDR_SIZE.match(line)
            pending_name, pending_in = pending_in, None
            if m and m.group(3):
                yield ("in", pending_name, int(m.group(1), 16), int(m.group(2), 16), m.group(3))
                continue
        m = OUT_FULL.match(line)
        if m:
            yield ("out", m.group(1), int(m.group(2), 16), int(m.group(3), 16))
            continue
        m = OUT_NAME.match(line)
        if m:
            pending_out = m.group(1)
            continue
        m = IN_FULL.match(line)
        if m and m.group(1) != "*fill*" and not m.group(1).startswith("*("):
            yield ("in", m.group(1), int(m.group(2), 16), int(m.group(3), 16), m.group(4))
            continue
        m = IN_NAME.match(line)
        if m:
            pending_in = m.group(1)


def unmerge(components, section, excess, shares, attributed, total):
    """Takes the bytes the linker merged away (`excess`) off the components
    whose mergeable inputs they were, in proportion, so the totals match the
    output section exactly."""
    pool = sum(shares.values())
    if excess > pool:
        raise ValueError(f"{section}: input sections ({attributed}) exceed the output "
                         f"section ({total}); the map format is not understood")
    taken = 0
    ordered = sorted(shares.items())
    for i, (component, size) in enumerate(ordered):
        cut = excess - taken if i == len(ordered) - 1 else excess * size // pool
        components[component]["file"] -= cut
        taken += cut


def breakdown(map_text):
    """Returns {"components": {name: {"file": bytes, "bss": bytes}},
    "sections": {output section: size}} for allocated output sections."""
    components = {}
    sections = {}
    current = None
    attributed = {}
    mergeable = {}  # output section -> {component: mergeable input bytes}

    def add(component, section, size):
        kind = "bss" if NOBITS.match(section) else "file"
        entry = components.setdefault(component, {"file": 0, "bss": 0})
        entry[kind] += size

    for record in parse_map(map_text.splitlines()):
        if record[0] == "out":
            _, name, addr, size = record
            # Address 0 marks a section not loaded at run time (.comment,
            # .debug_*): strip removes most of them, and none is ours to size.
            current = name if addr != 0 else None
            if current is not None:
                sections[current] = sections.get(current, 0) + size
            continue
        _, _section, _addr, size, path = record
        if current is None or size == 0:
            continue
        add(component_of(path), current, size)
        attributed[current] = attributed.get(current, 0) + size
        if MERGEABLE.match(_section):
            shares = mergeable.setdefault(current, {})
            shares[component_of(path)] = shares.get(component_of(path), 0) + size
    for name, total in sections.items():
        rest = total - attributed.get(name, 0)
        if rest < 0:
            unmerge(components, name, -rest, mergeable.get(name, {}), attributed[name], total)
            rest = 0
        if rest:
            add(UNATTRIBUTED, name, rest)
    return {"components": components, "sections": sections}


def elf_sections(binary):
    """Allocated sections of an ELF file as `size -A` reports them."""
    out = subprocess.run(["size", "-A", str(binary)], check=True, capture_output=True,
                         text=True).stdout
    sections = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            if int(parts[2]) != 0 and int(parts[1]) != 0:
                sections[parts[0]] = int(parts[1])
    return sections


def check_against_elf(result, binary):
    """Raises ValueError unless the map's allocated sections match the ELF's."""
    from_map = {k: v for k, v in result["sections"].items() if v}
    from_elf = elf_sections(binary)
    if from_map != from_elf:
        diff = sorted(set(from_map.items()) ^ set(from_elf.items()))
        raise ValueError(f"map and {binary} disagree on section sizes: {diff}")


def totals(result):
    comps = result["components"].values()
    return sum(c["file"] for c in comps), sum(c["bss"] for c in comps)


def markdown(result, file_size=None):
    """The table; with file_size (the stripped binary's), a last row says how
    much of the file is ELF headers, segment alignment and the section table."""
    file_total, bss_total = totals(result)
    order = [name for name, _ in COMPONENTS] + [OTHER, UNATTRIBUTED]
    rows = ["| component | bytes in the binary | share | zero-initialised memory (bss, not in the file) |",
            "| --- | ---: | ---: | ---: |"]
    # Every named component gets a row, even at 0 bytes: that a library is
    # not linked in at all (section GC dropped it) is worth seeing.
    present = [c for c in order if c in result["components"] or c not in (OTHER, UNATTRIBUTED)]
    ranked = sorted(present, key=lambda c: -result["components"].get(c, {"file": 0})["file"])
    base = file_size or file_total
    for name in ranked:
        entry = result["components"].get(name, {"file": 0, "bss": 0})
        rows.append(f"| {name} | {entry['file']:,} | {100.0 * entry['file'] / base:.1f}% "
                    f"| {entry['bss']:,} |")
    if file_size is not None:
        overhead = file_size - file_total
        rows.append(f"| ELF headers, segment alignment, section table | {overhead:,} "
                    f"| {100.0 * overhead / file_size:.1f}% | |")
        rows.append(f"| **total (stripped binary)** | **{file_size:,}** | 100% | {bss_total:,} |")
    else:
        rows.append(f"| **total (allocated sections)** | **{file_total:,}** | 100% | {bss_total:,} |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     usage="scripts/lib/map_breakdown.py [-h] [--elf BINARY] "
                                           "[--stripped FILE] MAP")
    parser.add_argument("map", type=Path, help="GNU ld map file (-Wl,-Map=...)")
    parser.add_argument("--elf", type=Path,
                        help="the binary the map describes: check the totals against `size -A`")
    parser.add_argument("--stripped", type=Path,
                        help="the stripped binary: express shares of its file size")
    args = parser.parse_args(argv)
    result = breakdown(args.map.read_text())
    if args.elf:
        check_against_elf(result, args.elf)
    size = args.stripped.stat().st_size if args.stripped else None
    print(markdown(result, size))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError, subprocess.CalledProcessError) as error:
        print(f"map_breakdown: error: {error}", file=sys.stderr)
        sys.exit(1)
