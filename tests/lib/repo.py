"""The source tree and the build directory the tests read.

Environment:
  TINYSERVER_BUILD  the Meson build directory (default: <repo>/build): its
                    unit programs and drivers.
"""
import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("TINYSERVER_BUILD", REPO / "build"))


def project_version():
    """The version the build should report: meson.build's project() version."""
    text = (REPO / "meson.build").read_text()
    match = re.search(r"project\([^)]*?\bversion:\s*'([^']+)'", text, re.DOTALL)
    assert match, "no version in meson.build's project()"
    return match.group(1)
