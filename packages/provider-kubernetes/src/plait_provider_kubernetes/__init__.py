"""plait on Kubernetes: the ``kubernetes`` provider, each block one pod."""

from plait_provider_kubernetes.__about__ import __version__
from plait_provider_kubernetes.provider import KubernetesProvider

__all__ = ["KubernetesProvider", "__version__"]
