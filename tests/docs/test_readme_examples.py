"""The README's examples run against the built binary. Every ```sh block is
one command, followed by the output it shows in a ```json, ```http or
```text block; the test runs the command (localhost:3000 becomes a server
of the build under test on a free port, build/src/tinyserver that build)
and compares the shape of what it really printed: the status line and the
header names (and the values of the headers that matter), the JSON fields
and their types, lists of the same length, strings equal once digits are
set aside. A block the test cannot run (a container engine, a benchmark
that takes minutes) is marked in the Markdown source, just above it, with
<!-- example: not run (REASON) -->.

The routes table is held to the route table the binary reports in GET /."""
import json
import re
import subprocess

import pytest

from binary import ALLOCATOR_VARIANT, BINARY
from repo import REPO

README = REPO / "README.md"
NOT_RUN = re.compile(r"^<!-- example: not run \((.+)\) -->$")
OUTPUT_KINDS = ("json", "http", "text")
# Header values the examples promise; other headers (Date, Content-Length)
# must be there, with any value.
STABLE_HEADERS = {"content-type", "cache-control", "allow", "retry-after", "www-authenticate",
                  "connection"}
EXAMPLE_TIMEOUT_S = 120
# The README shows the default build's output (mimalloc, three allocators in
# one binary, static musl); other variants and the sanitizer build answer
# with other fields and values, and run only the routes table checks.
readme_build = pytest.mark.skipif(ALLOCATOR_VARIANT != "mimalloc",
                                  reason="the README shows the default (mimalloc) build")


class Example:
    def __init__(self, line, command, kind, shown):
        self.line, self.command, self.kind, self.shown = line, command, kind, shown

    def __repr__(self):
        return f"README.md:{self.line}: {self.command}"


def fenced_blocks(lines):
    """(line number, language, text, not-run reason) of each fenced block."""
    blocks, i = [], 0
    while i < len(lines):
        match = re.match(r"^```(\w*)$", lines[i])
        if not match:
            i += 1
            continue
        start, language = i, match.group(1)
        i += 1
        body = []
        while i < len(lines) and lines[i] != "```":
            body.append(lines[i])
            i += 1
        previous = lines[start - 1] if start > 0 else ""
        marker = NOT_RUN.match(previous)
        blocks.append((start + 1, language, "\n".join(body) + "\n",
                       marker.group(1) if marker else None, i + 1))
        i += 1
    return blocks


def readme_examples():
    """The README's runnable examples, and its not-run blocks' reasons."""
    blocks = fenced_blocks(README.read_text().splitlines())
    examples, skipped = [], []
    for index, (line, language, text, reason, end) in enumerate(blocks):
        if language != "sh":
            continue
        if reason is not None:
            skipped.append((line, reason))
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        assert following and following[0] == end + 1 and following[1] in OUTPUT_KINDS, (
            f"README.md:{line}: a ```sh example needs its output right after it, in a"
            f" ```json, ```http or ```text block, or the marker <!-- example: not run (REASON) -->")
        command = text.replace("\\\n", " ").strip()
        assert "\n" not in command, f"README.md:{line}: one command per example"
        examples.append(Example(line, command, following[1], following[2]))
    return examples, skipped


EXAMPLES, SKIPPED = readme_examples()


def normalised(text):
    return re.sub(r"\d+", "N", text)


def same_shape(shown, real, where="$"):
    """Fails naming the first place where real differs from shown in shape."""
    if isinstance(shown, dict):
        assert isinstance(real, dict), f"{where}: {real!r} is not an object"
        assert list(real) == list(shown), f"{where}: fields {list(real)}, README shows {list(shown)}"
        for key in shown:
            same_shape(shown[key], real[key], f"{where}.{key}")
    elif isinstance(shown, list):
        assert isinstance(real, list) and len(real) == len(shown), f"{where}: {real!r}"
        for i, (a, b) in enumerate(zip(shown, real)):
            same_shape(a, b, f"{where}[{i}]")
    elif isinstance(shown, bool) or shown is None:
        assert real == shown, f"{where}: {real!r}, README shows {shown!r}"
    elif isinstance(shown, (int, float)):
        assert isinstance(real, (int, float)) and not isinstance(real, bool), f"{where}: {real!r}"
    else:
        assert isinstance(real, str) and normalised(real) == normalised(shown), (
            f"{where}: {real!r}, README shows {shown!r}")


def http_parts(text):
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    status, *header_lines = head.splitlines()
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body.strip()


def compare(example, real):
    if example.kind == "json":
        same_shape(json.loads(example.shown), json.loads(real))
    elif example.kind == "http":
        shown_status, shown_headers, shown_body = http_parts(example.shown)
        status, headers, body = http_parts(real)
        assert status == shown_status, real
        assert sorted(headers) == sorted(shown_headers), (
            f"headers {sorted(headers)}, README shows {sorted(shown_headers)}")
        for name in STABLE_HEADERS & set(shown_headers):
            assert headers[name] == shown_headers[name], (name, headers[name])
        if shown_body:
            same_shape(json.loads(shown_body), json.loads(body))
    else:
        real_lines = {normalised(line) for line in real.splitlines()}
        for line in example.shown.splitlines():
            assert normalised(line) in real_lines, f"{line!r} not in the output:\n{real}"


@pytest.fixture(scope="module")
def readme_server(shared_server):
    return shared_server


def test_the_readme_has_runnable_examples_and_says_why_the_others_are_not_run():
    commands = [example.command for example in EXAMPLES]
    assert any("allocator=all" in command for command in commands), commands
    assert any(command.startswith("curl -si ") for command in commands), commands
    assert SKIPPED, "no block marked as not run: the Docker ones should be"
    for line, reason in SKIPPED:
        assert len(reason) > 10, f"README.md:{line}: say why it is not run"


@readme_build
@pytest.mark.parametrize("example", EXAMPLES, ids=[f"line{e.line}" for e in EXAMPLES])
def test_readme_example_prints_what_the_readme_shows(example, readme_server):
    command = example.command.replace("localhost:3000", readme_server.url[len("http://"):])
    command = command.replace("build/src/tinyserver", str(BINARY))
    assert "localhost" not in command, f"{example}: runs against a fixed address"
    result = subprocess.run(["bash", "-c", "set -o pipefail; " + command], cwd=REPO,
                            capture_output=True, text=True, timeout=EXAMPLE_TIMEOUT_S,
                            check=False)
    assert result.returncode == 0, f"{example}: exit {result.returncode}: {result.stderr}"
    compare(example, result.stdout)


def routes_table():
    text = README.read_text()
    header = "| Route | Methods | Statuses |"
    assert header in text, "the README's routes table is missing"
    rows = text.split(header, 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_readme_routes_table_is_the_route_table_of_the_binary(readme_server, curl):
    index = curl(readme_server.url + "/").json
    reported = {e["path"]: (e["methods"], e["statuses"]) for e in index["endpoints"]}
    table = {}
    for route, methods, statuses in routes_table():
        codes = [int(code) for code in statuses.split(", ")]
        if route.startswith("`"):
            table[route.strip("`")] = (methods, codes)
    assert table == reported


def test_readme_routes_table_rows_for_unmatched_paths_and_unknown_methods(readme_server, curl):
    rows = {route: (methods, statuses) for route, methods, statuses in routes_table()}
    assert rows["any other path"] == ("any", "404")
    assert curl(readme_server.url + "/no-such-path").status == 404
    unknown = [r for r in rows if r == "any route"]
    assert unknown and rows["any route"][1] == "501", rows
    assert curl(readme_server.url + "/healthz", "-X", "FOO").status == 501


@readme_build
def test_the_comparison_fails_on_a_drifted_example(readme_server, curl):
    # The case: an example that leaves out the Date header the real
    # answer has; and a JSON example with a field renamed or a list cut.
    real = subprocess.run(["curl", "-si", readme_server.url + "/healthz"], capture_output=True,
                          text=True, check=True).stdout
    shown = real.replace("\r\n", "\n")
    compare(Example(0, "", "http", shown), real)
    without_date = re.sub(r"^Date: .*\n", "", shown, flags=re.M)
    with pytest.raises(AssertionError, match="headers"):
        compare(Example(0, "", "http", without_date), real)
    other_type = shown.replace("application/json", "text/plain")
    with pytest.raises(AssertionError, match="content-type"):
        compare(Example(0, "", "http", other_type), real)
    body = curl(readme_server.url + "/bench?allocator=all&iterations=1000").body.decode()
    compare(Example(0, "", "json", body), body)
    with pytest.raises(AssertionError, match="fields"):
        compare(Example(0, "", "json", body.replace('"ratio_vs_musl"', '"ratio"')), body)
    fewer = json.loads(body)
    fewer["results"].pop()
    with pytest.raises(AssertionError, match=r"\$\.results"):
        compare(Example(0, "", "json", json.dumps(fewer)), body)
