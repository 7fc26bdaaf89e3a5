"""KubernetesProvider passes core's provider contract against the stand-in cluster, and
is found through its entry point."""

from __future__ import annotations

import importlib_metadata
import pytest

from plait.plugins import ENTRY_POINT_GROUP, Plugins, get_plugins
from plait.plugins.manager import use_plugins
from plait.providers.base import ExecutionProvider
from plait.testing import ProviderContract
from plait_provider_kubernetes import KubernetesProvider
from plait_provider_kubernetes.testing import TEST_NAMESPACE, KubeCluster


class TestKubernetesProvider(ProviderContract):
    @pytest.fixture
    def provider(self, kube: KubeCluster) -> ExecutionProvider:
        return KubernetesProvider(
            image="python:3.11",
            namespace=TEST_NAMESPACE,
            kubeconfig=kube.kubeconfig,
            status_polling_interval=0.1,
        )


def test_kubernetes_is_found_through_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed, the distribution declares entry point ``kubernetes`` in group ``plait``,
    a fresh scan resolves it to KubernetesProvider, and Parsl's import path works."""
    monkeypatch.delenv("PLAIT_PLUGINS", raising=False)
    monkeypatch.delenv("PLAIT_DISABLE_PLUGINS", raising=False)
    dist = importlib_metadata.distribution("plait-provider-kubernetes")
    (entry_point,) = [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
    assert (entry_point.name, entry_point.value) == (
        "kubernetes",
        "plait_provider_kubernetes.plugin",
    )
    with use_plugins(Plugins()):
        plugins = get_plugins()
        assert plugins.providers.get("kubernetes") is KubernetesProvider
        assert plugins.providers.source("kubernetes").distribution == "plait-provider-kubernetes"
        assert "kubernetes" not in plugins.load_errors
        from plait.providers import KubernetesProvider as Resolved

        assert Resolved is KubernetesProvider
