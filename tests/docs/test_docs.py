"""The README is the contract: its configuration table must be exactly what
the option table generates, and the commands it promises must exist."""
import os
import re
import subprocess

import pytest

from binary import BINARY
from bounds import BUILD_AND_START_TIMEOUT_S
from odd_requests import CASES
from repo import REPO

def test_readme_configuration_table_matches_the_option_table():
    readme = (REPO / "README.md").read_text()
    match = re.search(r"<!-- config-table:begin -->\n(.*?)<!-- config-table:end -->", readme, re.S)
    assert match, "README lacks the config-table markers"
    generated = subprocess.run([str(BINARY), "--help-markdown"], check=True,
                               capture_output=True, text=True).stdout
    assert match.group(1) == generated


def test_readme_names_the_two_commands_and_ci_runs_the_test_one():
    readme = (REPO / "README.md").read_text()
    assert "scripts/serve.sh" in readme and "scripts/test.sh" in readme
    for script in ("scripts/serve.sh", "scripts/test.sh"):
        assert os.access(REPO / script, os.X_OK), script
    assert "scripts/test.sh" in (REPO / ".ci" / "run").read_text()


DEFAULT_BINARY = REPO / "build" / "src" / "tinyserver"


@pytest.mark.skipif(BINARY.resolve() != DEFAULT_BINARY.resolve(),
                    reason="scripts/serve.sh serves the default build, not the one under test")
def test_readme_serve_command_builds_and_serves(server, curl):
    # The README's first command, started as the suite starts the binary
    # (on a free port, since :3000 may be taken here): serve.sh runs
    # build.sh, a no-op by now, then execs the server, so it must become
    # healthy, answer /bench and exit 0 on SIGTERM.
    srv = server(binary=REPO / "scripts" / "serve.sh", startup_timeout=BUILD_AND_START_TIMEOUT_S)
    bench = curl(srv.url + "/bench?threads=1&iterations=1000")
    assert bench.status == 200 and bench.json["operations"] == 1000, bench.describe()
    assert srv.stop() == 0, srv.output()


def test_every_flag_in_help_has_an_environment_variable():
    help_text = subprocess.run([str(BINARY), "--help"], check=True, capture_output=True,
                               text=True).stdout
    options = re.findall(r"^  (--[a-z-]+) \S+\s+([A-Z_]+)\s+default", help_text, re.M)
    assert len(options) >= 10
    for flag, env in options:
        # The variable is the flag's name in upper case, optionally with a
        # suffix that says more (TLS_CERT_FILE for --tls-cert).
        assert env.startswith(flag[2:].upper().replace("-", "_")), (flag, env)


RFC_SECTION = "## RFC 9110 and RFC 9112, requirement by requirement"


def rfc_table_tests():
    """The Test column of reliability.md's RFC tables: the rows, the case
    ids and the tests ((module, function) or a unit test file) named."""
    text = (REPO / "docs" / "reliability.md").read_text()
    section = text.split(RFC_SECTION, 1)[1].split("\n## ", 1)[0]
    cases, refs = set(), []
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    for row in rows:
        cell = row.rstrip(" |").rsplit(" | ", 1)[-1]
        module = None  # "::name" continues the module named before it
        for part in re.split(r";\s*", cell):
            names = re.findall(r"`([^`]+)`", part)
            if re.match(r"cases? ", part):
                cases.update(names)
                continue
            for name in names:
                if name.endswith(".c"):
                    refs.append(name)
                elif "::" in name:
                    path, _, function = name.partition("::")
                    module = path.rsplit("/", 1)[-1] if path else module
                    refs.append((module, function.split("[", 1)[0]))
    return rows, cases, refs


def test_every_test_the_rfc_table_names_exists():
    rows, cases, refs = rfc_table_tests()
    assert len(rows) > 40, "the RFC table is missing or was cut"
    known = {case[0] for case in CASES}
    assert cases and refs, "no case or test named"
    assert not cases - known, f"cases named in reliability.md but not in CASES: {cases - known}"
    for ref in refs:
        if isinstance(ref, str):
            assert (REPO / "tests" / ref).is_file(), ref
            continue
        module, function = ref
        assert module is not None, function
        # Named by file name: the folder (integration/, docs/, ...) may be left out.
        paths = sorted((REPO / "tests").glob(f"*/{module}"))
        assert len(paths) == 1, f"{module}::{function}: {len(paths)} such modules under tests/"
        source = paths[0].read_text()
        assert re.search(rf"^def {re.escape(function)}\(", source, re.M), f"{module}::{function}"
