"""Facts about the built binary: fully static, the allocator it was built
with (mimalloc by default) owns malloc and friends, every workload's loop
really calls malloc/free, the stripped build is small. These read the files;
nothing is executed."""
import re
import shutil
import subprocess

import pytest

from binary import (ALLOCATOR_VARIANT, ARCH, BINARY, NOT_A_RELEASE_BUILD, SANITIZER_BUILD,
                    USES_MIMALLOC)

pytestmark = pytest.mark.skipif(SANITIZER_BUILD, reason=NOT_A_RELEASE_BUILD)

MAP_FILE = BINARY.parent / "tinyserver.map"
STRIPPED = BINARY.parent / "tinyserver-stripped"
STRIPPED_MAX_BYTES = 1024 * 1024
OVERRIDDEN_FUNCTIONS = ["malloc", "free", "calloc", "realloc", "aligned_alloc",
                        "posix_memalign", "memalign", "valloc", "malloc_usable_size"]
if USES_MIMALLOC:
    ALLOCATOR_FUNCTIONS = OVERRIDDEN_FUNCTIONS
    # mimalloc.o or mimalloc-secure.o, whichever the variant links.
    ALLOCATOR_OBJECT = re.compile(rf"(^|/){re.escape(ALLOCATOR_VARIANT)}\.o$")
elif ALLOCATOR_VARIANT == "jemalloc":
    # src/bench/jemalloc_override.c hands each to its je_ function. calloc matters
    # most: musl's would ask mallocng whether a jemalloc block is all zero.
    ALLOCATOR_FUNCTIONS = OVERRIDDEN_FUNCTIONS
    ALLOCATOR_OBJECT = re.compile(r"(^|[/_])jemalloc_override\.c\.o$")
else:
    # musl's own: only what the program uses is linked.
    ALLOCATOR_FUNCTIONS = ["malloc", "free", "calloc", "realloc"]
    ALLOCATOR_OBJECT = re.compile(r"(^|/)libc\.a\(\w+\.lo\)$")
# Each workload's functions share a prefix (bench_<workload>.c).
WORKLOAD_FUNCTION_PREFIXES = ["seed", "xthread", "larson", "window"]
# Each workload is compiled once per allocator path (src/bench/bench_alloc.h), into
# src/bench/libbench_<path>.a, and must call that path's malloc and free.
SECURE_PREFIX = "tinyserver_secure_"
BENCH_PATHS = {
    "global": ("malloc", "free"),
    "musl": ("__libc_malloc_impl", "__libc_free"),
    "secure": (SECURE_PREFIX + "malloc", SECURE_PREFIX + "free"),
    "jemalloc": ("je_malloc", "je_free"),
}


def tool(name, *args):
    assert shutil.which(name), f"{name} is needed for this test (binutils / file)"
    proc = subprocess.run([name, *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{name} {args}: {proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def symbols():
    """name -> list of (address, nm type) for every defined symbol."""
    table = {}
    for line in tool("nm", "--defined-only", str(BINARY)).splitlines():
        parts = line.split()
        if len(parts) == 3:
            address, kind, name = parts
            table.setdefault(name, []).append((int(address, 16), kind))
    assert table, "nm found no symbols: is the binary stripped?"
    return table


def parse_map_input_sections(text):
    """(section name, start, size, object file) of every input section the
    linker placed, from a GNU ld map. An input section is listed as
    ' .name ADDR SIZE FILE', with the name alone on the line before when it
    is too long."""
    _, found, placed = text.partition("Linker script and memory map")
    assert found, "not a GNU ld map file"
    sections = []
    pending_name = None
    for line in placed.splitlines():
        alone = re.match(r"^ (\.\S+)$", line)
        if alone:
            pending_name = alone.group(1)
            continue
        full = re.match(r"^ (\.\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        continued = pending_name and re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$",
                                              line)
        if full:
            name, start, size, obj = full.groups()
        elif continued:
            name, (start, size, obj) = pending_name, continued.groups()
        pending_name = None
        if full or continued:
            if int(start, 16) and int(size, 16):
                sections.append((name, int(start, 16), int(size, 16), obj.strip()))
    return sections


def parse_map_sections(text):
    """(start, size, object file) of every input section the linker placed."""
    return [(start, size, obj) for _, start, size, obj in parse_map_input_sections(text)]


def test_built_for_the_target_machine():
    header = tool("readelf", "-hW", str(BINARY))
    fields = dict(line.strip().split(":", 1) for line in header.splitlines() if ":" in line)
    assert fields["Machine"].strip() == ARCH["machine"], header
    assert fields["Type"].strip().startswith("EXEC"), header  # not PIE: static, fixed address


def test_no_interpreter_and_no_dynamic_section():
    headers = tool("readelf", "-lW", str(BINARY))
    assert "LOAD" in headers, headers  # really the program header table
    assert "INTERP" not in headers, headers
    assert "There is no dynamic section in this file." in tool("readelf", "-d", str(BINARY))


def test_file_says_statically_linked():
    description = tool("file", "-b", str(BINARY))
    assert "statically linked" in description, description


def test_allocator_is_linked(symbols):
    if USES_MIMALLOC:
        assert "mi_malloc" in symbols, "no mi_malloc: mimalloc is not linked"
        assert all(kind == "T" for _, kind in symbols["mi_malloc"]), symbols["mi_malloc"]
    elif ALLOCATOR_VARIANT == "jemalloc":
        assert "je_malloc" in symbols, "no je_malloc: jemalloc is not linked"
        assert "mi_malloc" not in symbols, "the jemalloc build links mimalloc"
    else:
        assert "mi_malloc" not in symbols, "the musl build links mimalloc"
        assert "__libc_malloc_impl" in symbols, "no __libc_malloc_impl: where is mallocng?"


@pytest.mark.parametrize("name", ALLOCATOR_FUNCTIONS)
def test_allocator_function_comes_from_the_allocator(symbols, name):
    """Each allocator entry point is defined exactly once, as global text,
    and its code comes from mimalloc's object file (in the musl build: from
    musl's libc.a, where malloc is a weak symbol so it can be replaced).

    Why the map file rather than comparing addresses with mi_* symbols:
    mimalloc makes some entry points aliases (malloc == mi_malloc, free ==
    mi_free at the same address) but others small wrapper functions
    (posix_memalign, memalign, aligned_alloc have addresses of their own), so
    address equality cannot cover all of them. The linker's map records
    which object file supplied the section at each address; if the address
    nm gives lies inside a section placed from mimalloc.o, mimalloc's code is
    what runs, whatever the symbol's aliasing."""
    assert name in symbols, f"{name} is not defined in the binary"
    definitions = symbols[name]
    assert len(definitions) == 1, definitions
    address, kind = definitions[0]
    kinds = "T" if ALLOCATOR_FUNCTIONS is OVERRIDDEN_FUNCTIONS else "TW"
    assert kind in kinds, f"{name} is '{kind}', expected global text '{kinds}'"
    assert MAP_FILE.exists(), f"missing {MAP_FILE}"
    sections = parse_map_sections(MAP_FILE.read_text())
    owners = [obj for start, size, obj in sections if start <= address < start + size]
    assert len(owners) == 1, f"{name} at {address:#x} is in {owners}"
    assert ALLOCATOR_OBJECT.search(owners[0]), f"{name} at {address:#x} comes from {owners[0]}"


def test_jemalloc_has_no_start_up_constructor(symbols):
    """patches/jemalloc/0001: jemalloc initialises on its first call, not
    from a constructor before main (which cost every start of the default
    build 428 kB of resident memory, jemalloc unused). The constructor is a
    static function, so the unstripped binary names it when it is linked."""
    if "je_malloc" not in symbols:
        pytest.skip("this build has no jemalloc")
    assert "jemalloc_constructor" not in symbols


@pytest.mark.skipif(not USES_MIMALLOC, reason="the musl build has no mimalloc")
@pytest.mark.parametrize("name", ["malloc", "free"])
def test_malloc_and_free_are_mimalloc_aliases(symbols, name):
    # The direct form of the proof, for the entry points mimalloc aliases.
    ours, theirs = symbols.get(name), symbols.get("mi_" + name)
    assert ours and theirs, f"{name}: {ours}, mi_{name}: {theirs}"
    assert ours[0][0] == theirs[0][0], f"{name} at {ours[0][0]:#x}, mi_{name} at {theirs[0][0]:#x}"


@pytest.mark.parametrize("path", sorted(BENCH_PATHS))
@pytest.mark.parametrize("prefix", WORKLOAD_FUNCTION_PREFIXES)
def test_workload_calls_malloc_and_free(symbols, prefix, path):
    """Each workload's copy for each allocator path keeps its calls to that
    path's malloc and free, and calls no other path's.

    A workload's functions are static and named <prefix>_*; with
    -ffunction-sections each sits in its own .text.<name> section, which the
    link map attributes to src/bench/libbench_<path>.a's bench_<prefix>.c.o. The
    compiler may inline some into others or clone them (.isra/.constprop),
    so the calls of all of them together are checked: xthread, say, calls
    malloc in its producer and free in its consumer. Setup and teardown run
    outside the measured loop and are left out. Calls are matched by target
    address, not by the name objdump prints: free is an alias of mi_free
    and of C++ operator delete, and objdump labels the target with
    whichever alias it picks (here <_ZdaPv>)."""
    sections = [(name, start, size) for name, start, size, obj
                in parse_map_input_sections(MAP_FILE.read_text())
                if re.search(rf"(^|/)libbench_{path}\.a\.p/bench_{prefix}\.c\.o$", obj)
                and name.startswith(f".text.{prefix}_")
                and not re.match(rf"\.text\.{prefix}_(setup|teardown|spawn_failed)\b", name)]
    if not sections:
        assert path != "global", f"no {prefix}_* function of libbench_global in the map"
        pytest.skip(f"this build has no {path} allocator path")
    targets = set()
    for name, start, size in sections:
        # The target's objdump: the host's knows only the host's instructions.
        listing = tool(f"{ARCH['triplet']}-objdump", "-d", "--no-show-raw-insn",
                       f"--start-address={start:#x}", f"--stop-address={start + size:#x}",
                       str(BINARY))
        targets |= {int(a, 16) for a in
                    re.findall(rf"\b{ARCH['call']}\s+([0-9a-f]+) <", listing)}
    for callee in BENCH_PATHS[path]:
        address = symbols[callee][0][0]
        assert address in targets, (f"{sections} never call {callee} ({address:#x}); call "
                                    f"targets: {sorted(hex(t) for t in targets)}")
    others = {symbols[c][0][0] for p, pair in BENCH_PATHS.items() if p != path
              for c in pair if c in symbols}
    assert not targets & others, f"{path} copy of {prefix} calls another path's allocator"


def test_stripped_binary_is_small_and_static():
    assert STRIPPED.exists(), f"missing {STRIPPED}"
    size = STRIPPED.stat().st_size
    print(f"\n{STRIPPED}: {size} bytes ({size / 1024:.1f} KiB)")
    assert size < STRIPPED_MAX_BYTES, f"{size} bytes"
    description = tool("file", "-b", str(STRIPPED))
    assert "statically linked" in description and ", stripped" in description, description
    assert "INTERP" not in tool("readelf", "-lW", str(STRIPPED))
