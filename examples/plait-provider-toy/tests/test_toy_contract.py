"""The toy provider passes plait's provider contract and is found through its entry point."""

from __future__ import annotations

from pathlib import Path

import importlib_metadata
import pytest

from plait.plugins import ENTRY_POINT_GROUP, Plugins, get_plugins
from plait.plugins.manager import use_plugins
from plait.providers.base import ExecutionProvider
from plait.testing import ProviderContract
from plait_provider_toy import ToyProvider


class TestToyProvider(ProviderContract):
    @pytest.fixture
    def provider(self, tmp_path: Path) -> ExecutionProvider:
        return ToyProvider(spool_dir=str(tmp_path / "spool"))


def test_toy_is_found_through_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed, the distribution declares entry point ``toy`` in group ``plait``, and a
    freshly scanned plugin manager resolves provider ``toy`` to ``ToyProvider``."""
    monkeypatch.delenv("PLAIT_PLUGINS", raising=False)
    monkeypatch.delenv("PLAIT_DISABLE_PLUGINS", raising=False)

    dist = importlib_metadata.distribution("plait-provider-toy")
    assert dist.metadata["Name"] == "plait-provider-toy"
    (entry_point,) = [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
    assert entry_point.name == "toy"
    assert entry_point.value == "plait_provider_toy.plugin"

    with use_plugins(Plugins()):  # a fresh scan of the installed entry points
        plugins = get_plugins()
        assert plugins.providers.get("toy") is ToyProvider
        source = plugins.providers.source("toy")
        assert source.plugin == "toy"
        assert source.distribution == "plait-provider-toy"
        assert source.version == dist.version
        assert "toy" not in plugins.load_errors
