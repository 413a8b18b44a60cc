"""The page at / in a real browser: Debian's headless Chromium loads it from
the running server (so the Content-Security-Policy is enforced on its
inline script and style). The page starts a short comparison by itself,
then the test starts one and a thread sweep, and the drawn bars, points,
latency and memory panels and the table of figures are checked against
the JSON the page received. Each refusal /bench can give (a token, the
rate limit, a busy slot, a run it could not finish) gets its explanation.
TINYSERVER_PAGE_SCREENSHOT=path saves what the browser drew after the
first comparison (the README's picture is made so)."""
import math
import os
import pathlib
import re

import pytest

import webdriver
from binary import BENCH_ALLOCATORS, SANITIZER_BUILD
from curl import assert_json_error
from repo import REPO

pytestmark = pytest.mark.skipif(not webdriver.available(),
                                reason="needs chromium and chromium-driver (scripts/setup.sh test)")

# Small runs: the page is under test here, not the allocators.
FORM = {"workload": "seed", "threads": "2", "iterations": "20000", "repeat": "1"}
# What the page runs by itself as it loads (FIRST_RUN in the page).
FIRST_RUN = {"workload": "window", "threads": 2, "iterations": 10000, "repeat": 1}
# Generous: under the sanitizer musl's runs are slow, and the machine is shared.
RUN_TIMEOUT_S = 300 if SANITIZER_BUILD else 120


@pytest.fixture
def browser(tmp_path):
    driver = webdriver.Browser(tmp_path / "chromium-profile", tmp_path / "chromedriver.log")
    yield driver
    driver.close()


def fill_form(browser, values):
    browser.run("""
        for (const [name, value] of Object.entries(arguments[0])) {
            document.getElementById(name).value = value;
        }""", values)


def wait_done(browser, count, what):
    browser.wait_for("return window.tinyserverPage && window.tinyserverPage.done >= arguments[0];",
                     what, RUN_TIMEOUT_S, count)


def status(browser):
    return browser.run("""const s = document.getElementById('status');
                          return {text: s.textContent, kind: s.className};""")


def open_after_first_run(browser, url):
    """Opens the page and waits for the comparison it starts by itself."""
    browser.open(url)
    wait_done(browser, 1, "the comparison the page starts as it loads")


# The panels' figures, by the name the page gives them, read from one
# allocator's entry of the JSON.
LATENCY = {name: (lambda r, name=name: r["latency_ns"][name]) for name in ("p50", "p99", "max")}
MEMORY = {name: (lambda r, name=name: r["memory"][name])
          for name in ("peak_bytes", "retained_bytes", "retained_after_release_bytes")}
UNITS = {"ns": 1, "µs": 1e3, "ms": 1e6, "B": 1, "KiB": 1024, "MiB": 1024 * 1024}


def shown_value(label):
    """The number a label shows, in ns or bytes ("22.8 MiB", "−48.0 KiB")."""
    match = re.fullmatch(r"(−?)([\d.]+) (ns|µs|ms|B|KiB|MiB)", label)
    assert match, label
    return (-1 if match.group(1) else 1) * float(match.group(2)) * UNITS[match.group(3)]


def check_panels(browser, comparison):
    """The latency and memory bars and the table say what the JSON says."""
    drawn = browser.run("""
        return [...document.querySelectorAll('rect.figure-bar')].map(r => ({
            allocator: r.dataset.allocator, figure: r.dataset.figure,
            value: JSON.parse(r.dataset.value), width: r.width.baseVal.value,
            label: r.parentNode.querySelector(
                `text.figure-label[data-allocator="${r.dataset.allocator}"][data-figure="${r.dataset.figure}"]`
            ).textContent}));""")
    results = {r["bench_allocator"]: r for r in comparison["results"]}
    figures = {**LATENCY, **MEMORY}
    assert {(d["allocator"], d["figure"]) for d in drawn} == {
        (name, figure) for name in results for figure in figures}
    for bar in drawn:
        value = figures[bar["figure"]](results[bar["allocator"]])
        assert bar["value"] == value, bar
        if value is None:
            assert bar["label"] == "unavailable" and bar["width"] == 0, bar
            continue
        # The label shows the figure to 3 digits, in the unit it chose.
        assert shown_value(bar["label"]) == pytest.approx(value, rel=6e-3, abs=0.5), bar
    # Memory is linear from 0; latency is log10 from 10 ns: each bar's
    # length over the longest is its figure's share of the largest.
    for names, measure in ((MEMORY, lambda v: max(0, v)),
                           (LATENCY, lambda v: math.log10(max(v, 10)) - 1)):
        bars = [b for b in drawn if b["figure"] in names and b["value"] is not None]
        longest = max(bars, key=lambda b: b["width"])
        for bar in bars:
            if measure(longest["value"]) > 0:
                assert bar["width"] / longest["width"] == pytest.approx(
                    measure(bar["value"]) / measure(longest["value"]), abs=2e-3), bar
    cells = browser.run("""
        return [...document.querySelectorAll('#figures td')].map(c => ({
            allocator: c.dataset.allocator, figure: c.dataset.figure,
            value: JSON.parse(c.dataset.value), text: c.textContent}));""")
    table = {(c["allocator"], c["figure"]): c for c in cells}
    for name, result in results.items():
        for figure, value in (("operations per second", result["ops_per_sec"]),
                              ("latency, 99th percentile", result["latency_ns"]["p99"]),
                              ("peak memory above start", result["memory"]["peak_bytes"]),
                              ("kept after the release call",
                               result["memory"]["retained_after_release_bytes"]),
                              ("release call", result["memory"]["release"]),
                              ("minor page faults", result["cpu"]["minor_faults"]),
                              ("system CPU", result["cpu"]["system_ms"]),
                              ("mprotect calls", result["syscalls"]["mprotect"])):
            assert table[(name, figure)]["value"] == value, (name, figure)
        if comparison["workload"] == "window":
            cell = table[(name, "overhead: peak / live (window)")]
            assert cell["value"] == result["memory"]["overhead"]
            assert cell["text"] == f"{result['memory']['overhead']}×", cell
        assert table[(name, "operations per second")]["text"] == f"{result['ops_per_sec']:,}"


def test_page_is_served_to_browsers_only(server, curl):
    srv = server()
    page = curl(srv.url + "/", "--compressed", "-H",
                "Accept: text/html,application/xhtml+xml,*/*;q=0.8")
    assert page.status == 200, page.describe()
    assert page.headers["content-type"] == "text/html; charset=utf-8", page.describe()
    # Kept and sent gzip-compressed; curl --compressed gives back the source.
    assert page.headers["content-encoding"] == "gzip", page.describe()
    assert page.headers["vary"] == "Accept, Accept-Encoding", page.describe()
    assert page.body == (REPO / "src" / "app" / "page" / "index.html").read_bytes()
    assert page.size_download < len(page.body) / 2, page.size_download
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy, policy
    assert "unsafe" not in policy, policy
    body = page.body.decode()
    assert body.startswith("<!DOCTYPE html>") and "http://" not in body.replace(
        "http://www.w3.org/2000/svg", ""), body[:300]
    # curl's default Accept (any type) and JSON clients keep the JSON.
    assert curl(srv.url + "/").json["name"] == "tinyserver"
    assert curl(srv.url + "/", "-H", "Accept: application/json").json["name"] == "tinyserver"
    assert curl(srv.url + "/", "-H", "Accept: text/html;q=0").json["name"] == "tinyserver"
    # HTML asked for without gzip (curl without --compressed, identity only)
    # gets the JSON, never compressed bytes it did not ask for.
    plain = curl(srv.url + "/", "-H", "Accept: text/html")
    assert plain.json["name"] == "tinyserver" and "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept, Accept-Encoding", plain.describe()
    assert curl(srv.url + "/", "-H", "Accept: text/html", "-H",
                "Accept-Encoding: gzip;q=0, identity").json["name"] == "tinyserver"


def test_page_compares_allocators_in_chromium(server, browser, tmp_path):
    srv = server()
    open_after_first_run(browser, srv.url + "/")
    # Without a click, the page ran the short comparison and drew it.
    first = browser.run("return window.tinyserverPage.comparison;")
    assert first is not None, status(browser)
    assert {key: first[key] for key in FIRST_RUN} == FIRST_RUN
    assert first["bench_allocator"] == "all"
    assert [r["bench_allocator"] for r in first["results"]] == BENCH_ALLOCATORS
    assert browser.run("return document.getElementById('bars-section').hidden;") is False
    check_panels(browser, first)
    # The README's picture: what a visitor sees first.
    shot = os.environ.get("TINYSERVER_PAGE_SCREENSHOT")
    browser.screenshot(pathlib.Path(shot) if shot else tmp_path / "page.png")
    # The build facts arrive only if the hashed inline script was allowed.
    facts = browser.wait_for("""
        const dd = [...document.querySelectorAll('#facts dd')].map(e => e.textContent);
        return dd.length >= 4 ? dd : null;""", "the build facts", 30)
    assert any("musl" in fact or "glibc" in fact for fact in facts), facts
    assert browser.run("return getComputedStyle(document.body).maxWidth;") == "880px", \
        "the inline style was blocked"

    fill_form(browser, FORM)
    browser.click("#run")
    wait_done(browser, 2, "the comparison")
    assert status(browser)["text"].startswith("Done"), status(browser)
    comparison = browser.run("return window.tinyserverPage.comparison;")
    assert comparison["workload"] == "seed" and comparison["iterations"] == 20000
    check_panels(browser, comparison)
    bars = browser.run("""
        return [...document.querySelectorAll('#bars rect.bar')].map(r => ({
            allocator: r.dataset.allocator, ops: Number(r.dataset.ops),
            width: r.width.baseVal.value,
            label: document.querySelector(`#bars text.bar-label[data-allocator="${r.dataset.allocator}"]`).textContent}));""")
    results = comparison["results"]
    assert [r["bench_allocator"] for r in results] == BENCH_ALLOCATORS
    assert [b["allocator"] for b in bars] == BENCH_ALLOCATORS
    fastest = max(r["ops_per_sec"] for r in results)
    widest = max(b["width"] for b in bars)
    for bar, result in zip(bars, results):
        assert result["runs"][0]["total_counter"] == 2 * 20000
        assert bar["ops"] == result["ops_per_sec"]
        # Lengths are proportional to the rates the JSON gave.
        assert bar["width"] / widest == pytest.approx(result["ops_per_sec"] / fastest,
                                                      abs=2e-3), bar
        if "ratio_vs_musl" in result:
            assert f"{result['ratio_vs_musl']:g}× musl" in bar["label"], bar

    browser.click("#sweep")
    wait_done(browser, 3, "the thread sweep")
    sweep = browser.run("return window.tinyserverPage.sweep;")
    cpus = browser.run("return window.tinyserverPage.cpus;")
    threads = [point["threads"] for point in sweep]
    assert threads[0] == 1 and threads[-1] == 2 * cpus, threads
    points = browser.run("""
        return [...document.querySelectorAll('#sweep-chart circle.point')].map(c => ({
            allocator: c.dataset.allocator, threads: Number(c.dataset.threads),
            ops: Number(c.dataset.ops), cy: c.cy.baseVal.value}));""")
    expected = {(r["bench_allocator"], p["threads"]): r["ops_per_sec"]
                for p in sweep for r in p["results"]}
    drawn = {(p["allocator"], p["threads"]): p for p in points}
    assert set(drawn) == set(expected)
    for key, ops in expected.items():
        assert drawn[key]["ops"] == ops, key
    # Log scale: the height between two points is proportional to the log
    # of their rates' ratio, with one factor for the whole chart.
    ordered = sorted(drawn.values(), key=lambda p: p["ops"])
    low, high = ordered[0], ordered[-1]
    if high["ops"] > low["ops"]:
        per_decade = (low["cy"] - high["cy"]) / math.log10(high["ops"] / low["ops"])
        assert per_decade > 0
        for point in ordered:
            assert low["cy"] - point["cy"] == pytest.approx(
                per_decade * math.log10(point["ops"] / low["ops"]), abs=0.5), point


def test_page_explains_429_and_retries(server, curl, browser, long_bench_iterations):
    srv = server("--max-bench-iterations", "1000000000")
    open_after_first_run(browser, srv.url + "/")
    base = srv.thread_count()
    long_run = curl.start(f"{srv.url}/bench?threads=2&iterations={long_bench_iterations}")
    try:
        srv.wait_for_threads(base + 3, while_running=[long_run])
        assert_json_error(curl(srv.url + "/bench?iterations=1"), 429)
        fill_form(browser, FORM)
        browser.click("#run")
        explained = browser.wait_for("""
            const s = document.getElementById('status');
            return s.className.includes('refused') ? s.textContent : null;""",
                                     "the 429 explanation", 30)
        assert "Another benchmark is running" in explained, explained
    finally:
        assert long_run.result().status == 200
    # Once the slot is free, the page's retry gets through.
    wait_done(browser, 2, "the retried comparison")
    assert browser.run("return document.getElementById('status').textContent;").startswith("Done")
    assert browser.run("return window.tinyserverPage.comparison.results.length;") == len(
        BENCH_ALLOCATORS)


def test_page_asks_politely_for_a_token_and_uses_the_one_given(server, browser, token):
    value, path = token
    srv = server("--bench-token-file", str(path))
    open_after_first_run(browser, srv.url + "/")
    shown = status(browser)
    assert browser.run("return window.tinyserverPage.refusal;") == {"status": 401, "kind": "token"}
    assert "refused" in shown["kind"], shown
    assert "asks for a token" in shown["text"] and "enter it above" in shown["text"], shown
    # Nothing was drawn from a refusal.
    assert browser.run("return window.tinyserverPage.comparison;") is None
    assert browser.run("return document.getElementById('bars-section').hidden;") is True
    fill_form(browser, {**FORM, "token": value})
    browser.click("#run")
    wait_done(browser, 2, "the comparison with the token")
    assert status(browser)["text"].startswith("Done"), status(browser)
    assert browser.run("return window.tinyserverPage.comparison.results.length;") == len(
        BENCH_ALLOCATORS)


def test_page_explains_the_rate_limit_without_retrying(server, browser):
    # A burst of one: the page's own first comparison takes it.
    srv = server("--bench-rate", "1/h")
    open_after_first_run(browser, srv.url + "/")
    assert status(browser)["text"].startswith("Done"), status(browser)
    fill_form(browser, FORM)
    browser.click("#run")
    wait_done(browser, 2, "the refused comparison")
    shown = status(browser)
    assert browser.run("return window.tinyserverPage.refusal;") == {"status": 429, "kind": "rate"}
    assert "limits how often one address" in shown["text"], shown
    # Retry-After for a 1/h bucket is up to an hour: said, not waited out.
    seconds = int(re.search(r"again in (\d+) s", shown["text"]).group(1))
    assert 1 <= seconds <= 3600, shown
    assert browser.run("return document.getElementById('run').disabled;") is False


def test_page_explains_a_run_the_server_cut_short(server, browser):
    srv = server("--max-bench-seconds", "1", "--max-bench-iterations", "1000000000")
    open_after_first_run(browser, srv.url + "/")
    # Hundreds of seconds of work on any allocator: cut short at 1 s.
    fill_form(browser, {**FORM, "iterations": "1000000000"})
    browser.click("#run")
    wait_done(browser, 2, "the comparison cut short")
    shown = status(browser)
    assert browser.run("return window.tinyserverPage.refusal;") == {"status": 503,
                                                                    "kind": "unavailable"}
    assert "failed" in shown["kind"], shown
    assert "could not finish the comparison" in shown["text"] and "cut short" in shown["text"], shown
