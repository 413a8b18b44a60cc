"""Every figure in the README and docs/ comes from a script's results file:
scripts/docs-figures.py --check holds each figures region to its
bench/results/*.md file and refuses a table of measured figures outside a
region. The other tests here prove the check fails when it should."""
import subprocess
import sys

from repo import REPO

TOOL = REPO / "scripts" / "docs-figures.py"

RESULTS = """# Foo benchmark

| server | req/s |
| --- | --- |
| tinyserver | 61,552 |

- Machine: test CPU, 2 CPUs available, Linux 6
- Command: `bench/foo.sh`
"""


def run(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)],
                          capture_output=True, text=True, check=False)


def tree(tmp_path, doc_text):
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "bench" / "results" / "foo.md").write_text(RESULTS)
    doc = tmp_path / "doc.md"
    doc.write_text(doc_text)
    return doc


REGION = "Intro.\n\n<!-- figures: bench/results/foo.md -->\n{}<!-- /figures -->\n\nAfter.\n"


def test_docs_figures_match_their_results_files():
    result = run("--check")
    assert result.returncode == 0, result.stderr


def test_write_copies_the_results_file_and_check_then_passes(tmp_path):
    doc = tree(tmp_path, REGION.format("stale\n"))
    assert run("--check", "--root", tmp_path, doc).returncode == 1
    written = run("--write", "--root", tmp_path, doc)
    assert written.returncode == 0, written.stderr
    text = doc.read_text()
    # The title line is left out; the table and the provenance are copied.
    assert "# Foo benchmark" not in text
    assert "| tinyserver | 61,552 |" in text and "- Command: `bench/foo.sh`" in text
    assert text.startswith("Intro.") and text.endswith("After.\n")
    checked = run("--check", "--root", tmp_path, doc)
    assert checked.returncode == 0, checked.stderr


def test_check_fails_on_a_drifted_copy_and_names_the_region(tmp_path):
    doc = tree(tmp_path, REGION.format("stale\n"))
    assert run("--write", "--root", tmp_path, doc).returncode == 0
    doc.write_text(doc.read_text().replace("61,552", "71,552"))
    result = run("--check", "--root", tmp_path, doc)
    assert result.returncode == 1
    assert "doc.md:3: region bench/results/foo.md differs" in result.stderr, result.stderr


def test_check_fails_on_a_missing_results_file_or_an_open_region(tmp_path):
    doc = tree(tmp_path, REGION.format("x\n").replace("foo.md", "gone.md"))
    result = run("--check", "--root", tmp_path, doc)
    assert result.returncode == 1 and "no such results file" in result.stderr, result.stderr
    doc.write_text("<!-- figures: bench/results/foo.md -->\n| a | 3 ms |\n")
    result = run("--check", "--root", tmp_path, doc)
    assert result.returncode == 1 and "never closed" in result.stderr, result.stderr


def test_check_fails_on_a_measured_table_outside_a_region(tmp_path):
    loose = "| server | rate |\n| --- | --- |\n| nginx | 92,000 req/s |\n"
    doc = tree(tmp_path, REGION.format("x\n") + "\n" + loose)
    assert run("--write", "--root", tmp_path, doc).returncode == 1
    result = run("--check", "--root", tmp_path, doc)
    assert result.returncode == 1
    assert "a table of measured figures outside a figures region: | server | rate |" \
        in result.stderr, result.stderr
    # A rate without a unit column counts too, and so does a header that names one.
    for table in ("| a | b |\n| --- | --- |\n| musl | 2.19M |\n",
                  "| build | idle RSS |\n| --- | --- |\n| mimalloc | 928 |\n"):
        doc.write_text(table)
        assert run("--check", "--root", tmp_path, doc).returncode == 1, table


def test_tables_that_measure_nothing_pass(tmp_path):
    doc = tree(tmp_path, "| route | status |\n| --- | --- |\n| /healthz | 200 |\n\n"
               "```text\n| server | 3 ms |\n| --- | --- |\n| x | 4 ms |\n```\n")
    result = run("--check", "--root", tmp_path, doc)
    assert result.returncode == 0, result.stderr
