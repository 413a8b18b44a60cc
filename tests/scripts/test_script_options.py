"""scripts/lib/common.sh's parse_options and need_positive_int, which the
bench scripts and most of scripts/ parse their command lines with: run in
bash as a script would, with the script's own usage()."""
import subprocess

from repo import REPO

COMMON = REPO / "scripts" / "lib" / "common.sh"


def script(usage, body):
    """A script as the repository's are: strict mode, common.sh, its usage()."""
    return f"set -euo pipefail\n. '{COMMON}'\nusage() {{ echo '{usage}'; }}\n{body}"


SCRIPT = script("usage: demo", """
rounds=7 out=results quick=0
parse_options "--rounds=rounds --out=out --quick=quick:1" "$@"
need_positive_int "$rounds"
echo "rounds=$rounds out=$out quick=$quick"
""")

# As scripts/setup.sh has it: inside a function, into its local variables.
REST_SCRIPT = script("usage: demo [--dry-run] NAME...", """
main() {
	local dry=0 names=()
	parse_options "--dry-run=dry:1 @=names" "$@"
	echo "dry=$dry names=${#names[@]}:${names[*]}"
}
main "$@"
""")


def run(*args, source=SCRIPT):
    return subprocess.run(["bash", "-c", source, "demo", *args], capture_output=True,
                          text=True, timeout=30)


def test_defaults_stay_without_options():
    result = run()
    assert result.returncode == 0 and result.stdout == "rounds=7 out=results quick=0\n", result


def test_values_and_flags_set_the_named_variables():
    result = run("--quick", "--out", "a b", "--rounds", "3")
    assert result.returncode == 0 and result.stdout == "rounds=3 out=a b quick=1\n", result


def test_help_prints_usage_and_exits_0():
    result = run("--rounds", "3", "--help")
    assert result.returncode == 0 and result.stdout == "usage: demo\n", result


def test_an_unknown_option_is_a_usage_error():
    result = run("--round", "3")
    assert result.returncode == 2 and result.stderr == "usage: demo\n" and not result.stdout


def test_a_missing_value_is_named():
    result = run("--out")
    assert result.returncode == 1 and "--out needs a value" in result.stderr, result


def test_a_value_that_is_not_a_positive_integer_is_refused():
    for value in ("0", "-1", "3x", ""):
        result = run("--rounds", value)
        assert result.returncode == 1, (value, result)
        assert f"'{value}' is not a positive integer" in result.stderr, (value, result)


def test_arguments_that_are_not_options_go_onto_the_array_in_order():
    result = run("b", "--dry-run", "a b", "c", source=REST_SCRIPT)
    assert result.returncode == 0 and result.stdout == "dry=1 names=3:b a b c\n", result
    result = run(source=REST_SCRIPT)
    assert result.returncode == 0 and result.stdout == "dry=0 names=0:\n", result


def test_with_an_array_an_unknown_option_is_still_a_usage_error():
    result = run("a", "--dry", source=REST_SCRIPT)
    assert result.returncode == 2 and result.stderr == "usage: demo [--dry-run] NAME...\n"


def test_without_an_array_an_argument_is_a_usage_error():
    result = run("extra")
    assert result.returncode == 2 and result.stderr == "usage: demo\n" and not result.stdout
