"""docs/architecture.md's layer map is the tree and the build.

The map names every folder of src/ with the layers it may include and one
row per module. These tests hold it to:
  - the tree: every module (a .c/.h stem, or another file such as
    page/index.html) and every folder under src/ is named, and nothing is
    named that does not exist;
  - the build: the include directories each source file of a layer is
    compiled with (compile_commands.json of TINYSERVER_BUILD) are its own
    folder and exactly the layers the map says it may include, and no other
    directory of the source tree.
"""
import json
import os
import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
DOC = REPO / "docs" / "architecture.md"
BUILD = Path(os.environ.get("TINYSERVER_BUILD", REPO / "build"))

SECTION = re.compile(r"^### `src/([\w.]+?)/?`", re.MULTILINE)
MAY_INCLUDE = re.compile(r"^May include: (.*)$", re.MULTILINE)
ROW = re.compile(r"^\| (`[^|]+`) \|", re.MULTILINE)
TICKED = re.compile(r"`([^`]+)`")
# Files of the tree that are the build's, not modules.
NOT_MODULES = {"meson.build"}


def doc_layers():
    """{folder or "main.c": (set of layers it may include, set of modules)}."""
    text = DOC.read_text()
    starts = list(SECTION.finditer(text))
    assert starts, "docs/architecture.md has no ### `src/<folder>/` sections"
    layers = {}
    for i, start in enumerate(starts):
        body = text[start.end():starts[i + 1].start() if i + 1 < len(starts) else len(text)]
        body = body.split("\n## ", 1)[0]
        rule = MAY_INCLUDE.search(body)
        assert rule, f"src/{start.group(1)}: no 'May include:' line"
        modules = set()
        for row in ROW.finditer(body):
            for name in TICKED.findall(row.group(1)):
                modules.add(module_name(name))
        modules.discard("Module")
        assert start.group(1) not in layers, f"src/{start.group(1)} is described twice"
        layers[start.group(1)] = (set(TICKED.findall(rule.group(1))), modules)
    return layers


def module_name(name):
    """`clock.[ch]`, `clock.c` and `clock.h` are the module "clock"; any
    other file keeps its name."""
    return re.sub(r"\.(\[ch\]|c|h)$", "", name)


def tree_layers():
    """{folder: set of modules} for each folder of src/, and main.c."""
    layers = {}
    for folder in sorted(p for p in SRC.iterdir() if p.is_dir()):
        modules = set()
        for path in folder.rglob("*"):
            if path.is_file() and path.name not in NOT_MODULES:
                modules.add(module_name(path.relative_to(folder).as_posix()))
        layers[folder.name] = modules
    loose = sorted(p.name for p in SRC.iterdir() if p.is_file() and p.name not in NOT_MODULES)
    assert loose == ["main.c"], f"src/ holds files outside the layers: {loose}"
    return layers


def test_every_folder_of_src_is_a_layer_in_the_doc():
    described = set(doc_layers()) - {"main.c"}
    assert described == set(tree_layers()), (
        f"folders without a section: {sorted(set(tree_layers()) - described)}; "
        f"sections without a folder: {sorted(described - set(tree_layers()))}")


@pytest.mark.parametrize("folder", sorted(tree_layers()))
def test_every_module_is_named_and_every_name_is_a_module(folder):
    named = doc_layers().get(folder, (set(), set()))[1]
    present = tree_layers()[folder]
    assert named == present, (
        f"src/{folder}: modules without a row in docs/architecture.md: "
        f"{sorted(present - named)}; rows naming no module: {sorted(named - present)}")


def test_every_subfolder_is_named():
    doc = DOC.read_text()
    for path in SRC.rglob("*"):
        if path.is_dir() and path.parent != SRC:
            inside_layer = Path(*path.relative_to(SRC).parts[1:]).as_posix()
            assert f"`{inside_layer}/" in doc, f"src/{path.relative_to(SRC)}/ is not named in the map"


def include_folders(entry):
    """The folders of the source tree an entry of compile_commands.json is
    compiled with: names of src/ folders, or the path for any other one."""
    directory = Path(entry["directory"])
    arguments = entry.get("arguments") or shlex.split(entry["command"])
    found = set()
    for i, argument in enumerate(arguments):
        if argument == "-I":
            path = arguments[i + 1]
        elif argument.startswith("-I"):
            path = argument[2:]
        else:
            continue
        resolved = (directory / path).resolve()
        if resolved == BUILD.resolve() or BUILD.resolve() in resolved.parents:
            continue  # generated files (version.h) and the targets' private folders
        if resolved.parent == SRC:
            found.add(resolved.name)
        elif resolved == REPO or REPO in resolved.parents:
            found.add(str(resolved))  # src/ itself, the repository root: never allowed
    return found


def build_rules():
    """{folder or "main.c": set of folders its files are compiled with, minus its own}."""
    commands = BUILD / "compile_commands.json"
    assert commands.is_file(), f"no {commands}: set TINYSERVER_BUILD to a configured build"
    rules = {}
    for entry in json.loads(commands.read_text()):
        source = (Path(entry["directory"]) / entry["file"]).resolve()
        if SRC not in source.parents:
            continue
        relative = source.relative_to(SRC)
        owner = relative.parts[0] if len(relative.parts) > 1 else relative.name
        seen = include_folders(entry) - {owner}
        assert rules.setdefault(owner, seen) == seen, (
            f"src/{relative} is compiled with {sorted(seen)}, other files of {owner} with "
            f"{sorted(rules[owner])}")
    return rules


def test_include_rules_in_the_doc_are_the_ones_the_build_enforces():
    documented = {name: allowed for name, (allowed, _) in doc_layers().items()}
    enforced = build_rules()
    assert set(enforced) == set(documented), (
        f"compiled: {sorted(enforced)}; described: {sorted(documented)}")
    wrong = {name: (sorted(documented[name]), sorted(enforced[name]))
             for name in enforced if enforced[name] != documented[name]}
    assert not wrong, f"layer: (the doc's rule, the build's include directories): {wrong}"
