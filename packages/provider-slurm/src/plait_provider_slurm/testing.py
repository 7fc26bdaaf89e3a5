"""pytest fixtures for tests that need a real Slurm cluster (requires pytest).

Other packages' tests use them by importing them into their ``conftest.py``::

    from plait_provider_slurm.testing import slurm_cluster, slurm_conf  # noqa: F401

``slurm_cluster`` (session scope, so once per pytest-xdist worker) starts a
private :class:`~plait_provider_slurm.cluster.SlurmCluster`: munged, MariaDB,
slurmdbd, slurmctld and two emulated nodes under one temporary directory, and
points this process at it (``SLURM_CONF``) for the whole session. At the end of
the session (also after failures or Ctrl-C) every job is cancelled, the daemons
are stopped by PID, leftover job processes are killed and the directory is
removed. The fixture skips, saying what to install, only where the Debian
packages are missing; set ``PLAIT_REQUIRE_SLURM=1`` (CI does) to fail instead.

``slurm_conf`` (function scope) gives the test the running cluster after
checking its daemons are still up, and cancels whatever the test left in the
queue afterwards, so one test's jobs never hold another test's nodes.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator

import pytest

from plait_provider_slurm.cluster import (
    ClusterError,
    SlurmCluster,
    missing_requirements,
    slurm_environment,
)

__all__ = ["SlurmCluster", "slurm_cluster", "slurm_conf"]

#: nodes in the test cluster (each advertises 4 CPUs)
TEST_NODES = 2


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """A private Slurm cluster with accounting, running for the whole session."""
    reason = missing_requirements()
    if reason:
        if os.environ.get("PLAIT_REQUIRE_SLURM"):
            pytest.fail(f"PLAIT_REQUIRE_SLURM is set but {reason}")
        pytest.skip(reason)
    cluster = SlurmCluster(nodes=TEST_NODES)
    atexit.register(cluster.stop)  # should the session be torn down without finalizers
    try:
        cluster.start()
    except ClusterError as exc:
        pytest.fail(f"the private Slurm cluster did not start: {exc}", pytrace=False)
    try:
        with slurm_environment(cluster):
            yield cluster
    finally:
        cluster.stop()
        atexit.unregister(cluster.stop)


@pytest.fixture
def slurm_conf(slurm_cluster: SlurmCluster) -> Iterator[SlurmCluster]:
    """The session's cluster for one test; jobs the test leaves behind are cancelled."""
    dead = [name for name, proc in slurm_cluster.procs.items() if proc.poll() is not None]
    if dead:
        pytest.fail(f"Slurm daemons {dead} have exited; see {slurm_cluster.dir}/log")
    try:
        yield slurm_cluster
    finally:
        _cancel_everything(slurm_cluster)


def _cancel_everything(cluster: SlurmCluster, timeout: float = 20.0) -> None:
    import time

    if not cluster.queue():
        return
    cluster.run("scancel", "--user=root", check=False)
    deadline = time.monotonic() + timeout
    while cluster.queue():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"jobs still queued {timeout:g} s after scancel: {cluster.queue()}"
            )
        time.sleep(0.1)
