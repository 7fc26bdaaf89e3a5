"""Fixtures for plait-monitoring's tests: a private PostgreSQL server per xdist worker,
a run directory per test, and the helpers in ``monitoring_helpers.py`` beside this file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from plait_monitoring.testing import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))


@pytest.fixture
def runs_root(tmp_path: Path) -> str:
    """The Config.run_dir of this test's runs (its SQLite database is monitoring.db in it)."""
    return str(tmp_path / "runinfo")
