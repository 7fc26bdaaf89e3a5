"""The ``kubernetes`` entry point: registers the provider, importing nothing heavy (the
Kubernetes client is imported only when a provider is built)."""

from __future__ import annotations

from typing import Any

import plait


@plait.hookimpl
def plait_register_providers(registry: Any) -> None:
    """``kubernetes``: :class:`~plait_provider_kubernetes.provider.KubernetesProvider`."""
    from plait_provider_kubernetes.provider import KubernetesProvider

    registry.add(KubernetesProvider)
