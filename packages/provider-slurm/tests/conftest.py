"""The private Slurm cluster (one per xdist worker) and helpers for these tests.

``slurm_apps.py`` beside this file holds the apps HTEX workers run; workers import
it by name, so this directory goes on ``sys.path`` and on the ``PYTHONPATH`` that
Slurm jobs inherit from the submitting process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from plait_provider_slurm.testing import slurm_cluster, slurm_conf

__all__ = ["slurm_cluster", "slurm_conf"]

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))


@pytest.fixture
def apps_on_pythonpath(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs inherit this environment (sbatch's default): let workers import ``slurm_apps``."""
    existing = os.environ.get("PYTHONPATH")
    value = str(TESTS_DIR) if not existing else os.pathsep.join([str(TESTS_DIR), existing])
    monkeypatch.setenv("PYTHONPATH", value)


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``fake_bin(name, script)``: put a bash script called ``name`` first on PATH."""
    directory = tmp_path / "fake-bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")

    def make(name: str, body: str) -> Path:
        path = directory / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(0o755)
        return path

    return make
