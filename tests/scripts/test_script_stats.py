"""scripts/lib/stats.sh, the median, range and ratio that bench/compare.sh,
footprint.sh, http.sh and tls.sh report: run in bash as those scripts run
it, against values worked out by hand."""
import subprocess
from repo import REPO

LIB = REPO / "scripts" / "lib"


def bash(script, *args, stdin=""):
    return subprocess.run(["bash", "-c", f"set -euo pipefail\n. '{LIB}/common.sh'\n"
                           f". '{LIB}/stats.sh'\n{script}", "stats", *args],
                          input=stdin, capture_output=True, text=True, timeout=30)


def median_range(numbers, *fmt):
    result = bash('median_range "$@"', *fmt, stdin="".join(f"{n}\n" for n in numbers))
    assert result.returncode == 0, result
    return result.stdout


def test_an_odd_count_gives_the_middle_one_and_the_ends_as_written():
    assert median_range(["10", "2", "9.50", "-3", "7"]) == "7 -3 10\n"
    assert median_range(["4.20"]) == "4.20 4.20 4.20\n"


def test_an_even_count_gives_the_mean_of_the_middle_two():
    assert median_range(["1", "10", "2", "3"]) == "2.5 1 10\n"
    # Digits enough to carry the double exactly: the caller rounds once.
    assert median_range(["1.1", "1.2"]) == "1.1499999999999999 1.1 1.2\n"


def test_the_sort_is_by_value_not_by_text():
    assert median_range(["9", "10", "100", "11"]) == "10.5 9 100\n"
    assert median_range(["1e3", "20", "300"]) == "300 20 1e3\n"


def test_a_format_applies_to_all_three():
    assert median_range(["1.1", "1.2"], "%.2f") == "1.15 1.10 1.20\n"
    assert median_range(["12345.6", "12000.1", "1300000"], "%.6g") == \
        "12345.6 12000.1 1.3e+06\n"
    assert median_range(["999.4", "1000.6", "3"], "%.0f") == "999 3 1001\n"


def test_median_alone():
    result = bash('median "$@"', "%.3f", stdin="0.5\n0.25\n")
    assert result.returncode == 0 and result.stdout == "0.375\n", result


def test_no_numbers_is_an_error():
    result = bash("median_range")
    assert result.returncode == 1 and "no numbers" in result.stderr and not result.stdout


def test_ratio_rounds_to_the_decimals_asked():
    cases = {("3", "2"): "1.50x", ("1", "3"): "0.33x", ("2", "3"): "0.67x",
             ("2", "3", "1"): "0.7x", ("150", "1", "0"): "150x", ("1", "1"): "1.00x",
             ("1.016", "1"): "1.02x", ("1.014", "1"): "1.01x"}
    for args, expected in cases.items():
        result = bash('ratio "$@"', *args)
        assert result.returncode == 0 and result.stdout == expected + "\n", (args, result)


def test_ratio_to_nothing_is_not_a_number():
    for base in ("0", "-2"):
        result = bash('ratio 5 "$1"', base)
        assert result.returncode == 0 and result.stdout == "n/a\n", (base, result)


def test_the_awk_functions_serve_an_awk_program_of_its_own():
    """As bench/compare.sh uses them: a median per key, over a local array."""
    script = """awk -F, "$STATS_AWK"'
        { i = ++n[$1]; v[$1, i] = $2 }
        function median(key,   i, s) {
            for (i = 1; i <= n[key]; i++) s[i] = v[key, i]
            sort_numbers(s, n[key])
            return median_of(s, n[key])
        }
        END { print median("a"), median("b"), ratio_of(median("b"), median("a"), 1) }'"""
    result = bash(script, stdin="a,3\nb,10\na,1\nb,30\na,2\n")
    assert result.returncode == 0 and result.stdout == "2 20 10.0x\n", result
