"""``make deploy-check``: every deploy artefact of ``infra/`` validated offline.

    python -m pipelines.deploy.check infra/k8s

* each kustomization under ``infra/k8s`` (base and overlays) rendered
  (:mod:`pipelines.deploy.render`) and checked (:mod:`pipelines.deploy.manifests`): core kinds
  against the Kubernetes OpenAPI schemas, custom resources against their CRDs' JSON schemas in
  ``infra/k8s/crds``, project rules (images pinned, secrets referenced never inlined, probes,
  resources, Flink state and metrics settings);
* ``infra/k8s/base/kafka-topics.yaml`` equal to what ``infra/k8s/gen_topics.py`` generates;
* the Dockerfiles in ``infra/docker`` (:mod:`pipelines.deploy.dockerfiles`);
* the alert rules in ``infra/prometheus`` (promtool check + unit tests) and the dashboard in
  ``infra/grafana`` (:mod:`pipelines.deploy.monitoring`).

Nothing here talks to a cluster, a registry or a Docker engine. Exit 0 when all hold, 1 with
one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.deploy import manifests, monitoring
from pipelines.deploy.dockerfiles import check_dockerfiles
from pipelines.deploy.problems import Problem
from pipelines.deploy.render import RenderError, Resource, build, kustomization_dirs

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def used_metric_names(infra: Path = INFRA) -> set[str]:
    """Every metric name the dashboard and the alert rules query (``up`` excluded).

    For a live test: the running stack must export each of these names.
    """
    return monitoring.used_metric_names(infra / "prometheus", infra / "grafana")


def check_topics(k8s_dir: Path) -> list[Problem]:
    """The committed KafkaTopics equal the ones generated from the stream catalog."""
    script = k8s_dir / "gen_topics.py"
    spec = importlib.util.spec_from_file_location("pulse_gen_topics", script)
    if spec is None or spec.loader is None:
        return [Problem(str(script), "cannot load")]
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as err:  # the stream catalog moved: gen_topics.py's one import
        return [Problem(str(script), f"cannot import the stream catalog: {err}")]
    output = Path(module.OUTPUT)
    if not output.is_file() or output.read_text() != module.render():
        return [Problem(str(output), f"differs from the stream catalog: run {script}")]
    return []


def render_all(k8s_dir: Path) -> tuple[dict[str, list[Resource]], list[Problem]]:
    """Every kustomization under ``k8s_dir``, rendered (label: its path)."""
    rendered: dict[str, list[Resource]] = {}
    problems: list[Problem] = []
    for directory in kustomization_dirs(k8s_dir):
        label = str(directory.relative_to(k8s_dir.parent))
        try:
            rendered[label] = build(directory)
        except RenderError as err:
            problems.append(Problem(label, str(err)))
    if not rendered and not problems:
        problems.append(Problem(str(k8s_dir), "no kustomization found"))
    return rendered, problems


def check_all(k8s_dir: Path) -> tuple[list[Problem], dict[str, list[Resource]]]:
    infra = k8s_dir.parent
    rendered, problems = render_all(k8s_dir)
    for label, resources in rendered.items():
        problems += manifests.check_resources(resources, k8s_dir / "crds", label)
    problems += check_topics(k8s_dir)
    problems += check_dockerfiles(infra / "docker", infra.parent)
    problems += monitoring.check_alerts(infra / "prometheus")
    problems += monitoring.check_dashboard(infra / "grafana")
    return problems, rendered


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.deploy.check", description=__doc__.splitlines()[0]
    )
    parser.add_argument("k8s_dir", type=Path, help="the kustomize tree (infra/k8s)")
    args = parser.parse_args(argv)
    k8s_dir: Path = args.k8s_dir.resolve()
    problems, rendered = check_all(k8s_dir)
    for label, resources in rendered.items():
        kinds = sorted({r.kind for r in resources})
        print(f"{label}: {len(resources)} resources ({', '.join(kinds)})")
    secrets = sorted(
        set().union(*(manifests.secret_references(r) for rs in rendered.values() for r in rs))
    )
    print("secrets referenced (create them before deploying):")
    for name, key in secrets:
        print(f"  {name}: {key}")
    print(f"metrics used by the dashboard and alerts: {len(used_metric_names(k8s_dir.parent))}")
    if problems:
        for problem in problems:
            print(f"FAIL {problem}", file=sys.stderr)
        print(f"deploy-check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(
        f"deploy-check: OK (Kubernetes {manifests.KUBERNETES_VERSION} schemas, "
        "CRD schemas, project rules, Dockerfiles, alert rules, dashboard)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
