"""Documentation points only at files that exist in the repository (no stale path after a
move, nothing outside the repository)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "infra/kafka/TOPICS.md"]
#: a repository path in backquotes or a link: pipelines/..., jobs/..., schemas/..., infra/...
PATH = re.compile(r"(?<![\w/.])((?:pipelines|jobs|schemas|infra|tests|bench)/[\w./*-]+)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_path_a_document_names_exists(doc: Path) -> None:
    missing = []
    for match in PATH.finditer(doc.read_text()):
        path = match.group(1).rstrip(".,:;)")
        if "*" in path:
            if not list(REPO.glob(path)):
                missing.append(path)
        elif not (REPO / path).exists():
            missing.append(path)
    assert not missing, f"{doc.name} names paths that do not exist: {sorted(set(missing))}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_no_document_points_outside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    assert "../shared" not in text and "DOMAIN.md" not in text
