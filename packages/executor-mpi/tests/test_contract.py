"""MPIExecutor passes core's executor contract, every task asking for one rank on one node."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mpi_helpers import HB_PERIOD, HB_THRESHOLD, TASK_TIMEOUT, require_mpi

from plait.executors.base import Executor
from plait.testing import ExecutorContract
from plait_executor_mpi import MPIExecutor

pytestmark = pytest.mark.timeout(180)


class TestMPIExecutorContract(ExecutorContract):
    resource_specification = {"num_nodes": 1, "num_ranks": 1}
    timeout = TASK_TIMEOUT
    shutdown_timeout = 10.0

    @pytest.fixture
    def executor(self) -> Iterator[Executor]:
        require_mpi("openmpi")
        executor = MPIExecutor(
            label="contract-mpi",
            max_workers_per_block=2,
            heartbeat_period=HB_PERIOD,
            heartbeat_threshold=HB_THRESHOLD,
        )
        yield executor
        executor.shutdown()
