"""Renders deploy/kubernetes kustomizations into a list of documents.

`kubectl kustomize` when kubectl is installed. Otherwise (Debian 12 has no
kustomize: its kubernetes-client 1.20 predates the `patches:` field) the
subset of kustomize these kustomizations use: `resources` (files and
directories), `patches` given as JSON 6902 files with a kind/name target
(operations add and replace), and `images` with newTag. Anything else is an
error, never silently skipped; test_kube_play.py checks that both renderers
agree wherever kubectl is available.
"""
import shutil
import subprocess
from pathlib import Path

import yaml

KNOWN_FIELDS = {"apiVersion", "kind", "resources", "patches", "images"}


def have_kubectl():
    return shutil.which("kubectl") is not None


def render(directory, use_kubectl=None):
    """The rendered documents of the kustomization in `directory`."""
    if use_kubectl is None:
        use_kubectl = have_kubectl()
    if use_kubectl:
        out = subprocess.run(["kubectl", "kustomize", str(directory)], check=True,
                             capture_output=True, text=True).stdout
        return list(yaml.safe_load_all(out))
    return _render(Path(directory))


def _render(directory):
    (spec,) = yaml.safe_load_all((directory / "kustomization.yaml").read_text())
    unknown = set(spec) - KNOWN_FIELDS
    assert not unknown, f"{directory}: kustomization fields this renderer lacks: {unknown}"
    documents = []
    for resource in spec.get("resources", []):
        path = directory / resource
        documents += _render(path) if path.is_dir() else list(yaml.safe_load_all(path.read_text()))
    for patch in spec.get("patches", []):
        target = patch["target"]
        matches = [d for d in documents if d["kind"] == target["kind"]
                   and d["metadata"]["name"] == target["name"]]
        assert len(matches) == 1, f"patch target {target}: {len(matches)} documents"
        for operation in yaml.safe_load((directory / patch["path"]).read_text()):
            _apply(matches[0], operation)
    for image in spec.get("images", []):
        for document in documents:
            for container in _containers(document):
                repository = container["image"].rsplit(":", 1)[0]
                if repository == image["name"]:
                    container["image"] = f"{repository}:{image['newTag']}"
    return documents


def _containers(document):
    template = document.get("spec", {}).get("template", {})
    return template.get("spec", {}).get("containers", [])


def _apply(document, operation):
    """One JSON 6902 operation (RFC 6902: add and replace)."""
    op, path, value = operation["op"], operation["path"], operation.get("value")
    assert op in ("add", "replace"), f"JSON patch op {op!r} is not supported here"
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
    node = document
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        if last == "-":
            node.append(value)
        elif op == "add":
            node.insert(int(last), value)
        else:
            node[int(last)] = value
    else:
        assert op == "add" or last in node, f"replace of a missing {path}"
        node[last] = value
