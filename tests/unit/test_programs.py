"""Runs each C unit-test program that Meson built, one pytest case each.

The programs are listed by `meson introspect --tests`, so a new program in
tests/meson.build is picked up here without editing this file.
"""
import json
import subprocess

import pytest

from binary import BIN_RUNNER
from repo import BUILD

def _unit_programs():
    result = subprocess.run(
        ["meson", "introspect", "--tests", str(BUILD)],
        check=True, capture_output=True, text=True)
    tests = [t for t in json.loads(result.stdout) if any(s.endswith("unit") for s in t.get("suite", []))]
    return sorted(tests, key=lambda t: t["name"])


PROGRAMS = _unit_programs()


def test_unit_programs_are_listed():
    assert len(PROGRAMS) >= 8, "expected one program per module"


@pytest.mark.parametrize("program", PROGRAMS, ids=[t["name"] for t in PROGRAMS])
def test_unit_program(program):
    # A cross build's programs run under the emulator, as the binary does.
    result = subprocess.run([*BIN_RUNNER, *program["cmd"]], capture_output=True, text=True,
                            timeout=300, cwd=program.get("workdir") or None)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout
