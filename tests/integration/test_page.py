"""The page at / in a real browser: Debian's headless Chromium loads it from
the running server (so the Content-Security-Policy is enforced on its
inline script and style), starts a comparison and a thread sweep, and the
drawn bars and points are checked against the JSON the page received.
TINYSERVER_PAGE_SCREENSHOT=path saves what the browser drew (the README's
picture is made so)."""
import math
import os
import pathlib

import pytest

import webdriver
from binary import BENCH_ALLOCATORS, SANITIZER_BUILD
from curl import assert_json_error

pytestmark = pytest.mark.skipif(not webdriver.available(),
                                reason="needs chromium and chromium-driver (scripts/setup.sh test)")

# Small runs: the page is under test here, not the allocators.
FORM = {"workload": "seed", "threads": "2", "iterations": "20000", "repeat": "1"}
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


def test_page_is_served_to_browsers_only(server, curl):
    srv = server()
    page = curl(srv.url + "/", "-H", "Accept: text/html,application/xhtml+xml,*/*;q=0.8")
    assert page.status == 200, page.describe()
    assert page.headers["content-type"] == "text/html; charset=utf-8", page.describe()
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


def test_page_compares_allocators_in_chromium(server, browser, tmp_path):
    srv = server()
    browser.open(srv.url + "/")
    # The build facts arrive only if the hashed inline script was allowed.
    facts = browser.wait_for("""
        const dd = [...document.querySelectorAll('#facts dd')].map(e => e.textContent);
        return dd.length >= 4 ? dd : null;""", "the build facts", 30)
    assert any("musl" in fact or "glibc" in fact for fact in facts), facts
    assert browser.run("return getComputedStyle(document.body).maxWidth;") == "880px", \
        "the inline style was blocked"

    fill_form(browser, FORM)
    browser.click("#run")
    wait_done(browser, 1, "the comparison")
    status = browser.run("return document.getElementById('status').textContent;")
    assert status.startswith("Done"), status
    comparison = browser.run("return window.tinyserverPage.comparison;")
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
    wait_done(browser, 2, "the thread sweep")
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
    shot = os.environ.get("TINYSERVER_PAGE_SCREENSHOT")
    browser.screenshot(pathlib.Path(shot) if shot else tmp_path / "page.png")


def test_page_explains_429_and_retries(server, curl, browser, long_bench_iterations):
    srv = server("--max-bench-iterations", "1000000000")
    browser.open(srv.url + "/")
    browser.wait_for("return document.querySelectorAll('#facts dd').length >= 4;",
                     "the build facts", 30)
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
    wait_done(browser, 1, "the retried comparison")
    assert browser.run("return document.getElementById('status').textContent;").startswith("Done")
    assert browser.run("return window.tinyserverPage.comparison.results.length;") == len(
        BENCH_ALLOCATORS)
