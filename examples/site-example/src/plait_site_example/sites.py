"""The site's configurations, as plain functions returning a fresh Config."""

from __future__ import annotations

import os
import sys

from plait import Config
from plait_executor_htex import HighThroughputExecutor
from plait_provider_slurm import SlurmProvider, SrunLauncher

#: what every job of this site runs first: the same Python environment as the submitter
WORKER_INIT = f"export PATH={os.path.dirname(sys.executable)}:$PATH"


def example_cluster(
    account: str | None = None,
    partition: str = "debug",
    nodes_per_block: int = 1,
    max_blocks: int = 2,
    walltime: str = "00:30:00",
    heartbeat_period: float = 30.0,
    heartbeat_threshold: float = 120.0,
    run_dir: str = "runinfo",
) -> Config:
    """HTEX on the example cluster: one manager per node started by ``srun``, blocks of
    ``nodes_per_block`` nodes, scaled between 0 and ``max_blocks`` by ``htex_auto_scale``."""
    provider = SlurmProvider(
        partition=partition,
        account=account,
        nodes_per_block=nodes_per_block,
        init_blocks=1,
        min_blocks=0,
        max_blocks=max_blocks,
        walltime=walltime,
        worker_init=WORKER_INIT,
        launcher=SrunLauncher(),
    )
    executor = HighThroughputExecutor(
        label="example-cluster",
        provider=provider,
        heartbeat_period=heartbeat_period,
        heartbeat_threshold=heartbeat_threshold,
    )
    return Config(executors=[executor], strategy="htex_auto_scale", run_dir=run_dir)
