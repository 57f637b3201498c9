"""The manifest checks pass on the committed tree and fail on deliberately broken copies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from pipelines.deploy.check import check_all, render_all
from pipelines.deploy.manifests import check_resources, image_problem, secret_references
from pipelines.deploy.problems import Problem
from tests.unit.deploy.conftest import INFRA, REPO


def _problems(k8s: Path) -> list[Problem]:
    rendered, problems = render_all(k8s)
    for label, resources in rendered.items():
        problems += check_resources(resources, k8s / "crds", label)
    return problems


def _edit(path: Path, index: int, change: Any) -> None:
    """Apply ``change(doc)`` to the ``index``-th document of a YAML file."""
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    change(docs[index])
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def _messages(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)


def test_committed_artefacts_pass_every_check() -> None:
    problems, rendered = check_all(INFRA / "k8s")
    assert problems == []
    assert set(rendered) == {"k8s/base", "k8s/overlays/local"}
    kinds = {r.kind for r in rendered["k8s/base"]}
    assert {
        "FlinkDeployment",
        "Deployment",
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
        "ClickHouseInstallation",
        "ConfigMap",
        "PodMonitor",
    } <= kinds


def test_cli_exit_codes(repo_copy: Path) -> None:
    k8s = repo_copy / "infra" / "k8s"
    ok = subprocess.run(
        [sys.executable, "-m", "pipelines.deploy.check", str(k8s)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "deploy-check: OK" in ok.stdout
    _edit(k8s / "base" / "ingest.yaml", 0, lambda d: d["spec"].update(replicas="two"))
    bad = subprocess.run(
        [sys.executable, "-m", "pipelines.deploy.check", str(k8s)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "Deployment/pulse-ingest" in bad.stderr and "replicas" in bad.stderr


def test_unknown_field_in_flinkdeployment_is_rejected(repo_copy: Path) -> None:
    k8s = repo_copy / "infra" / "k8s"
    path = k8s / "base" / "flink-streaming.yaml"
    _edit(path, 0, lambda d: d["spec"].update(savepointDir="s3://x"))
    text = _messages(_problems(k8s))
    assert "FlinkDeployment/pulse-streaming" in text
    assert "'savepointDir' was unexpected" in text


def test_unknown_nested_field_in_a_custom_resource_is_rejected(repo_copy: Path) -> None:
    k8s = repo_copy / "infra" / "k8s"
    _edit(k8s / "base" / "flink-streaming.yaml", 0, lambda d: d["spec"]["job"].update(py="x"))
    _edit(k8s / "base" / "kafka.yaml", 1, lambda d: d["spec"]["kafka"].update(zookeeper={}))
    text = _messages(_problems(k8s))
    assert "spec.job: Additional properties are not allowed ('py'" in text
    assert "'zookeeper' was unexpected" in text


def test_unknown_field_in_a_core_kind_is_rejected(repo_copy: Path) -> None:
    k8s = repo_copy / "infra" / "k8s"

    def bogus(doc: dict[str, Any]) -> None:
        doc["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}

    _edit(k8s / "base" / "loader.yaml", 0, bogus)
    text = _messages(_problems(k8s))
    assert "Deployment/pulse-loader" in text and "'livenesProbe' was unexpected" in text


def test_unpinned_images_are_rejected(repo_copy: Path) -> None:
    k8s = repo_copy / "infra" / "k8s"

    def latest(doc: dict[str, Any]) -> None:
        doc["spec"]["template"]["spec"]["containers"][0]["image"] = "pulse/faust-jobs:latest"

    _edit(k8s / "base" / "ingest.yaml", 0, latest)
    _edit(k8s / "base" / "flink-streaming.yaml", 0, lambda d: d["spec"].update(image="pulse/f"))
    text = _messages(_problems(k8s))
    assert "pulse/faust-jobs:latest uses the moving tag 'latest'" in text
    assert "image pulse/f has no tag" in text
    assert image_problem("minio/minio:RELEASE.2025-09-07T16-13-09Z") is None
    assert image_problem("busybox@sha256:" + "a" * 64) is None
    assert image_problem("busybox:stable") is not None


def test_inline_passwords_are_rejected(repo_copy: Path) -> None:
    k8s = repo_copy / "infra" / "k8s"

    def inline_env(doc: dict[str, Any]) -> None:
        env = doc["spec"]["template"]["spec"]["containers"][0]["env"]
        for item in env:
            if item["name"] == "PULSE_WAREHOUSE_PASSWORD":
                item.pop("valueFrom")
                item["value"] = "hunter2"

    def inline_user(doc: dict[str, Any]) -> None:
        doc["spec"]["configuration"]["users"]["pulse_loader/password"] = "hunter2"

    _edit(k8s / "base" / "loader.yaml", 0, inline_env)
    _edit(k8s / "base" / "clickhouse.yaml", 0, inline_user)
    _edit(k8s / "base" / "config.yaml", 0, lambda d: d["data"].update(S3_SECRET_KEY="x"))
    text = _messages(_problems(k8s))
    assert "env PULSE_WAREHOUSE_PASSWORD has an inline value" in text
    assert "pulse_loader/password: literal value for a secret-named key" in text
    assert "ConfigMap key S3_SECRET_KEY looks like a secret" in text


def test_a_secret_with_data_is_rejected(repo_copy: Path) -> None:
    k8s = repo_copy / "infra" / "k8s"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "pulse-clickhouse"},
        "stringData": {"loader-password": "hunter2"},
    }
    (k8s / "base" / "secret.yaml").write_text(yaml.safe_dump(secret))
    kustomization = k8s / "base" / "kustomization.yaml"
    _edit(kustomization, 0, lambda d: d["resources"].append("secret.yaml"))
    assert "a Secret with data" in _messages(_problems(k8s))


def test_probes_resources_and_flink_rules(repo_copy: Path) -> None:
    k8s = repo_copy / "infra" / "k8s"

    def strip(doc: dict[str, Any]) -> None:
        container = doc["spec"]["template"]["spec"]["containers"][0]
        container.pop("readinessProbe")
        container["resources"].pop("limits")

    def flink(doc: dict[str, Any]) -> None:
        doc["spec"]["job"]["upgradeMode"] = "stateless"
        doc["spec"]["flinkConfiguration"]["execution.checkpointing.dir"] = "file:///tmp/ckpt"
        doc["spec"]["flinkConfiguration"].pop("metrics.reporter.prom.factory.class")
        doc["spec"]["flinkConfiguration"]["table.exec.source.idle-timeout"] = "30 s"

    _edit(k8s / "base" / "ingest.yaml", 0, strip)
    _edit(k8s / "base" / "flink-streaming.yaml", 0, flink)
    text = _messages(_problems(k8s))
    assert "container ingest: no readinessProbe" in text
    assert "container ingest: resources.limits lacks ['cpu', 'memory']" in text
    assert "job.upgradeMode must be savepoint" in text
    assert "execution.checkpointing.dir must be in object storage" in text
    assert "metrics.reporter.prom.factory.class must be" in text
    assert "table.exec.source.idle-timeout must not be set" in text


def test_topics_must_belong_to_a_kraft_cluster(repo_copy: Path) -> None:
    k8s = repo_copy / "infra" / "k8s"
    _edit(k8s / "base" / "kafka.yaml", 0, lambda d: d["spec"].update(roles=["broker"]))
    text = _messages(_problems(k8s))
    assert "Kafka/pulse: no KafkaNodePool with the controller role" in text


def test_every_referenced_secret_is_documented() -> None:
    rendered, problems = render_all(INFRA / "k8s")
    assert problems == []
    docs = (REPO / "docs" / "deploy.md").read_text()
    refs = {ref for rs in rendered.values() for r in rs for ref in secret_references(r)}
    assert refs
    for name, key in sorted(refs):
        assert f"`{name}`" in docs and f"`{key}`" in docs, (name, key)


def test_obsolete_or_unknown_settings_variables_are_rejected(repo_copy: Path) -> None:
    k8s = repo_copy / "infra" / "k8s"
    _edit(
        k8s / "base" / "config.yaml",
        0,
        lambda d: d["data"].update(PULSE_KAFKA_BOOTSTRAP="x:9092", PULSE_METRICS__HOTS="0.0.0.0"),
    )
    text = _messages(_problems(k8s))
    assert "PULSE_KAFKA_BOOTSTRAP is obsolete: the settings read PULSE_KAFKA__BOOTSTRAP" in text
    assert "PULSE_METRICS__HOTS is read by no setting" in text
