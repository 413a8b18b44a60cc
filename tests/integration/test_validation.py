"""GET /bench rejects every malformed parameter with 400 JSON naming it.

The query text below is sent as-is by curl (no --data-urlencode), so the
percent escapes reach the server exactly as written.
"""
import pytest

from curl import assert_json_error
from server import default_max_bench_threads

DEFAULT_CAPS = {"threads": default_max_bench_threads(), "iterations": 10_000_000}


def bad_values(name):
    """(query, id) pairs, each a bad value for parameter `name`."""
    cap = DEFAULT_CAPS[name]
    return [
        (f"{name}=", "empty"),
        (f"{name}", "no-value"),
        (f"{name}=abc", "letters"),
        (f"{name}=12abc", "trailing-letters"),
        (f"{name}=-1", "negative"),
        (f"{name}=+1", "plus-decodes-to-space"),  # '+' in a query means ' '
        (f"{name}=%2B1", "explicit-plus"),
        (f"{name}=%201", "leading-space"),
        (f"{name}=1%20", "trailing-space"),
        (f"{name}=1.5", "fraction"),
        (f"{name}=1e3", "exponent"),
        (f"{name}=0x10", "hex"),
        (f"{name}=4294967296", "2^32"),
        (f"{name}=4294967297", "2^32+1-wraps-to-1"),
        (f"{name}=18446744073709551616", "2^64"),
        (f"{name}=18446744073709551617", "2^64+1-wraps-to-1"),
        (f"{name}=123456789012345678901234567890", "30-digits"),
        (f"{name}=0", "zero"),
        (f"{name}=00", "zeros"),
        (f"{name}={cap + 1}", "above-cap"),
        (f"{name}=1&{name}=2", "repeated"),
        (f"{name}=1&{name}=1", "repeated-same"),
        (f"{name}=1%002", "embedded-nul"),
        (f"{name}=1%00", "trailing-nul"),  # strlen() would see a valid "1"
    ]


# Bad workload values, and workload combinations that name another parameter.
BAD_WORKLOAD_QUERIES = [
    ("workload=", "workload", "empty"),
    ("workload", "workload", "no-value"),
    ("workload=nope", "workload", "unknown"),
    ("workload=SEED", "workload", "upper-case"),
    ("workload=seed%20", "workload", "trailing-space"),
    ("workload=seed%00", "workload", "trailing-nul"),  # strcmp() would see "seed"
    ("workload=seed&workload=larson", "workload", "repeated"),
    ("workload=seed,larson", "workload", "list"),
    ("workload=xthread&threads=1", "threads", "xthread-one-thread"),
]

# Bad allocator and repeat values.
BAD_ALLOCATOR_QUERIES = [
    ("allocator=", "allocator", "empty"),
    ("allocator", "allocator", "no-value"),
    ("allocator=tcmalloc", "allocator", "unknown"),
    ("allocator=ALL", "allocator", "upper-case"),
    ("allocator=musl%20", "allocator", "trailing-space"),
    ("allocator=all%00", "allocator", "trailing-nul"),
    ("allocator=all&allocator=all", "allocator", "repeated"),
    ("allocator=musl,mimalloc", "allocator", "list"),
    ("repeat=2", "repeat", "repeat-without-all"),
    ("allocator=all&repeat=0", "repeat", "repeat-zero"),
    ("allocator=all&repeat=11", "repeat", "repeat-above-cap"),
    ("allocator=all&repeat=x", "repeat", "repeat-letters"),
    ("allocator=all&repeat=2&repeat=2", "repeat", "repeat-repeated"),
]

# The window workload's parameters: bounds, order, and their workload.
BAD_WINDOW_QUERIES = [
    ("workload=window&slots=0", "slots", "slots-zero"),
    ("workload=window&slots=65537", "slots", "slots-above-cap"),
    ("workload=window&slots=", "slots", "slots-empty"),
    ("workload=window&slots=1e3", "slots", "slots-exponent"),
    ("workload=window&min_block=0", "min_block", "min-block-zero"),
    ("workload=window&max_block=16777217", "max_block", "max-block-above-cap"),
    ("workload=window&min_block=2000&max_block=1000", "min_block", "min-above-max"),
    ("workload=window&min_block=300000", "min_block", "min-above-default-max"),
    ("workload=window&slots=4&slots=4", "slots", "slots-repeated"),
    ("slots=4", "slots", "slots-without-window"),
    ("workload=larson&min_block=8", "min_block", "min-block-with-larson"),
    ("max_block=8&workload=seed", "max_block", "max-block-with-seed"),
]

BAD_QUERIES = [pytest.param(query, name, id=f"{name}-{label}")
               for name in DEFAULT_CAPS for query, label in bad_values(name)] + [
    pytest.param(query, name, id=f"workload-{label}")
    for query, name, label in BAD_WORKLOAD_QUERIES] + [
    pytest.param(query, name, id=label) for query, name, label in BAD_ALLOCATOR_QUERIES] + [
    pytest.param(query, name, id=f"window-{label}") for query, name, label in BAD_WINDOW_QUERIES]


def assert_rejected(result, parameter):
    assert_json_error(result, 400)
    assert result.json.get("parameter") == parameter, result.describe()


@pytest.mark.parametrize("query, parameter", BAD_QUERIES)
def test_bad_value_is_400_naming_parameter(shared_server, curl, query, parameter):
    assert_rejected(curl(f"{shared_server.url}/bench?{query}"), parameter)


@pytest.mark.parametrize("query, parameter", [
    ("foo=1", "foo"),
    ("threads=1&foo=1", "foo"),
    ("Threads=1", "Threads"),  # names are case-sensitive
    ("threads=1&iterations=1&x", "x"),
])
def test_unknown_parameter_is_400_naming_it(shared_server, curl, query, parameter):
    assert_rejected(curl(f"{shared_server.url}/bench?{query}"), parameter)


def many_params(count):
    return "&".join(f"p{i}=1" for i in range(count))


def test_sixteen_parameters_reach_validation(shared_server, curl):
    # The limit is 16: sixteen unknown names are judged one by one.
    assert_rejected(curl(f"{shared_server.url}/bench?{many_params(16)}"), "p0")


def test_seventeen_parameters_are_too_many(shared_server, curl):
    result = curl(f"{shared_server.url}/bench?{many_params(17)}")
    assert_json_error(result, 400)
    assert "too many" in result.json["error"], result.describe()


def test_nul_in_parameter_name_is_400(shared_server, curl):
    assert_json_error(curl(f"{shared_server.url}/bench?thr%00eads=1"), 400)


@pytest.mark.parametrize("query, threads, iterations", [
    (f"threads={DEFAULT_CAPS['threads']}&iterations=10", DEFAULT_CAPS["threads"], 10),
    ("threads=1&iterations=10000000", 1, 10_000_000),
    ("threads=1&iterations=1", 1, 1),
    ("iterations=7&threads=2", 2, 7),
])
def test_boundary_values_are_accepted(shared_server, curl, query, threads, iterations):
    result = curl(f"{shared_server.url}/bench?{query}")
    assert result.status == 200, result.describe()
    assert result.json["threads"] == threads
    assert result.json["iterations"] == iterations
    assert result.json["total_counter"] == threads * iterations


def test_server_survives_every_bad_input(server, curl):
    """All the bad inputs against one fresh server, then it must still be
    healthy and still run a valid benchmark."""
    srv = server()
    for param in BAD_QUERIES:
        query, _ = param.values
        assert curl(f"{srv.url}/bench?{query}").status == 400, query
    for query in ["foo=1", many_params(17), "thr%00eads=1"]:
        assert curl(f"{srv.url}/bench?{query}").status == 400, query
    health = curl(srv.url + "/healthz")
    assert health.status == 200 and health.json == {"status": "ok"}, health.describe()
    bench = curl(srv.url + "/bench?threads=2&iterations=1000")
    assert bench.status == 200, bench.describe()
    assert bench.json["total_counter"] == 2000


def test_xthread_needs_two_threads_even_by_default(server, curl):
    # A thread cap of 1 leaves xthread no valid thread count at all.
    srv = server("--max-bench-threads", "1")
    assert_rejected(curl(f"{srv.url}/bench?workload=xthread"), "threads")
    ok = curl(f"{srv.url}/bench?workload=larson&iterations=10")
    assert ok.status == 200, ok.describe()
    assert (ok.json["workload"], ok.json["threads"]) == ("larson", 1)


def test_caps_are_configurable(server, curl):
    # One cap from a flag, the other from the environment.
    srv = server("--max-bench-threads", "4", env={"MAX_BENCH_ITERATIONS": "1000"})
    assert_rejected(curl(f"{srv.url}/bench?threads=5&iterations=10"), "threads")
    assert_rejected(curl(f"{srv.url}/bench?threads=1&iterations=1001"), "iterations")
    ok = curl(f"{srv.url}/bench?threads=4&iterations=1000")
    assert ok.status == 200, ok.describe()
    assert (ok.json["threads"], ok.json["iterations"]) == (4, 1000)
    assert ok.json["total_counter"] == 4000
    # The default iterations (100000) is lowered to the cap, not rejected.
    default = curl(f"{srv.url}/bench?threads=1")
    assert default.status == 200, default.describe()
    assert default.json["iterations"] == 1000
