"""Parsl's HTEX on Parsl's SlurmProvider: the Parsl side of ``benchmarks/slurm_side.py``.

The same block as ``htex_slurm.py`` (one node, two cores, two workers, ``srun``), in
a default Parsl ``Config`` as its users get it. Parsl's provider bills whole nodes
unless told otherwise (``exclusive=True``), so ``exclusive=False`` asks for what plait
asks for. Managers reach the interchange over loopback, as plait's do. Run by Parsl's
own interpreter (``slurm_side.py parsl-startup``), never imported by plait.
"""

from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.launchers import SrunLauncher
from parsl.providers import SlurmProvider


def fresh_config() -> Config:
    return Config(
        executors=[
            HighThroughputExecutor(
                label="htex-slurm",
                address="127.0.0.1",
                max_workers_per_node=2,
                provider=SlurmProvider(
                    partition="debug",
                    nodes_per_block=1,
                    cores_per_node=2,
                    exclusive=False,
                    walltime="00:10:00",
                    init_blocks=1,
                    max_blocks=1,
                    launcher=SrunLauncher(),
                ),
            )
        ],
    )
