"""Shared fixtures: a fresh warehouse folder and a helper running the `pulse` CLI.

chdb hosts one engine per process (one folder at a time), so tests that need a
warehouse either run the CLI in a subprocess (``pulse_cli``) or open the folder
in-process and CLOSE it before the test ends (see
``tests/integration/warehouse/conftest.py``: ``warehouse``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PulseCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def warehouse_dir(tmp_path: Path) -> Path:
    """A path for a new embedded warehouse (the folder does not exist yet)."""
    return tmp_path / "warehouse"


@pytest.fixture
def pulse_cli(warehouse_dir: Path) -> PulseCli:
    """Run ``pulse ARGS...`` in a subprocess with PULSE_WAREHOUSE=warehouse_dir.

    Returns the CompletedProcess (text stdout/stderr); never raises on a
    non-zero exit. ``env`` adds/overrides environment variables.
    """

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "PULSE_WAREHOUSE": str(warehouse_dir), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "pipelines", *args],
            cwd=REPO,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run
