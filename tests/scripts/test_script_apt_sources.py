"""scripts/lib/apt-sources.sh, the reader of apt's source files that
scripts/setup.sh (deb-src entries) and scripts/container-bases.sh (the
bootstrap mirror) share: run in bash on sample files of both formats, made
in a temporary folder."""
import subprocess
from repo import REPO

LIB = REPO / "scripts" / "lib"

# Prints each entry as a line, the fields separated by "|", a key written
# into the stanza with its newlines shown as "\n".
PRINT_ENTRIES = """
files=()
mapfile -t files < <(apt_source_files "$1" "${2:-}")
((${#files[@]} == 0)) || awk "$APT_SOURCES_AWK"'
function apt_entry(file, types, uris, suites, components, signed_by) {
    sub(/.*\\//, "", file)
    gsub(/\\n/, "\\\\n", signed_by)
    print file "|" types "|" uris "|" suites "|" components "|" signed_by
}' "${files[@]}"
"""

SOURCES_LIST = """\
# the one-line format
deb [arch=amd64 signed-by=/usr/share/keyrings/one.gpg] http://one.example/debian/ bookworm main contrib
deb-src http://one.example/debian bookworm main
#deb http://commented.example/debian bookworm main
deb [ arch=amd64 ] http://sec.example/debian-security bookworm-security main
"""

DEB822 = """\
Types: deb
# a comment inside the stanza
URIs: http://deb.example/debian http://mirror.example/debian
Suites: bookworm
 bookworm-updates
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGPL0BUBEADmW5Nd
 -----END PGP PUBLIC KEY BLOCK-----

Types: deb deb-src
URIs: http://off.example/debian
Suites: trixie
Components: main
Enabled: no

types:   deb
uris: http://other.example/x
suites: nodistro
components: main
"""


def make_etc_apt(root):
    (root / "sources.list.d").mkdir(parents=True)
    (root / "sources.list").write_text(SOURCES_LIST)
    (root / "sources.list.d" / "a.sources").write_text(DEB822)
    (root / "sources.list.d" / "b.list").write_text("deb http://b.example/debian sid main\n")
    (root / "sources.list.d" / "own.sources").write_text(
        "Types: deb-src\nURIs: http://own.example\nSuites: sid\nComponents: main\n")
    (root / "sources.list.d" / "c.list.disabled").write_text("deb http://no.example sid main\n")
    return root


def run(root, *exclude):
    result = subprocess.run(["bash", "-c", f"set -euo pipefail\n. '{LIB}/common.sh'\n"
                             f". '{LIB}/apt-sources.sh'\n{PRINT_ENTRIES}", "apt", str(root),
                             *map(str, exclude)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result
    return result.stdout.splitlines()


def test_both_formats_in_file_order_without_comments_or_disabled_stanzas(tmp_path):
    root = make_etc_apt(tmp_path / "apt")
    key = r"\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBGPL0BUBEADmW5Nd" \
        r"\n -----END PGP PUBLIC KEY BLOCK-----"
    assert run(root) == [
        "sources.list|deb|http://one.example/debian/|bookworm|main contrib"
        "|/usr/share/keyrings/one.gpg",
        "sources.list|deb-src|http://one.example/debian|bookworm|main|",
        "sources.list|deb|http://sec.example/debian-security|bookworm-security|main|",
        "b.list|deb|http://b.example/debian|sid|main|",
        "a.sources|deb|http://deb.example/debian http://mirror.example/debian"
        "|bookworm bookworm-updates|main|" + key,
        "a.sources|deb|http://other.example/x|nodistro|main|",
        "own.sources|deb-src|http://own.example|sid|main|",
    ]


def test_the_callers_own_file_is_left_out(tmp_path):
    root = make_etc_apt(tmp_path / "apt")
    entries = run(root, root / "sources.list.d" / "own.sources")
    assert not any(entry.startswith("own.sources|") for entry in entries), entries
    assert len(entries) == 6, entries


def test_no_source_files_no_entries(tmp_path):
    assert run(tmp_path) == []
