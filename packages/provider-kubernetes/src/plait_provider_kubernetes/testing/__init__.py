"""A stand-in Kubernetes cluster for tests and benchmarks (needs the ``testing`` extra).

:class:`~plait_provider_kubernetes.testing.cluster.KubeCluster` runs an in-memory API
server (:mod:`~plait_provider_kubernetes.testing.apiserver`, built on kmock) and a pod
runner that plays the kubelet (:mod:`~plait_provider_kubernetes.testing.podrunner`),
with a kubeconfig pointing at them. pytest fixtures for it are in
:mod:`~plait_provider_kubernetes.testing.fixtures`.
"""

from plait_provider_kubernetes.testing.cluster import (
    FORBIDDEN_NAMESPACE,
    NODE_LABELS,
    TEST_NAMESPACE,
    ClusterError,
    KubeCluster,
    no_proxy_for_loopback,
    pod_processes,
)

__all__ = [
    "FORBIDDEN_NAMESPACE",
    "NODE_LABELS",
    "TEST_NAMESPACE",
    "ClusterError",
    "KubeCluster",
    "no_proxy_for_loopback",
    "pod_processes",
]
