"""The small kustomize renderer: its semantics, its refusals, and parity with kustomize."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.deploy.render import RenderError, build, kustomization_dirs, split_image
from tests.unit.deploy.conftest import INFRA

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "app"},
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {"name": "a", "image": "reg/app:1.0", "env": [{"name": "X", "value": "1"}]},
                    {"name": "b", "image": "reg/other:2.0"},
                ]
            }
        }
    },
}
CUSTOM: dict[str, Any] = {
    "apiVersion": "example.com/v1",
    "kind": "Thing",
    "metadata": {"name": "thing"},
    "spec": {"items": [{"name": "one", "size": 1}, {"name": "two", "size": 2}], "keep": True},
}


def _tree(tmp_path: Path, kustomization: dict[str, Any], files: dict[str, Any]) -> Path:
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        docs = content if isinstance(content, list) and name.startswith("res") else [content]
        path.write_text(yaml.safe_dump_all(docs))
    return tmp_path


def test_strategic_merge_lists_merge_in_built_in_kinds_and_replace_in_custom_ones(
    tmp_path: Path,
) -> None:
    patch_app = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "env": [{"name": "Y"}]}]}}},
    }
    patch_thing = {
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": "thing"},
        "spec": {"items": [{"name": "two", "size": 3}], "keep": None},
    }
    root = _tree(
        tmp_path,
        {
            "resources": ["res.yaml"],
            "namespace": "ns",
            "patches": [{"path": "p1.yaml"}, {"path": "p2.yaml"}],
        },
        {"res.yaml": [DEPLOYMENT, CUSTOM], "p1.yaml": patch_app, "p2.yaml": patch_thing},
    )
    app, thing = build(root)
    containers = app.doc["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["a", "b"]
    assert containers[0]["env"] == [{"name": "X", "value": "1"}, {"name": "Y"}]
    assert thing.doc["spec"] == {"items": [{"name": "two", "size": 3}]}
    assert app.namespace == thing.namespace == "ns"


def test_json6902_patches_images_and_targets(tmp_path: Path) -> None:
    ops = [
        {"op": "replace", "path": "/spec/items/0/size", "value": 10},
        {"op": "add", "path": "/metadata/labels", "value": {"a.b/c": "d"}},
        {"op": "remove", "path": "/spec/keep"},
    ]
    root = _tree(
        tmp_path,
        {
            "resources": ["res.yaml"],
            "images": [{"name": "reg/app", "newName": "local/app", "newTag": "1.1"}],
            "patches": [{"path": "ops.yaml", "target": {"kind": "Thing"}}],
        },
        {"res.yaml": [DEPLOYMENT, CUSTOM], "ops.yaml": ops},
    )
    app, thing = build(root)
    images = [c["image"] for c in app.doc["spec"]["template"]["spec"]["containers"]]
    assert images == ["local/app:1.1", "reg/other:2.0"]
    assert thing.doc["spec"] == {"items": [{"name": "one", "size": 10}, {"name": "two", "size": 2}]}
    assert thing.doc["metadata"]["labels"] == {"a.b/c": "d"}


@pytest.mark.parametrize(
    ("kustomization", "error"),
    [
        ({"resources": ["res.yaml"], "commonLabels": {"a": "b"}}, "unsupported kustomization"),
        ({"resources": ["missing.yaml"]}, "does not exist"),
        ({"resources": ["res.yaml"], "patches": [{"path": "nomatch.yaml"}]}, "matches no"),
        ({"resources": ["res.yaml", "res.yaml"]}, "declared twice"),
    ],
)
def test_refuses_what_it_cannot_render(
    tmp_path: Path, kustomization: dict[str, Any], error: str
) -> None:
    nomatch = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nope"}}
    root = _tree(tmp_path, kustomization, {"res.yaml": [DEPLOYMENT], "nomatch.yaml": nomatch})
    with pytest.raises(RenderError, match=error):
        build(root)


def test_split_image() -> None:
    assert split_image("localhost:5001/pulse/app:0.1.0") == (
        "localhost:5001/pulse/app",
        "0.1.0",
        None,
    )
    assert split_image("reg:5000/app") == ("reg:5000/app", None, None)
    assert split_image("app:1@sha256:ab") == ("app", "1", "sha256:ab")


def _key(doc: dict[str, Any]) -> tuple[str, str, str | None, str]:
    meta = doc["metadata"]
    return doc["apiVersion"], doc["kind"], meta.get("namespace"), meta["name"]


def test_same_output_as_kubectl_kustomize() -> None:
    """kubectl's kustomize and this renderer agree on every committed tree (kubectl ships with
    the machine images pulse is developed and tested on; never skipped)."""
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl is needed for this check: install it (kubectl >= 1.27)")
    for directory in kustomization_dirs(INFRA / "k8s"):
        run = subprocess.run(
            ["kubectl", "kustomize", str(directory)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        theirs = {_key(doc): doc for doc in yaml.safe_load_all(run.stdout) if doc}
        mine = {_key(r.doc): r.doc for r in build(directory)}
        assert mine == theirs, directory
