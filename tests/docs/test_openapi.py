"""docs/openapi.yaml is the API contract. It is held to the running server,
both ways: the paths, methods and status codes that GET / reports from the
route table, the /bench parameters the validator accepts, the 404 for
unmatched paths, and the shapes of the bodies the server really sends."""
import copy
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import rawhttp
from binary import BENCH_ALLOCATORS
from curl import assert_json_error
from repo import REPO
from server import default_max_bench_threads

SPEC_PATH = REPO / "docs" / "openapi.yaml"
# The operation keys of an OpenAPI 3.0 Path Item.
OPERATION_KEYS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Small enough that every /bench request here finishes in milliseconds.
SMALL_ITERATIONS = 10
# libmicrohttpd's query parameters beyond this many are refused by the layer
# (HTTP_MAX_QUERY_PARAMS in src/http/http.h).
TOO_MANY_QUERY_PARAMS = 17


@pytest.fixture(scope="module")
def spec():
    assert SPEC_PATH.is_file(), f"{SPEC_PATH} is missing"
    document = yaml.safe_load(SPEC_PATH.read_text())
    assert isinstance(document, dict), "the OpenAPI document is not a mapping"
    return document


@pytest.fixture
def live(server, curl):
    """A fresh server and its GET / index."""
    srv = server()
    result = curl(srv.url + "/")
    assert result.status == 200, result.describe()
    assert isinstance(result.json, dict), result.describe()
    return srv, result.json


def resolve(spec, node):
    """Follows local $refs ("#/a/b") until a non-reference node."""
    seen = []
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert isinstance(ref, str) and ref.startswith("#/"), f"non-local $ref {ref!r}"
        assert ref not in seen, f"$ref cycle: {seen + [ref]}"
        seen.append(ref)
        target = spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(target, dict) and part in target, f"dangling $ref {ref!r}"
            target = target[part]
        node = target
    return node


def all_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from all_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_refs(item)


def operations(spec, path):
    item = spec["paths"][path]
    return {key: item[key] for key in item if key in OPERATION_KEYS}


def routes_of(index):
    return {endpoint["path"]: endpoint for endpoint in index["endpoints"]}


def route_methods(route):
    return {m.strip().lower() for m in route["methods"].split(",") if m.strip()}


def bench_parameters(spec, operation="get"):
    """The documented query parameters of /bench (path level and operation
    level, the operation's winning), resolved, by name."""
    item = spec["paths"]["/bench"]
    params = {}
    for raw in list(item.get("parameters", [])) + list(item[operation].get("parameters", [])):
        param = resolve(spec, raw)
        params[(param["name"], param["in"])] = param
    assert all(where == "query" for _, where in params), params
    return {name: param for (name, _), param in params.items()}


def param_schema(spec, param):
    return resolve(spec, param["schema"])


def check_schema(spec, schema, value, where="body"):
    """A small JSON Schema check covering what the document uses: $ref, type,
    nullable, enum, required, properties, additionalProperties, items and
    bounds."""
    schema = resolve(spec, schema)
    if value is None:
        assert schema.get("nullable") is True, f"{where}: null, and the schema is not nullable"
        return
    kind = schema.get("type")
    if kind == "object":
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        missing = set(schema.get("required", [])) - set(value)
        assert not missing, f"{where}: missing {sorted(missing)} in {value!r}"
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(properties)
            assert not extra, f"{where}: undocumented {sorted(extra)} in {value!r}"
        for key, sub in properties.items():
            if key in value:
                check_schema(spec, sub, value[key], f"{where}.{key}")
    elif kind == "array":
        assert isinstance(value, list), f"{where}: expected an array, got {value!r}"
        for i, item in enumerate(value):
            check_schema(spec, schema["items"], item, f"{where}[{i}]")
    elif kind == "string":
        assert isinstance(value, str), f"{where}: expected a string, got {value!r}"
        assert len(value) >= schema.get("minLength", 0), f"{where}: too short: {value!r}"
        if "maxLength" in schema:
            assert len(value) <= schema["maxLength"], f"{where}: too long: {value!r}"
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), \
            f"{where}: expected an integer, got {value!r}"
    elif kind == "number":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), \
            f"{where}: expected a number, got {value!r}"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{where}: expected a boolean, got {value!r}"
    else:
        pytest.fail(f"{where}: schema without a type the check knows: {schema!r}")
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if kind in ("integer", "number"):
        if "minimum" in schema:
            assert value >= schema["minimum"], f"{where}: {value!r} < {schema['minimum']}"
        if "maximum" in schema:
            assert value <= schema["maximum"], f"{where}: {value!r} > {schema['maximum']}"


def documented_response(spec, path, method, status):
    return resolve(spec, operations(spec, path)[method]["responses"][str(status)])


def check_body(spec, path, status, result):
    """The answer's content type is the documented one and its body fits the
    documented schema."""
    response = documented_response(spec, path, "get", status)
    content = response.get("content", {})
    served = result.headers.get("content-type")
    assert served in content, \
        f"{path} {status}: documented {list(content)}, served {result.describe()}"
    media = content[served]
    if "json" in served:
        check_schema(spec, media["schema"], result.json, f"{path} {status}")
    else:
        check_schema(spec, media["schema"], result.body.decode(), f"{path} {status}")


# --- the document itself ----------------------------------------------------


def test_yamllint_is_clean():
    if shutil.which("yamllint") is None:
        pytest.skip("yamllint is not installed (scripts/setup.sh installs it)")
    result = subprocess.run(["yamllint", "-c", str(REPO / ".yamllint"), "-s", str(SPEC_PATH)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_document_is_openapi_3_0_for_this_server(spec, live):
    _, index = live
    assert re.fullmatch(r"3\.0\.\d+", str(spec.get("openapi"))), spec.get("openapi")
    assert spec["info"]["title"] == index["name"]
    assert spec["info"]["version"] == index["version"]
    for ref in all_refs(spec):
        resolve(spec, {"$ref": ref})  # every reference lands somewhere
    operation_ids = []
    responses = [("components.responses." + name, r)
                 for name, r in spec.get("components", {}).get("responses", {}).items()]
    for path in spec["paths"]:
        assert path.startswith("/"), path
        ops = operations(spec, path)
        assert ops, f"{path} documents no operation"
        for method, op in ops.items():
            operation_ids.append(op.get("operationId"))
            assert op.get("responses"), f"{method} {path} documents no response"
            for code, r in op["responses"].items():
                assert isinstance(code, str) and re.fullmatch(r"[1-5]\d\d", code), \
                    f"{method} {path}: response key {code!r} must be a quoted status code"
                responses.append((f"{method} {path} {code}", r))
    assert None not in operation_ids
    assert len(operation_ids) == len(set(operation_ids)), operation_ids
    for where, response in responses:
        response = resolve(spec, response)
        description = response.get("description")
        assert isinstance(description, str) and description.strip(), f"{where}: no description"


# The OpenAPI 3.0 schema validator, from the npm registry at the version
# tests/tools/package-lock.json pins (scripts/test-tools.sh installs it; Debian
# packages no OpenAPI validator).
CACHE = Path(os.environ.get("TINYSERVER_CACHE", REPO / ".cache"))
VALIDATE_API = CACHE / "test-tools" / "node_modules" / ".bin" / "validate-api"


def validate_api(path):
    """Runs the validator on a document; its verdict and its report."""
    assert VALIDATE_API.is_file(), f"{VALIDATE_API} is missing: run scripts/test-tools.sh"
    result = subprocess.run([str(VALIDATE_API), str(path)], capture_output=True, text=True,
                            timeout=60)
    report = result.stdout + result.stderr
    verdict = re.search(r'"valid":\s*(true|false)', result.stdout)
    assert verdict, f"no verdict from the validator: {report}"
    valid = verdict.group(1) == "true"
    assert valid == (result.returncode == 0), f"exit {result.returncode} disagrees: {report}"
    return valid, report


def test_openapi_schema_validator_accepts_the_document():
    valid, report = validate_api(SPEC_PATH)
    assert valid, report


def drop_a_description(doc):
    doc["paths"]["/bench"]["get"]["responses"]["200"] = {"content": {}}


def add_a_dangling_ref(doc):
    doc["paths"]["/bench"]["get"]["responses"]["200"] = {
        "$ref": "#/components/responses/NoSuchResponse"}


def add_an_unknown_top_level_key(doc):
    doc["x_not_an_extension"] = True  # extensions must start with "x-"


# (id, the mistake, what the validator must say about it)
BREAKAGES = [
    ("response-without-description", drop_a_description,
     "must have required property 'description'"),
    ("dangling-ref", add_a_dangling_ref, "Can't resolve #/components/responses/NoSuchResponse"),
    ("unknown-top-level-key", add_an_unknown_top_level_key,
     '"additionalProperty": "x_not_an_extension"'),
]


def test_openapi_schema_validator_accepts_a_round_tripped_copy(spec, tmp_path):
    # The broken copies below are written the same way: this one, unbroken,
    # must pass, so their failures are their mistakes, not the copying.
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(copy.deepcopy(spec), sort_keys=False))
    valid, report = validate_api(path)
    assert valid, report


@pytest.mark.parametrize("breakage, expected", [pytest.param(b, e, id=i) for i, b, e in BREAKAGES])
def test_openapi_schema_validator_rejects_a_broken_copy(spec, tmp_path, breakage, expected):
    # The same validator must fail a copy with one known mistake, for that
    # mistake, so the check above can fail.
    broken = copy.deepcopy(spec)
    breakage(broken)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken, sort_keys=False))
    valid, report = validate_api(path)
    assert not valid, report
    assert expected in report, report


# --- the route table, both ways ---------------------------------------------


def test_paths_are_exactly_the_routes(spec, live):
    _, index = live
    routes = set(routes_of(index))
    documented = set(spec["paths"])
    assert not routes - documented, f"routes missing from the document: {routes - documented}"
    assert not documented - routes, f"documented paths the server lacks: {documented - routes}"


def test_methods_are_exactly_the_route_methods(spec, live):
    _, index = live
    for path, route in routes_of(index).items():
        assert set(operations(spec, path)) == route_methods(route), (path, route["methods"])


def test_status_codes_are_exactly_the_route_statuses(spec, live):
    _, index = live
    for path, route in routes_of(index).items():
        expected = set(route["statuses"])
        assert expected, f"{path} lists no statuses"
        for method, op in operations(spec, path).items():
            documented = set(op["responses"])
            assert "default" not in documented, f"{method} {path}: 'default' hides the real list"
            assert {int(code) for code in documented} == expected, (
                f"{method} {path}: documented {sorted(documented)}, route lists {sorted(expected)}")


def test_route_answers_the_layer_statuses_it_lists(spec, live, curl):
    """The statuses that can be provoked cheaply are really answered on
    every documented path, in the documented shape."""
    srv, _ = live
    too_many = "&".join(f"p{i}=1" for i in range(TOO_MANY_QUERY_PARAMS))
    for path in spec["paths"]:
        url = srv.url + path
        if path == "/bench":
            url += f"?threads=1&iterations={SMALL_ITERATIONS}"
        result = curl(url)
        assert result.status == 200, result.describe()
        assert result.headers.get("cache-control") == "no-store", result.describe()
        check_body(spec, path, 200, result)

        result = curl(srv.url + path + "?" + too_many)
        assert_json_error(result, 400)
        check_body(spec, path, 400, result)

        result = curl(srv.url + path, "-X", "POST")
        assert_json_error(result, 405)
        check_body(spec, path, 405, result)
        allowed = {m.strip().lower() for m in result.headers["allow"].split(",")}
        assert allowed == set(operations(spec, path)), result.describe()
        for method in operations(spec, path):
            response = documented_response(spec, path, method, 405)
            assert "Allow" in response.get("headers", {}), f"{method} {path} 405 lacks Allow"

        result = curl(srv.url + path, "-X", "GET", "--data-binary", "hello")
        assert_json_error(result, 413)
        check_body(spec, path, 413, result)


@pytest.mark.parametrize("query", ["workload=window&threads=2&iterations=300",
                                   "workload=window&allocator=all&repeat=2&iterations=300",
                                   "workload=xthread&allocator=all&iterations=3000"])
def test_bench_costs_fit_the_documented_schema(spec, live, curl, query):
    """Every run's costs (latency, memory, CPU, system calls), one allocator
    or all, fit the schema; the window's memory figures are known here."""
    srv, _ = live
    result = curl(srv.url + "/bench?" + query)
    assert result.status == 200, result.describe()
    check_body(spec, "/bench", 200, result)
    entries = result.json.get("results", [result.json])
    for entry in entries:
        for run in [entry] + entry.get("runs", []):
            memory = run["memory"]
            assert "unavailable" not in memory, result.describe()
            assert ("live_peak_bytes" in memory) == ("workload=window" in query), memory


def test_too_many_requests_documents_retry_after(spec, live):
    """429 is provoked by test_concurrency.py; here: wherever it is
    documented, so is its Retry-After header."""
    _, index = live
    for path, route in routes_of(index).items():
        if 429 not in route["statuses"]:
            continue
        for method in operations(spec, path):
            headers = documented_response(spec, path, method, 429).get("headers", {})
            assert "Retry-After" in headers, f"{method} {path} 429 lacks Retry-After"
            header = resolve(spec, headers["Retry-After"])
            assert resolve(spec, header["schema"])["type"] == "integer", header


def documented_elsewhere(spec, key, status, component):
    """The response component that the extension `key` documents for
    `status`, which no operation may list itself."""
    response = spec.get("components", {}).get("responses", {}).get(component)
    assert response is not None, f"components.responses.{component} is missing"
    assert str(status) in response["description"], response["description"]
    extension = spec.get(key)
    assert isinstance(extension, dict), f"{key} is missing"
    assert extension.get("status") == status, extension
    assert extension.get("response") == {"$ref": f"#/components/responses/{component}"}, extension
    for path in spec["paths"]:
        for method, op in operations(spec, path).items():
            assert str(status) not in op["responses"], f"{method} {path}: {status} is in {key}"
    return response


def check_error_answer(spec, documented, result, status):
    assert_json_error(result, status)
    content = documented["content"]
    assert list(content) == [result.headers["content-type"]], result.describe()
    check_schema(spec, content["application/json"]["schema"], result.json, f"{status} body")


def test_unmatched_path_is_the_documented_404(spec, live, curl):
    srv, _ = live
    not_found = documented_elsewhere(spec, "x-unmatched-path", 404, "NotFound")
    path = "/no-such-endpoint"
    assert path not in spec["paths"]
    check_error_answer(spec, not_found, curl(srv.url + path), 404)


def test_unknown_method_is_the_documented_501(spec, live):
    srv, _ = live
    unknown = documented_elsewhere(spec, "x-unknown-method", 501, "UnknownMethod")
    for path in ["/healthz", "/no-such-endpoint"]:
        response = rawhttp.one_response(rawhttp.exchange(srv.port, rawhttp.request(
            path, method="FOO", headers={"Connection": "close"}))[0])
        assert response is not None, path
        check_error_answer(spec, unknown, response, 501)


# --- /bench parameters, both ways -------------------------------------------


def test_head_bench_is_not_an_operation(spec, live, curl):
    """HEAD /bench would run a benchmark for headers only: not documented,
    and refused with the documented Allow (issue 18)."""
    srv, _ = live
    assert set(operations(spec, "/bench")) == {"get"}
    result = curl(srv.url + f"/bench?threads=1&iterations={SMALL_ITERATIONS}", "-I")
    assert result.status == 405, result.describe()
    assert result.headers.get("allow") == "GET", result.describe()


# Where the /bench answer echoes a parameter, when not under its own name:
# "allocator" there is the process's global allocator (an object).
ECHOED_AS = {"allocator": "bench_allocator"}
# The window workload's own parameters, echoed in its "window" object.
WINDOW_PARAMETERS = {"slots", "min_block", "max_block"}


def echoed(body, name):
    """The value the /bench answer gives for a parameter."""
    if name in WINDOW_PARAMETERS:
        return body["window"][name]
    return body[ECHOED_AS.get(name, name)]


def accepted_values(spec, param):
    """Valid values to try for a documented parameter: every enum value (of
    allocator: those this build has), or the integer minimum."""
    schema = param_schema(spec, param)
    if param["name"] == "allocator":
        assert set(BENCH_ALLOCATORS) <= set(schema["enum"]), schema["enum"]
        return BENCH_ALLOCATORS + ["all"]
    if "enum" in schema:
        return list(schema["enum"])
    assert schema["type"] == "integer", param
    return [schema["minimum"]]


def bench_query(name, value):
    """A small valid run that sets `name`; the other sizes stay small."""
    query = {name: value}
    if name != "iterations":
        query["iterations"] = SMALL_ITERATIONS
    if name in WINDOW_PARAMETERS:
        # the smallest block, so that max_block's minimum is not below it
        query.update(workload="window", slots=1, min_block=1)
        query[name] = value
    return "&".join(f"{k}={v}" for k, v in query.items())


def test_every_documented_bench_parameter_is_accepted(spec, live, curl):
    srv, _ = live
    params = bench_parameters(spec)
    assert params, "/bench documents no parameters"
    for name, param in params.items():
        assert param.get("required") is not True, f"{name}: every /bench parameter is optional"
        for value in accepted_values(spec, param):
            result = curl(srv.url + "/bench?" + bench_query(name, value))
            assert result.status == 200, f"{name}={value}: {result.describe()}"
            # the result echoes every parameter
            assert echoed(result.json, name) == value, result.describe()


def test_undocumented_bench_parameter_is_refused(spec, live, curl):
    srv, _ = live
    documented = set(bench_parameters(spec))
    assert "foo" not in documented
    result = curl(srv.url + "/bench?foo=1")
    assert_json_error(result, 400)
    assert result.json.get("parameter") == "foo", result.describe()
    # The server's own list of what it accepts, from its error message.
    match = re.search(r"accepted parameters are (.+)$", result.json["error"])
    assert match, result.describe()
    accepted = set(re.split(r", | and ", match.group(1)))
    assert accepted == documented, f"server accepts {accepted}, documented {documented}"


def test_workload_enum_is_what_the_server_accepts(spec, live, curl):
    srv, _ = live
    schema = param_schema(spec, bench_parameters(spec)["workload"])
    result = curl(srv.url + "/bench?workload=no-such-workload")
    assert_json_error(result, 400)
    assert result.json.get("parameter") == "workload", result.describe()
    match = re.search(r"must be one of (.+)$", result.json["error"])
    assert match, result.describe()
    accepted = re.split(r", | and ", match.group(1))
    assert set(accepted) == set(schema["enum"]), (accepted, schema["enum"])


# The threads cap at the defaults follows the machine (4 per CPU), so the
# document's maximum for it is the highest cap --max-bench-threads allows.
THREADS_CAP_MAX = 4096


def default_cap(name, schema):
    if name == "threads":
        assert schema["maximum"] == THREADS_CAP_MAX, schema
        return default_max_bench_threads()
    return schema["maximum"]


def test_integer_bounds_are_the_default_caps(spec, live, curl):
    srv, _ = live
    for name, param in bench_parameters(spec).items():
        schema = param_schema(spec, param)
        if schema.get("type") != "integer":
            continue
        low, high = schema["minimum"], default_cap(name, schema)
        for bad in (low - 1, high + 1):
            result = curl(srv.url + f"/bench?{name}={bad}")
            assert_json_error(result, 400)
            assert result.json.get("parameter") == name, result.describe()
            assert f"from {low} to {high}" in result.json["error"], result.describe()
    # The threads cap itself is accepted (a very short run).
    high = default_cap("threads", param_schema(spec, bench_parameters(spec)["threads"]))
    result = curl(srv.url + f"/bench?threads={high}&iterations=1")
    assert result.status == 200, result.describe()
    assert result.json["threads"] == high


def test_documented_defaults_are_the_server_defaults(spec, live, curl):
    srv, _ = live
    checked = 0
    for name, param in bench_parameters(spec).items():
        schema = param_schema(spec, param)
        if "default" not in schema:
            # threads: the CPU count of the machine, stated in the description
            assert param.get("description"), f"{name}: no default and no description"
            continue
        # leave `name` out, keep the run small with the other parameter
        other = "threads=1" if name == "iterations" else f"iterations={SMALL_ITERATIONS}"
        if name in WINDOW_PARAMETERS:
            other += "&workload=window&threads=1"
        result = curl(srv.url + "/bench?" + other)
        assert result.status == 200, result.describe()
        assert echoed(result.json, name) == schema["default"], (name, result.describe())
        checked += 1
    assert checked, "no /bench parameter documents its default"


# Redocly CLI, a standard OpenAPI linter, with its recommended rules
# (docs/redocly.yaml; the ignored problems, each with its reason, are in
# docs/.redocly.lint-ignore.yaml). Pinned like the validator above.
REDOCLY = CACHE / "test-tools" / "node_modules" / ".bin" / "redocly"
REDOCLY_CONFIG = REPO / "docs" / "redocly.yaml"
# No telemetry or update check: CI reaches nothing but Debian and npm.
REDOCLY_ENV = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}


def redocly_lint(path):
    """Lints a document; its totals and the rules of its problems."""
    import json
    assert REDOCLY.is_file(), f"{REDOCLY} is missing: run scripts/test-tools.sh"
    result = subprocess.run([str(REDOCLY), "lint", "--config", str(REDOCLY_CONFIG),
                             "--format=json", str(path)], capture_output=True, text=True,
                            timeout=120, env=REDOCLY_ENV, cwd=REPO)
    report = json.loads(result.stdout)
    rules = sorted({problem["ruleId"] for problem in report["problems"]})
    assert (result.returncode != 0) == (report["totals"]["errors"] > 0), result.stderr
    return report["totals"], rules


def test_redocly_recommended_rules_pass_without_an_error_or_a_warning():
    totals, rules = redocly_lint(SPEC_PATH)
    assert totals["errors"] == 0 and totals["warnings"] == 0, (totals, rules)


def test_redocly_flags_a_licence_without_url_and_an_operation_without_security(tmp_path, spec):
    broken = copy.deepcopy(spec)
    del broken["info"]["license"]["url"]
    del broken["security"]
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(broken, sort_keys=False))
    totals, rules = redocly_lint(path)
    assert totals["errors"] > 0, (totals, rules)
    assert "info-license-strict" in rules and "security-defined" in rules, rules


def test_bench_takes_the_bearer_scheme_and_the_other_routes_need_none(spec):
    scheme = spec["components"]["securitySchemes"]["benchToken"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    assert spec["security"] == [{}]
    assert {"benchToken": []} in spec["paths"]["/bench"]["get"]["security"]
    for path in ("/", "/healthz", "/metrics"):
        assert "security" not in spec["paths"][path]["get"], path
