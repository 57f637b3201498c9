"""Offline checks of the rendered Kubernetes manifests.

* core kinds against the Kubernetes OpenAPI schemas that ``kubernetes-validate`` ships
  (strict: unknown fields are errors), including the pod and volume-claim specs embedded in
  a ``ClickHouseInstallation`` (its CRD leaves them unchecked);
* custom resources against the strict JSON schemas of their CRDs in ``infra/k8s/crds``;
* project rules: images pinned, secrets referenced and never inlined, probes and resources
  on every job container, the FlinkDeployment's state and metrics settings, topics bound to
  a KRaft Kafka cluster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]

from pipelines.deploy.crdschema import DNS1123_SUBDOMAIN, schema_file_name
from pipelines.deploy.problems import Problem
from pipelines.deploy.render import Resource, containers, split_image
from pipelines.deploy.settings_env import env_problem
from pipelines.flink.job import STABLE_UID_OPTIONS

KUBERNETES_VERSION = "1.33.0"

# an env var, config key or map key that holds a secret by its name
SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential",
    re.IGNORECASE,
)
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
PYTHON_DRIVER = "org.apache.flink.client.python.PythonDriver"
FLINK_ENTRY = "/opt/pulse/jobs/flink_streaming.py"
PROM_FACTORY = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
FLINK_REQUIRED = {
    "high-availability.type": "kubernetes",
    "metrics.reporter.prom.factory.class": PROM_FACTORY,
    "metrics.reporter.prom.port": "9249",
    # stable operator uids: an upgrade through a savepoint restores the same statements' state
    **dict(STABLE_UID_OPTIONS),
}
#: keys the job must not get from the deployment, and why
FLINK_FORBIDDEN = {
    "table.exec.source.idle-timeout": "it idles EVENT streams too (a silent stream must hold "
    "the watermark); the job idles the changelog sources alone "
    "(PULSE_FLINK__CHANGELOG_IDLE_TIMEOUT_S)",
}
FLINK_OBJECT_STORE = (
    "execution.checkpointing.dir",
    "execution.checkpointing.savepoint-dir",
    "high-availability.storageDir",
)
JOB_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def is_core(api_version: str) -> bool:
    """A built-in Kubernetes API group (``v1``, ``apps/v1``, ``networking.k8s.io/v1``)."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


# --- schemas -----------------------------------------------------------------------------------


def validate_core(doc: dict[str, Any], where: str) -> list[Problem]:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        path = ".".join(str(part) for part in err.path) or "(top)"
        return [Problem(where, f"Kubernetes {KUBERNETES_VERSION} schema: {path}: {err.message}")]
    except kubernetes_validate.SchemaNotFoundError as err:
        return [Problem(where, f"no Kubernetes schema: {err.message}")]
    return []


@lru_cache(maxsize=32)
def _crd_validator(path: Path) -> jsonschema.Draft202012Validator:
    schema = json.loads(path.read_text())
    return jsonschema.Draft202012Validator(schema)


def validate_custom(doc: dict[str, Any], where: str, crd_dir: Path) -> list[Problem]:
    group, _, version = str(doc.get("apiVersion", "")).rpartition("/")
    path = crd_dir / schema_file_name(str(doc.get("kind", "")), group, version)
    if not path.is_file():
        return [Problem(where, f"no CRD schema {path.name} in {crd_dir}")]
    problems = []
    for err in sorted(_crd_validator(path).iter_errors(doc), key=lambda e: list(e.path)):
        at = ".".join(str(part) for part in err.path) or "(top)"
        problems.append(Problem(where, f"CRD schema {path.name}: {at}: {err.message}"))
    return problems


def _embedded_core(resource: Resource, where: str) -> list[Problem]:
    """Pod and claim specs a ClickHouseInstallation embeds (its CRD does not check them)."""
    if resource.kind != "ClickHouseInstallation":
        return []
    problems: list[Problem] = []
    templates = resource.doc.get("spec", {}).get("templates", {})
    for kind, key in (("Pod", "podTemplates"), ("PersistentVolumeClaim", "volumeClaimTemplates")):
        for template in templates.get(key, []):
            name = str(template.get("name", "unnamed"))
            doc = {
                "apiVersion": "v1",
                "kind": kind,
                "metadata": {"name": name},
                "spec": template.get("spec", {}),
            }
            problems += validate_core(doc, f"{where} {key}[{name}]")
    return problems


# --- project rules -------------------------------------------------------------------------------


def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned (None when it is)."""
    _name, tag, digest = split_image(image)
    if digest is not None:
        return None if DIGEST.match(digest) else f"image {image}: malformed digest"
    if tag is None:
        return f"image {image} has no tag: pin it by version tag or digest"
    if tag == "latest" or not re.search(r"\d", tag):
        return f"image {image} uses the moving tag {tag!r}: pin a version or a digest"
    return None


def images(resource: Resource) -> Iterator[str]:
    for container in containers(resource.doc):
        if "image" in container:
            yield str(container["image"])
    if resource.kind == "FlinkDeployment":
        image = resource.doc.get("spec", {}).get("image")
        if image is None:
            yield "(FlinkDeployment without spec.image)"
        else:
            yield str(image)


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, key, value) of every mapping entry, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            yield here, key, value
            yield from _walk(value, here)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{index}]")


def inline_secrets(resource: Resource) -> list[str]:
    """Places where a secret-named value is written into the manifest itself."""
    found: list[str] = []
    if resource.kind == "Secret" and (resource.doc.get("data") or resource.doc.get("stringData")):
        found.append("a Secret with data: create secrets out of band, reference them")
    if resource.kind == "ConfigMap":
        for key in resource.doc.get("data", {}) or {}:
            if SECRET_NAME.search(str(key)):
                found.append(f"ConfigMap key {key} looks like a secret: use a Secret")
    for path, key, value in _walk(resource.doc):
        if key == "env" and isinstance(value, list):
            for item in value:
                name = str(item.get("name", ""))
                if SECRET_NAME.search(name) and "value" in item:
                    found.append(f"{path}: env {name} has an inline value: use secretKeyRef")
                ref = item.get("valueFrom", {}) or {}
                if SECRET_NAME.search(name) and "configMapKeyRef" in ref:
                    found.append(f"{path}: env {name} comes from a ConfigMap: use secretKeyRef")
        elif (
            key not in ("secretKeyRef", "secretRef", "secretName", "key", "name")
            and SECRET_NAME.search(str(key))
            and isinstance(value, str | int | float)
            and not isinstance(value, bool)
        ):
            found.append(f"{path}: literal value for a secret-named key: reference a Secret")
    return found


def secret_references(resource: Resource) -> set[tuple[str, str]]:
    """``(secret name, key)`` of every ``secretKeyRef`` (``*`` for whole-secret references)."""
    refs: set[tuple[str, str]] = set()
    for _path, key, value in _walk(resource.doc):
        if key == "secretKeyRef" and isinstance(value, dict):
            refs.add((str(value.get("name")), str(value.get("key"))))
        elif key == "secretRef" and isinstance(value, dict):
            refs.add((str(value.get("name")), "*"))
        elif key == "secretName" and isinstance(value, str):
            refs.add((value, "*"))
    return refs


def settings_variables(resource: Resource) -> list[str]:
    """``PULSE_*`` names no setting reads: in ConfigMap data and container ``env``."""
    names: list[str] = []
    if resource.kind == "ConfigMap":
        names += [str(key) for key in resource.doc.get("data", {}) or {}]
    for container in containers(resource.doc):
        names += [str(item.get("name", "")) for item in container.get("env", []) or []]
    return [reason for reason in map(env_problem, names) if reason]


def _job_container_rules(resource: Resource) -> list[str]:
    if resource.kind not in JOB_KINDS:
        return []
    found: list[str] = []
    pod = resource.doc.get("spec", {}).get("template", {}).get("spec", {})
    for group in ("initContainers", "containers"):
        for container in pod.get(group, []) or []:
            name = container.get("name", "?")
            resources = container.get("resources", {}) or {}
            for part in ("requests", "limits"):
                have = resources.get(part, {}) or {}
                missing = [r for r in ("cpu", "memory") if r not in have]
                if missing:
                    found.append(f"container {name}: resources.{part} lacks {missing}")
            if group == "initContainers":
                continue
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in container:
                    found.append(f"container {name}: no {probe}")
    return found


def _flink_rules(resource: Resource) -> list[str]:
    if resource.kind != "FlinkDeployment":
        return []
    spec = resource.doc.get("spec", {})
    job = spec.get("job", {}) or {}
    config = spec.get("flinkConfiguration", {}) or {}
    found: list[str] = []
    if job.get("entryClass") != PYTHON_DRIVER:
        found.append(f"job.entryClass must be {PYTHON_DRIVER}")
    args = [str(a) for a in job.get("args", []) or []]
    if "-py" not in args or args[args.index("-py") + 1 : args.index("-py") + 2] != [FLINK_ENTRY]:
        found.append(f"job.args must run -py {FLINK_ENTRY}")
    if job.get("upgradeMode") != "savepoint":
        found.append("job.upgradeMode must be savepoint")
    for key, value in config.items():
        if not isinstance(value, str):
            found.append(f"flinkConfiguration {key}: quote the value (a string)")
    for key, want in FLINK_REQUIRED.items():
        if config.get(key) != want:
            found.append(f"flinkConfiguration {key} must be {want!r}")
    for key, why in FLINK_FORBIDDEN.items():
        if key in config:
            found.append(f"flinkConfiguration {key} must not be set: {why}")
    for key in FLINK_OBJECT_STORE:
        if not str(config.get(key, "")).startswith("s3://"):
            found.append(f"flinkConfiguration {key} must be in object storage (s3://...)")
    if not str(config.get("pipeline.max-parallelism", "")).isdigit():
        found.append("flinkConfiguration pipeline.max-parallelism must be set (an integer)")
    return found


def _kafka_rules(resources: list[Resource]) -> list[Problem]:
    problems: list[Problem] = []
    clusters = {r.name for r in resources if r.kind == "Kafka"}
    controllers = {
        str(r.doc["metadata"].get("labels", {}).get("strimzi.io/cluster"))
        for r in resources
        if r.kind == "KafkaNodePool" and "controller" in r.doc.get("spec", {}).get("roles", [])
    }
    for name in sorted(clusters - controllers):
        problems.append(Problem(f"Kafka/{name}", "no KafkaNodePool with the controller role"))
    for resource in resources:
        if resource.kind in ("KafkaTopic", "KafkaNodePool"):
            cluster = resource.doc["metadata"].get("labels", {}).get("strimzi.io/cluster")
            if cluster not in clusters:
                problems.append(Problem(resource.ident, f"strimzi.io/cluster {cluster!r} unknown"))
    return problems


def check_resources(resources: list[Resource], crd_dir: Path, label: str) -> list[Problem]:
    """Every schema and rule check of one rendered kustomization."""
    problems: list[Problem] = []
    for resource in resources:
        where = f"{label}: {resource.ident}"
        if not re.match(DNS1123_SUBDOMAIN, resource.name):
            problems.append(Problem(where, f"name {resource.name!r} is not a DNS-1123 subdomain"))
        if is_core(resource.api_version):
            problems += validate_core(resource.doc, where)
        else:
            problems += validate_custom(resource.doc, where, crd_dir)
        problems += _embedded_core(resource, where)
        for image in images(resource):
            reason = image_problem(image)
            if reason:
                problems.append(Problem(where, reason))
        rules = inline_secrets(resource) + settings_variables(resource)
        rules += _job_container_rules(resource) + _flink_rules(resource)
        problems += [Problem(where, message) for message in rules]
    problems += [Problem(f"{label}: {p.where}", p.message) for p in _kafka_rules(resources)]
    return problems
