"""Helpers for the container tests: the engine through scripts/container.sh
(the one place that holds the engine settings), containers started from the
images, curl from the host.

The fixtures are in containers/test_images.py, the one module that uses
them.

The tests skip only when there is no engine at all (no docker daemon and no
podman). Everything else that goes wrong, a failed base or image build
included, is a failure.
"""
import json
import subprocess
import time
import uuid

import pytest

from repo import REPO

ENGINE_SH = REPO / "scripts" / "container.sh"
IMAGES_SH = REPO / "scripts" / "container-images.sh"
BASES_SH = REPO / "scripts" / "container-bases.sh"

# Its own name, so a test run does not retag the user's tinyserver images
# (the layers are shared all the same): IMAGE_NAME:latest and :alpine.
IMAGE_NAME = "tinyserver-test"

# A fresh machine bootstraps the Debian base and builds the dependencies
# in the first image build; that takes minutes, not an hour.
BUILD_TIMEOUT_S = 1800
ENGINE_TIMEOUT_S = 120
STARTUP_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.05


def engine_name():
    """docker or podman, as scripts/container.sh picks it; None if neither."""
    result = subprocess.run([str(ENGINE_SH), "--engine"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def engine(*args, check=True, timeout=ENGINE_TIMEOUT_S):
    """Runs the engine with this host's settings; returns the CompletedProcess."""
    result = subprocess.run([str(ENGINE_SH), *args], capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"engine {' '.join(args)} exited {result.returncode}:\n"
                    f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result


def image_config(image):
    """The image's config: User, Labels, ExposedPorts, Healthcheck, ..."""
    out = engine("image", "inspect", "--format", "{{json .Config}}", image).stdout
    return json.loads(out)


def image_healthcheck(image):
    """The image's HEALTHCHECK: docker keeps it in Config.Healthcheck, podman
    shows it as a top-level HealthCheck."""
    health = image_config(image).get("Healthcheck")
    if not health:
        result = engine("image", "inspect", "--format", "{{json .HealthCheck}}", image,
                        check=False)
        if result.returncode == 0 and result.stdout.strip() not in ("", "null"):
            health = json.loads(result.stdout)
    return health or {}


def curl_json(url, timeout=60):
    """(HTTP status, parsed JSON body or None)."""
    result = subprocess.run(["curl", "-sS", "--max-time", str(timeout), "-o", "-",
                             "-w", "\n%{http_code}", url],
                            capture_output=True, text=True, timeout=timeout + 10)
    body, _, status = result.stdout.rpartition("\n")
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return int(status or 0), parsed


def check_bench(body, threads, iterations):
    """A /bench answer from an image: the run asked for, with its counter
    checked, on the default build (static musl, mimalloc, not secure)."""
    assert body["threads"] == threads, body
    assert body["iterations"] == iterations, body
    assert body["total_counter"] == threads * iterations, body
    assert body["allocator"]["name"] == "mimalloc", body
    assert body["allocator"]["secure"] is False, body
    assert body["libc"] == "musl", body
    assert body["static"] is True, body


class Container:
    """One detached container, removed at teardown."""

    def __init__(self, image, run_args=(), command=()):
        self.name = f"tinyserver-test-{uuid.uuid4().hex[:12]}"
        self.image = image
        self.run_args = list(run_args)
        self.command = list(command)
        self.port = None

    def start(self, port=None):
        """Starts it; with a port, on the host network with PORT set, and
        waits until /healthz answers from the host."""
        env = []
        if port is not None:
            self.port = port
            env = ["-e", f"PORT={port}"]
        engine("run", "-d", "--name", self.name, *env, *self.run_args, self.image,
               *self.command)
        if port is not None:
            self.wait_healthy()
        return self

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def state(self, field):
        return engine("inspect", "--format", "{{.State.%s}}" % field, self.name).stdout.strip()

    def logs(self):
        result = engine("logs", self.name, check=False)
        return result.stdout + result.stderr

    def wait_healthy(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if curl_json(self.url("/healthz"), timeout=2)[0] == 200:
                return
            if self.state("Running") != "true":
                pytest.fail(f"container {self.name} exited ({self.state('ExitCode')}):\n"
                            f"{self.logs()}")
            time.sleep(POLL_INTERVAL_S)
        pytest.fail(f"container {self.name} never answered /healthz:\n{self.logs()}")

    def pid(self):
        return int(self.state("Pid"))

    def remove(self):
        engine("rm", "-f", self.name, check=False)
