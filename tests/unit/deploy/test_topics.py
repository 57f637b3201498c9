"""The KafkaTopics in the manifests are exactly the stream catalog's topics."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import yaml

from tests.unit.deploy.conftest import INFRA

SCRIPT = INFRA / "k8s" / "gen_topics.py"


def _gen_topics() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_topics_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_yaml_equals_the_generated_one() -> None:
    gen = _gen_topics()
    assert Path(gen.OUTPUT).read_text() == gen.render()
    assert gen.main(["--check"]) == 0


def test_every_catalog_topic_and_only_those() -> None:
    docs = [d for d in yaml.safe_load_all((INFRA / "k8s/base/kafka-topics.yaml").read_text()) if d]
    declared = {d["spec"]["topicName"]: d for d in docs}
    catalog = {spec.name: spec for spec in _gen_topics().pulse_topics()}  # the one import
    assert set(declared) == set(catalog)
    for name, doc in declared.items():
        assert doc["kind"] == "KafkaTopic"
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "pulse"
        config = {k: str(v) for k, v in doc["spec"]["config"].items()}
        assert {k: config[k] for k in catalog[name].config} == dict(catalog[name].config)


def test_co_partitioned_clean_topics() -> None:
    docs = [d for d in yaml.safe_load_all((INFRA / "k8s/base/kafka-topics.yaml").read_text()) if d]
    counts = {d["spec"]["topicName"]: d["spec"]["partitions"] for d in docs}
    assert counts["clean.views"] == counts["clean.comments"] == counts["clean.ad_clicks"]


def test_check_detects_a_stale_file(tmp_path: Path) -> None:
    gen = _gen_topics()
    stale = tmp_path / "kafka-topics.yaml"
    stale.write_text(gen.render().replace("partitions: 6", "partitions: 5", 1))
    assert gen.main(["--check", "--out", str(stale)]) == 1
    assert gen.main(["--out", str(stale)]) == 0
    assert gen.main(["--check", "--out", str(stale)]) == 0


def test_the_catalog_is_imported_in_one_place_only() -> None:
    users = [
        path
        for path in (INFRA / "k8s").rglob("*.py")
        if "pulse_topics" in path.read_text() and "import" in path.read_text()
    ]
    assert users == [SCRIPT]
