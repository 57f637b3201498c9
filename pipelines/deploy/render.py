"""A small, strict kustomize renderer: enough of kustomize to build ``infra/k8s`` offline.

No kustomize binary is installable from Debian's packages or PyPI at a useful version
(Debian bookworm's ``kubernetes-client`` is kubectl 1.20 with a kustomize from 2019), so the
checker renders overlays itself. Supported ``kustomization.yaml`` fields, with kustomize's
semantics (``tests/unit/deploy`` compares the result with ``kubectl kustomize`` when a kubectl
binary is on PATH):

* ``resources``: YAML files and folders holding a ``kustomization.yaml``;
* ``namespace``: set on every resource;
* ``images``: ``name`` -> ``newName`` / ``newTag`` / ``digest`` in every ``containers`` and
  ``initContainers`` list, at any depth (kustomize's image transformer);
* ``patches``: strategic-merge patches (a mapping; maps merge, ``null`` deletes; in built-in
  kinds lists of maps merge on their key (``name``, ``mountPath``, ...), every other list is
  replaced whole, as kustomize does for custom resources, which it has no schema for) and
  JSON 6902 patches (a list of ``add``/``replace``/``remove`` operations), from ``path`` or
  inline ``patch``, applied to the resource they name or to every resource a ``target``
  selects (kind, name, group, version, namespace).

Any other field is an error: the renderer refuses what it would otherwise render wrongly.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION = "kustomization.yaml"
SUPPORTED_FIELDS = frozenset({"apiVersion", "kind", "resources", "namespace", "images", "patches"})
TARGET_FIELDS = frozenset({"group", "version", "kind", "name", "namespace"})
# kyaml infers the merge key of a list of maps without schema from these fields, in order.
ASSOCIATIVE_KEYS = ("mountPath", "devicePath", "ip", "type", "topologyKey", "name", "containerPort")


class RenderError(ValueError):
    """A kustomization this renderer cannot build (or that kustomize would refuse)."""


@dataclass
class Resource:
    """One rendered object and the file it was read from."""

    doc: dict[str, Any]
    source: Path

    @property
    def api_version(self) -> str:
        return str(self.doc.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.doc.get("metadata", {}).get("name", ""))

    @property
    def namespace(self) -> str | None:
        value = self.doc.get("metadata", {}).get("namespace")
        return None if value is None else str(value)

    @property
    def ident(self) -> str:
        """``Kind/name`` (with ``namespace/`` when set): how problems name a resource."""
        prefix = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{prefix}{self.name}"


def load_documents(path: Path) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a file; each must be a mapping."""
    try:
        docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    except yaml.YAMLError as err:
        raise RenderError(f"{path}: invalid YAML: {err}") from None
    for doc in docs:
        if not isinstance(doc, dict):
            raise RenderError(f"{path}: a document is not a mapping")
    return docs


def kustomization_dirs(root: Path) -> list[Path]:
    """Every folder under ``root`` (itself included) that holds a kustomization."""
    return sorted(path.parent for path in root.rglob(KUSTOMIZATION))


def build(directory: Path) -> list[Resource]:
    """Render the kustomization in ``directory``."""
    file = directory / KUSTOMIZATION
    if not file.is_file():
        raise RenderError(f"{directory}: no {KUSTOMIZATION}")
    docs = load_documents(file)
    if len(docs) != 1:
        raise RenderError(f"{file}: expected one document")
    spec = docs[0]
    unknown = sorted(set(spec) - SUPPORTED_FIELDS)
    if unknown:
        raise RenderError(f"{file}: unsupported kustomization fields {unknown}")
    if spec.get("kind", "Kustomization") != "Kustomization":
        raise RenderError(f"{file}: kind must be Kustomization")

    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        path = (directory / str(entry)).resolve()
        if path.is_dir():
            resources += build(path)
        elif path.is_file():
            resources += [Resource(doc, path) for doc in load_documents(path)]
        else:
            raise RenderError(f"{file}: resource {entry} does not exist")
    _check_unique(resources, file)

    for patch in spec.get("patches", []):
        _apply_patch(directory, file, patch, resources)
    namespace = spec.get("namespace")
    if namespace is not None:
        for resource in resources:
            resource.doc.setdefault("metadata", {})["namespace"] = str(namespace)
    for image in spec.get("images", []):
        _apply_image(file, image, resources)
    _check_unique(resources, file)
    return resources


def _check_unique(resources: list[Resource], file: Path) -> None:
    seen: dict[tuple[str, str, str | None, str], Path] = {}
    for resource in resources:
        key = (resource.api_version, resource.kind, resource.namespace, resource.name)
        if key in seen:
            raise RenderError(
                f"{file}: {resource.ident} is declared twice ({seen[key]}, {resource.source})"
            )
        seen[key] = resource.source


# --- patches -------------------------------------------------------------------------------


def _apply_patch(
    directory: Path, file: Path, entry: dict[str, Any], resources: list[Resource]
) -> None:
    unknown = sorted(set(entry) - {"path", "patch", "target"})
    if unknown or ("path" in entry) == ("patch" in entry):
        raise RenderError(f"{file}: a patch needs exactly one of path/patch (and maybe target)")
    if "path" in entry:
        where = directory / str(entry["path"])
        if not where.is_file():
            raise RenderError(f"{file}: patch {entry['path']} does not exist")
        text = where.read_text()
    else:
        where = file
        text = str(entry["patch"])
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise RenderError(f"{where}: invalid YAML: {err}") from None
    target = entry.get("target")
    if target is not None:
        bad = sorted(set(target) - TARGET_FIELDS)
        if bad:
            raise RenderError(f"{file}: unsupported patch target fields {bad}")
        selected = [r for r in resources if _selected(r, target)]
    elif isinstance(body, dict):
        selected = [r for r in resources if _named_by(r, body)]
    else:
        raise RenderError(f"{where}: a JSON 6902 patch needs a target")
    if not selected:
        raise RenderError(f"{where}: the patch matches no resource")
    for resource in selected:
        if isinstance(body, list):
            for op in body:
                _json6902(resource.doc, op, where)
        elif isinstance(body, dict):
            patch = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
            meta = dict(patch.get("metadata", {}))
            meta.pop("name", None)  # the patch's name only identifies its target
            if meta:
                patch["metadata"] = meta
            else:
                patch.pop("metadata", None)
            lists_merge = _built_in(resource.api_version)
            resource.doc = _merge(resource.doc, patch, where, lists_merge)
        else:
            raise RenderError(f"{where}: a patch must be a mapping or a list of operations")


def _group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _selected(resource: Resource, target: dict[str, Any]) -> bool:
    group, version = _group_version(resource.api_version)
    wanted = {
        "group": group,
        "version": version,
        "kind": resource.kind,
        "name": resource.name,
        "namespace": resource.namespace,
    }
    return all(wanted[key] == value for key, value in target.items())


def _named_by(resource: Resource, patch: dict[str, Any]) -> bool:
    meta = patch.get("metadata") or {}
    return (
        resource.kind == patch.get("kind")
        and resource.api_version == patch.get("apiVersion", resource.api_version)
        and resource.name == meta.get("name")
    )


def _built_in(api_version: str) -> bool:
    """A Kubernetes API group (``v1``, ``apps/v1``, ``*.k8s.io``), not a custom resource."""
    group, _ = _group_version(api_version)
    return "." not in group or group.endswith(".k8s.io")


def _merge(base: Any, patch: Any, where: Path, lists_merge: bool) -> Any:
    """Strategic merge as kustomize (kyaml's merge2) does it."""
    if isinstance(patch, dict):
        if "$patch" in patch:
            raise RenderError(f"{where}: $patch directives are not supported")
        if not isinstance(base, dict):
            return copy.deepcopy(patch)
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = _merge(out[key], value, where, lists_merge)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(patch, list) and isinstance(base, list) and lists_merge:
        key = _associative_key(base, patch)
        if key is None:
            return copy.deepcopy(patch)
        merged = list(base)
        for item in patch:
            index = next((i for i, old in enumerate(merged) if old[key] == item[key]), None)
            if index is None:
                merged.append(copy.deepcopy(item))
            else:
                merged[index] = _merge(merged[index], item, where, lists_merge)
        return merged
    return copy.deepcopy(patch)


def _associative_key(base: list[Any], patch: list[Any]) -> str | None:
    items = base + patch
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in ASSOCIATIVE_KEYS:
        if all(key in item for item in items):
            return key
    return None


def _pointer(path: str, where: Path) -> list[str]:
    if not path.startswith("/"):
        raise RenderError(f"{where}: JSON pointer {path!r} must start with /")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _json6902(doc: dict[str, Any], op: Any, where: Path) -> None:
    if not isinstance(op, dict) or op.get("op") not in ("add", "replace", "remove"):
        raise RenderError(f"{where}: only add/replace/remove operations are supported: {op}")
    *parents, last = _pointer(str(op.get("path", "")), where)
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.get(part)
        if node is None:
            raise RenderError(f"{where}: {op['path']} does not exist")
    kind = op["op"]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if kind == "add":
            node.insert(index, copy.deepcopy(op["value"]))
        elif kind == "replace":
            node[index] = copy.deepcopy(op["value"])
        else:
            del node[index]
        return
    if kind != "add" and last not in node:
        raise RenderError(f"{where}: {op['path']} does not exist")
    if kind == "remove":
        del node[last]
    else:
        node[last] = copy.deepcopy(op["value"])


# --- images ----------------------------------------------------------------------------------


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """``repo/name:tag@sha256:...`` -> (name, tag, digest)."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None


def containers(node: Any) -> Iterator[dict[str, Any]]:
    """Every entry of a ``containers`` / ``initContainers`` list, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from (item for item in value if isinstance(item, dict))
            yield from containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from containers(item)


def _apply_image(file: Path, spec: dict[str, Any], resources: list[Resource]) -> None:
    bad = sorted(set(spec) - {"name", "newName", "newTag", "digest"})
    if bad or "name" not in spec:
        raise RenderError(f"{file}: unsupported image fields {bad or ['(no name)']}")
    for resource in resources:
        for container in containers(resource.doc):
            image = container.get("image")
            if not isinstance(image, str):
                continue
            name, tag, digest = split_image(image)
            if name != spec["name"]:
                continue
            name = str(spec.get("newName", name))
            if "newTag" in spec:
                tag, digest = str(spec["newTag"]), None
            if "digest" in spec:
                tag, digest = None, str(spec["digest"])
            container["image"] = (
                name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
            )
