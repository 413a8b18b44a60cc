"""The README is the contract: its configuration table must be exactly what
the option table generates, and the commands it promises must exist."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import free_port

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("TINYSERVER_BIN", REPO / "build" / "src" / "tinyserver"))


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
SERVE_STARTUP_S = 120  # serve.sh first runs build.sh, which is a no-op here


@pytest.mark.skipif(BINARY.resolve() != DEFAULT_BINARY.resolve(),
                    reason="scripts/serve.sh serves the default build, not the one under test")
def test_readme_serve_command_builds_and_serves(tmp_path):
    # The README's first command, as a user runs it (with a free port, since
    # :3000 may be taken here): it must answer, and stop cleanly on SIGTERM
    # (serve.sh execs the server, so the signal reaches it).
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(REPO / "scripts" / "serve.sh"), "--bind", "127.0.0.1",
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVE_STARTUP_S
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            status = subprocess.run(["curl", "-s", "-o", os.devnull, "-w", "%{http_code}",
                                     f"http://127.0.0.1:{port}/healthz"],
                                    capture_output=True, text=True).stdout
            if status == "200":
                break
            time.sleep(0.2)
        assert status == "200", log.read_text()[-3000:]
        bench = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/bench?threads=1"
                                "&iterations=1000"], capture_output=True, text=True)
        assert '"operations":1000' in bench.stdout, bench.stdout
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_every_flag_in_help_has_an_environment_variable():
    help_text = subprocess.run([str(BINARY), "--help"], check=True, capture_output=True,
                               text=True).stdout
    options = re.findall(r"^  (--[a-z-]+) \S+\s+([A-Z_]+)\s+default", help_text, re.M)
    assert len(options) >= 10
    for flag, env in options:
        # The variable is the flag's name in upper case, optionally with a
        # suffix that says more (TLS_CERT_FILE for --tls-cert).
        assert env.startswith(flag[2:].upper().replace("-", "_")), (flag, env)
