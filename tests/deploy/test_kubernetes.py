"""Checks deploy/kubernetes without a cluster: yamllint, then the structure
the README promises (probes, resources, non-root, read-only root, no
capabilities, seccomp, optional TLS secret, service ports, autoscaler and
disruption budget). The kustomizations are also rendered (render.py: kubectl
kustomize when installed) and checked as rendered; test_kube_play.py runs
them."""
import re
import subprocess

import pytest
import yaml

from binary import binary_command
from kustomize import render
from repo import REPO

KUBE = REPO / "deploy" / "kubernetes"


def load(path):
    return list(yaml.safe_load_all(path.read_text()))


def test_yamllint_is_clean():
    result = subprocess.run(["yamllint", "-c", str(REPO / ".yamllint"), "-s", str(KUBE)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def check_deployment(deployment):
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["terminationGracePeriodSeconds"] > 10  # longer than SHUTDOWN_GRACE
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
        assert container[probe]["httpGet"]["port"] == "http"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == 3000
    return pod, container, ports


def test_base_deployment_and_service():
    (deployment,) = load(KUBE / "base" / "deployment.yaml")
    assert deployment["kind"] == "Deployment"
    check_deployment(deployment)
    (service,) = load(KUBE / "base" / "service.yaml")
    assert service["kind"] == "Service"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(3000, "http")]
    (kustomization,) = load(KUBE / "kustomization.yaml")
    assert kustomization["resources"] == ["base"]


MIB = 1024 * 1024
# Bounds above what docs/benchmarks.md measures, not the measurements: a
# connection's own records (1.4 KB measured, idle), a TLS relay (25,184 B,
# its size), the process at rest with TLS on plus a /bench run's peak
# outside the window workload (2 MiB and 15.5 MiB measured).
RECORDS_BYTES_AT_MOST = 4 * 1024
RELAY_BYTES_AT_MOST = 32 * 1024
REST_AND_BENCH_BYTES_AT_MOST = 24 * MIB


def quantity_bytes(text):
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", text).groups()
    return int(number) * {"Mi": MIB, "Gi": 1024 * MIB}[unit]


def option_default(help_text, option):
    return int(re.search(rf"^  --{option} \S+\s+\S+\s+default (\d+)", help_text, re.M).group(1))


def test_memory_limit_covers_every_connection_in_the_middle_of_a_request():
    """The limit holds the worst case the pod's settings allow (its env, else
    the server's defaults): every connection's pool full
    (--connection-memory-limit) with its records, every TLS connection's
    relay, a window benchmark's --max-bench-memory, the process at rest and
    another /bench's peak."""
    help_text = subprocess.run(binary_command() + ["--help"], check=True, capture_output=True,
                               text=True).stdout
    (deployment,) = load(KUBE / "base" / "deployment.yaml")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: int(item["value"]) for item in container["env"]
           if item["value"].isdigit()}

    def setting(option):
        return env.get(option.upper().replace("-", "_"), option_default(help_text, option))

    worst = (setting("max-connections") * (setting("connection-memory-limit")
                                           + RECORDS_BYTES_AT_MOST)
             + setting("max-tls-connections") * RELAY_BYTES_AT_MOST
             + setting("max-bench-memory") * MIB + REST_AND_BENCH_BYTES_AT_MOST)
    limit = quantity_bytes(container["resources"]["limits"]["memory"])
    request = quantity_bytes(container["resources"]["requests"]["memory"])
    assert limit >= worst, (limit / MIB, worst / MIB)
    assert REST_AND_BENCH_BYTES_AT_MOST <= request < limit, (request / MIB, limit / MIB)


def test_autoscaler_and_disruption_budget_cover_the_deployment():
    (deployment,) = load(KUBE / "base" / "deployment.yaml")
    # The autoscaler owns the replica count; a fixed one would fight it.
    assert "replicas" not in deployment["spec"]
    (hpa,) = load(KUBE / "base" / "hpa.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["kind"] == "HorizontalPodAutoscaler"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu", metric
    (pdb,) = load(KUBE / "base" / "pdb.yaml")
    assert pdb["apiVersion"] == "policy/v1" and pdb["kind"] == "PodDisruptionBudget"
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    # Drains keep one pod, and can still proceed with the autoscaler's minimum.
    assert 1 <= pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


def test_tls_overlay_adds_the_secret_env_and_port():
    patch = load(KUBE / "overlays" / "tls" / "deployment-tls.yaml")[0]
    values = {op["path"]: op["value"] for op in patch}
    assert values["/spec/template/spec/volumes"][0]["secret"]["secretName"] == "tinyserver-tls"
    env = [op["value"] for op in patch if op["path"].endswith("/env/-")]
    assert {e["name"]: e["value"] for e in env} == {
        "TLS_CERT_FILE": "/certs/tls.crt", "TLS_KEY_FILE": "/certs/tls.key"}
    mounts = values["/spec/template/spec/containers/0/volumeMounts"]
    assert mounts[0]["mountPath"] == "/certs" and mounts[0]["readOnly"] is True
    service_patch = load(KUBE / "overlays" / "tls" / "service-tls.yaml")[0]
    assert service_patch[0]["value"]["port"] == 3443


def test_public_overlay_takes_the_bench_token_from_a_secret():
    """The token file comes from a Secret, mounted so that only the pod's
    group can read it (tinyserver refuses a world-readable token file)."""
    patch = load(KUBE / "overlays" / "public" / "deployment-public.yaml")[0]
    values = {op["path"]: op["value"] for op in patch}
    (volume,) = values["/spec/template/spec/volumes"]
    assert volume["secret"]["secretName"] == "tinyserver-bench-token"
    assert volume["secret"]["defaultMode"] & 0o007 == 0, oct(volume["secret"]["defaultMode"])
    assert values["/spec/template/spec/securityContext/fsGroup"] == 65532
    (mount,) = values["/spec/template/spec/containers/0/volumeMounts"]
    assert mount["name"] == volume["name"] and mount["readOnly"] is True
    env = {op["value"]["name"]: op["value"]["value"] for op in patch
           if op["path"].endswith("/env/-")}
    assert env["BENCH_TOKEN_FILE"] == mount["mountPath"] + "/token"
    assert {"BENCH_RATE", "MAX_BENCH_OPERATIONS", "MAX_BENCH_SECONDS"} <= set(env)
    (kustomization,) = load(KUBE / "overlays" / "public" / "kustomization.yaml")
    assert kustomization["resources"] == ["../../base"]


@pytest.mark.parametrize("overlay", ["", "overlays/tls", "overlays/public"])
def test_kustomize_renders(overlay):
    documents = {d["kind"]: d for d in render(KUBE / overlay)}
    assert set(documents) == {"Deployment", "Service", "HorizontalPodAutoscaler",
                              "PodDisruptionBudget"}
    pod, container, ports = check_deployment(documents["Deployment"])
    service_ports = {p["name"]: p["port"] for p in documents["Service"]["spec"]["ports"]}
    assert container["image"] == "tinyserver:0.1.0"
    if overlay == "overlays/tls":
        assert ports["https"] == 3443 and service_ports["https"] == 3443
        assert pod["volumes"][0]["secret"]["secretName"] == "tinyserver-tls"
    elif overlay == "overlays/public":
        assert pod["volumes"][0]["secret"]["secretName"] == "tinyserver-bench-token"
        assert "BENCH_TOKEN_FILE" in {e["name"] for e in container["env"]}
    else:
        assert "https" not in ports and set(service_ports) == {"http"}
