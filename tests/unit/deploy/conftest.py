"""A writable copy of the deploy artefacts, to break on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
INFRA = REPO / "infra"


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """``<tmp>/repo`` with infra/{k8s,docker,prometheus,grafana}, infra/pom.xml, pyproject.toml."""
    root = tmp_path / "repo"
    for part in ("k8s", "docker", "prometheus", "grafana"):
        shutil.copytree(INFRA / part, root / "infra" / part)
    shutil.copy(INFRA / "pom.xml", root / "infra" / "pom.xml")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root
