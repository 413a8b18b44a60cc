"""The two-architecture build: `scripts/container-images.sh --platforms
linux/amd64,linux/arm64` makes an image per architecture, cross-compiled by
a builder that runs on this machine, and their manifest list.

The arm64 image runs through the engine only where binfmt_misc has qemu
registered. Otherwise (this project's machines: binfmt_misc is not
mounted) its binary, taken out of the image, runs under qemu-user, and the
test says so in its output.
"""
import io
import json
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from containers import (BUILD_TIMEOUT_S, ENGINE_SH, IMAGES_SH, IMAGE_NAME, Container, check_bench,
                        curl_json, engine, engine_name, image_config)
from net import free_port

pytestmark = pytest.mark.container

PLATFORMS = {"amd64": "linux/amd64", "arm64": "linux/arm64"}
QEMU = {"amd64": "qemu-x86_64-static", "arm64": "qemu-aarch64-static"}
ELF_MACHINES = {"amd64": 0x3E, "arm64": 0xB7}
BINFMT = {"amd64": "qemu-x86_64", "arm64": "qemu-aarch64"}
BENCH_THREADS, BENCH_ITERATIONS = 2, 100_000
STARTUP_TIMEOUT_S = 15.0
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def multiarch(tmp_path_factory):
    """Builds both architectures once; returns {"images": {arch: name},
    "archive": the manifest list's OCI archive}."""
    if engine_name() is None:
        pytest.skip("no container engine: no docker daemon answers and podman is not "
                    "installed (scripts/setup.sh container)")
    if engine_name() != "podman":
        pytest.skip("with docker, --platforms is one docker buildx build, which this "
                    "machine cannot run (no daemon)")
    archive = tmp_path_factory.mktemp("multiarch") / "tinyserver.oci.tar"
    result = subprocess.run([str(IMAGES_SH), "--name", IMAGE_NAME, "--platforms",
                             ",".join(PLATFORMS.values()), "--output", str(archive)],
                            capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    if result.returncode != 0:
        pytest.fail(f"the multi-arch build failed ({result.returncode}):\n"
                    f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return {"images": {arch: f"{IMAGE_NAME}:latest-{arch}" for arch in PLATFORMS},
            "archive": archive}


def host_arch():
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


def binfmt_registered(arch):
    entry = Path("/proc/sys/fs/binfmt_misc") / BINFMT[arch]
    return entry.exists() and entry.read_text().startswith("enabled")


def extract_binary(image, destination):
    """/tinyserver out of the image (export of a created, never started,
    container: nothing of the foreign architecture runs)."""
    name = f"{IMAGE_NAME}-extract-{time.monotonic_ns()}"
    engine("create", "--name", name, image)
    try:
        exported = subprocess.run([str(ENGINE_SH), "export", name], capture_output=True,
                                  timeout=120, check=True).stdout
    finally:
        engine("rm", "-f", name, check=False)
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        destination.write_bytes(tar.extractfile("tinyserver").read())
    destination.chmod(0o755)
    return destination


def wait_healthy(url, proc):
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if curl_json(url, timeout=2)[0] == 200:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    pytest.fail(f"{url} never answered")


def test_manifest_list_names_both_architectures(multiarch):
    with tarfile.open(multiarch["archive"]) as archive:
        (entry,) = json.loads(archive.extractfile("index.json").read())["manifests"]
        digest = entry["digest"].split(":", 1)[1]
        listed = json.loads(archive.extractfile(f"blobs/sha256/{digest}").read())
    assert "manifest.list" in listed["mediaType"] or "image.index" in listed["mediaType"], listed
    platforms = sorted((m["platform"]["os"], m["platform"]["architecture"])
                       for m in listed["manifests"])
    assert platforms == [("linux", "amd64"), ("linux", "arm64")], listed


@pytest.mark.parametrize("arch", PLATFORMS)
def test_image_is_of_its_architecture(multiarch, arch, tmp_path):
    image = multiarch["images"][arch]
    inspected = engine("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}",
                       image).stdout.strip()
    assert inspected == PLATFORMS[arch]
    config = image_config(image)
    assert config.get("Entrypoint") == ["/tinyserver"] and config.get("User") == "65532:65532"
    binary = extract_binary(image, tmp_path / "tinyserver").read_bytes()
    assert int.from_bytes(binary[18:20], "little") == ELF_MACHINES[arch]
    reported = int(engine("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())
    assert reported < MIB, reported


@pytest.mark.parametrize("arch", PLATFORMS)
def test_image_serves_healthz_and_bench(multiarch, arch, tmp_path):
    image = multiarch["images"][arch]
    port = free_port()
    if arch == host_arch() or binfmt_registered(arch):
        box = Container(image).start(port)
        try:
            status, body = curl_json(box.url(f"/bench?threads={BENCH_THREADS}"
                                             f"&iterations={BENCH_ITERATIONS}"))
        finally:
            box.remove()
        assert status == 200, body
        check_bench(body, BENCH_THREADS, BENCH_ITERATIONS)
        return
    print(f"\nbinfmt_misc has no {BINFMT[arch]}: the {arch} image's binary runs under "
          f"{QEMU[arch]} instead of through the engine")
    binary = extract_binary(image, tmp_path / "tinyserver")
    proc = subprocess.Popen([QEMU[arch], str(binary), "--bind", "127.0.0.1", "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        status, body = curl_json(f"http://127.0.0.1:{port}/bench?threads={BENCH_THREADS}"
                                 f"&iterations={BENCH_ITERATIONS}")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert status == 200, (body, out, err)
    check_bench(body, BENCH_THREADS, BENCH_ITERATIONS)
    assert proc.returncode == 0, err
