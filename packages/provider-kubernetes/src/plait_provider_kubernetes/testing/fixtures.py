"""pytest fixtures for a stand-in Kubernetes cluster (requires the ``testing`` extra).

Import them into a ``conftest.py``::

    from plait_provider_kubernetes.testing.fixtures import kube, kube_cluster  # noqa: F401

``kube_cluster`` (session scope, so once per pytest-xdist worker) starts a
:class:`~plait_provider_kubernetes.testing.cluster.KubeCluster` with ``no_proxy``
covering loopback, and at the end stops the pod runner (which stops every pod's
processes) and the API server, and removes its directory. ``kube`` (function scope)
gives a test the running cluster after checking both processes are up, and
afterwards force-deletes every pod the test left, waiting until the pod runner has
stopped their processes, so no test sees another's pods.
"""

from __future__ import annotations

import atexit
import json
from collections.abc import Iterator
from typing import Any

import pytest

from plait.testing import wait_until
from plait_provider_kubernetes.testing.cluster import (
    ClusterError,
    KubeCluster,
    no_proxy_for_loopback,
    pod_processes,
)

__all__ = ["kube", "kube_cluster"]


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[KubeCluster]:
    """The API server emulator and pod runner, running for the whole session."""
    cluster = KubeCluster()
    atexit.register(cluster.stop)  # should the session be torn down without finalizers
    with no_proxy_for_loopback():
        try:
            cluster.start()
        except ClusterError as exc:
            pytest.fail(f"the stand-in Kubernetes cluster did not start: {exc}", pytrace=False)
        try:
            yield cluster
        finally:
            cluster.stop()
            atexit.unregister(cluster.stop)


@pytest.fixture
def kube(kube_cluster: KubeCluster) -> Iterator[KubeCluster]:
    """The session's cluster for one test; pods the test leaves are deleted after it."""
    exited = kube_cluster.exited()
    if exited:
        pytest.fail(f"{exited} exited; see {kube_cluster.dir}/*.stderr")
    try:
        yield kube_cluster
    finally:
        _delete_every_pod(kube_cluster)


def _delete_every_pod(cluster: KubeCluster, timeout: float = 20.0) -> None:
    from kubernetes.client.exceptions import ApiException

    api = cluster.client()
    try:
        names = set()
        response: Any = api.list_pod_for_all_namespaces(_preload_content=False)
        for pod in json.loads(response.data)["items"]:
            meta = pod["metadata"]
            names.add(meta["name"])
            try:
                api.delete_namespaced_pod(
                    meta["name"], meta["namespace"], grace_period_seconds=0, _preload_content=False
                )
            except ApiException as exc:
                if exc.status != 404:  # 404: its provider deleted it meanwhile
                    raise
        wait_until(
            lambda: not pod_processes(names), timeout, 0.05, what="the pods' processes to end"
        )
    finally:
        api.api_client.close()
