"""What can be checked about the container build without an engine: the two
Dockerfiles cannot drift apart, their layers are ordered for the cache, the
context keeps secrets out, and the size report's map parser adds up.
"""
import re
import subprocess

import pytest

from repo import BUILD, REPO, project_version

DOCKERFILE = REPO / "Dockerfile"
ALPINE = REPO / "Dockerfile.alpine"
BUILDER_START = "# --- builder: identical in Dockerfile and Dockerfile.alpine"
BUILDER_END = "# --- end of builder"
def builder_section(path):
    text = path.read_text()
    assert BUILDER_START in text and BUILDER_END in text, f"{path.name}: builder markers missing"
    return text[text.index(BUILDER_START):text.index(BUILDER_END)]


def runtime_section(path):
    """The final stage, from the line after its FROM."""
    text = path.read_text()
    after = text[text.index(BUILDER_END):]
    final_from = re.search(r"^FROM .*\n", after, re.MULTILINE)
    assert final_from, f"{path.name}: no final stage"
    return after[final_from.end():]


def instructions(text):
    """(INSTRUCTION, arguments) per instruction, comments and continuations
    folded away."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines()
                                         if not line.lstrip().startswith("#")))
    return [tuple(line.split(None, 1)) for line in text.splitlines() if line.strip()]


def test_builder_stages_are_identical():
    # Identical text means a shared layer cache: building the second image
    # reuses the first one's dependency and application layers.
    assert builder_section(DOCKERFILE) == builder_section(ALPINE)


def test_runtime_metadata_is_identical():
    assert runtime_section(DOCKERFILE) == runtime_section(ALPINE)


def test_bases_and_final_stages():
    assert re.search(r"^ARG BUILDER_IMAGE=debian:bookworm-slim$", DOCKERFILE.read_text(), re.M)
    assert re.search(r"^FROM scratch$", DOCKERFILE.read_text(), re.M)
    alpine = ALPINE.read_text()
    assert re.search(r"^ARG ALPINE_IMAGE=alpine:3\.20$", alpine, re.M)
    assert re.search(r"^FROM \$\{ALPINE_IMAGE\}$", alpine, re.M)


def stages(text):
    """{stage name: [(INSTRUCTION, arguments), ...]} for the named stages."""
    result, current = {}, None
    for op, args in instructions(text):
        if op == "FROM":
            match = re.search(r"\bAS (\S+)$", args)
            current = match.group(1) if match else None
            if current:
                result[current] = []
        elif current:
            result[current].append((op, args))
    return result


def test_dependency_layer_comes_before_the_sources():
    """deps.lock and the dependency scripts are copied and built before any
    application source arrives, so editing src/ reuses the dependency layer."""
    named = stages(builder_section(DOCKERFILE))
    builder, sources = named["builder"], named["sources"]
    first_run = next(i for i, (op, _) in enumerate(builder) if op == "RUN")
    early = [args for op, args in builder[:first_run] if op == "COPY"]
    # deps.sh reads the repository files its RECIPE_INPUTS name: they must be
    # in the layer too, or the image build fails where the host build works.
    deps_sh = (REPO / "scripts" / "deps.sh").read_text()
    recipe_inputs = " ".join(re.findall(r'^RECIPE_INPUTS\[\w+\]="([^"]*)"', deps_sh, re.M)).split()
    assert recipe_inputs, "deps.sh names no RECIPE_INPUTS"
    assert early == ["deps.lock ./", "scripts/setup.sh scripts/deps.sh scripts/",
                     "scripts/lib/common.sh scripts/lib/arch.sh scripts/lib/apt-sources.sh "
                     "scripts/lib/", "patches/ patches/"]
    # Every library the two scripts source (and those sources source) is in
    # that layer: a missing one fails only inside the image build.
    sourced, todo = set(), ["scripts/setup.sh", "scripts/deps.sh"]
    while todo:
        text = (REPO / todo.pop()).read_text()
        for name in re.findall(r'^\s*\. "\$\(dirname -- "\$\{BASH_SOURCE\[0\]\}"\)/(?:lib/)?([\w.-]+\.sh)"',
                               text, re.M):
            path = f"scripts/lib/{name}"
            if path not in sourced:
                sourced.add(path)
                todo.append(path)
    assert "scripts/lib/common.sh" in sourced, sourced
    assert sourced <= set(early[2].split()[:-1]), sourced - set(early[2].split())
    for path in recipe_inputs:
        assert path.startswith("patches/") and (REPO / path).is_file(), path
    # For the image's architecture: the cross packages, then its dependencies.
    assert " ".join(builder[first_run][1].split()) == (
        'arch=${TARGETARCH:-$(dpkg --print-architecture)} && '
        'scripts/setup.sh build "cross-$arch" && scripts/deps.sh --arch "$arch"')
    assert ("COPY", "--from=sources /src/ /src/") in builder[first_run:]
    copied = " ".join(args for op, args in sources if op == "COPY")
    for needed in ("meson.build", "meson.options", "meson_options.txt", "src/", "scripts/",
                   "tests/meson.build", "tests/unit/"):
        assert needed in copied, f"the sources stage does not copy {needed}"
    # The same build script as on the host: no second recipe.
    assert builder[-1][0] == "RUN" and " ".join(builder[-1][1].split()) == (
        'scripts/build.sh --allocator "$ALLOCATOR" --arch '
        '"${TARGETARCH:-$(dpkg --print-architecture)}" --builddir build'), builder[-1]


def test_builder_cross_compiles_on_the_build_platform():
    """The builder runs on the building machine for every target platform,
    and the final stage only copies: no stage runs the target's code."""
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM --platform=\$BUILDPLATFORM \$\{BUILDER_IMAGE\} AS builder$", text,
                     re.M)
    named = stages(builder_section(DOCKERFILE))
    assert ("ARG", "TARGETARCH") in named["builder"]
    final = instructions(runtime_section(DOCKERFILE))
    assert not [args for op, args in final if op == "RUN"], final


def test_default_version_label_matches_meson():
    for path in (DOCKERFILE, ALPINE):
        assert f"ARG VERSION={project_version()}\n" in path.read_text(), path.name


def test_dockerignore_keeps_secrets_and_caches_out():
    patterns = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    for needed in (".git", ".cache", "build*", "tests/.results", "**/*.key", "**/*.pem",
                   "**/*.crt", "**/__pycache__"):
        assert needed in patterns, f".dockerignore lacks {needed}"


def _map_breakdown():
    import importlib.util
    spec = importlib.util.spec_from_file_location("map_breakdown",
                                                  REPO / "scripts" / "lib" / "map_breakdown.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_map_breakdown_accounts_for_the_binary():
    """The size report's per-component table, on the host build: the map's
    allocated sections equal the ELF's, and the big components are found."""
    mapfile, elf = BUILD / "src" / "tinyserver.map", BUILD / "src" / "tinyserver"
    if not mapfile.exists():
        pytest.fail(f"{mapfile} missing: the build must write a linker map")
    module = _map_breakdown()
    result = module.breakdown(mapfile.read_text())
    module.check_against_elf(result, elf)
    components = result["components"]
    for name in ("musl libc", "mimalloc", "jemalloc", "libmicrohttpd", "cJSON",
                 "tinyserver (own code)"):
        assert components.get(name, {"file": 0})["file"] > 0, (name, components)
    file_total, _ = module.totals(result)
    stripped = (BUILD / "src" / "tinyserver-stripped").stat().st_size
    # Headers, alignment and the section table are the only other bytes.
    assert file_total <= stripped < file_total + 16 * 1024, (file_total, stripped)


def test_map_breakdown_cli_prints_a_table():
    out = subprocess.run(["python3", str(REPO / "scripts" / "lib" / "map_breakdown.py"),
                          "--elf", str(BUILD / "src" / "tinyserver"),
                          "--stripped", str(BUILD / "src" / "tinyserver-stripped"),
                          str(BUILD / "src" / "tinyserver.map")],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("| component |"), out
    assert "**total (stripped binary)**" in out, out
