"""`plait perf --config benchmarks/configs/htex_slurm.py --only startup`: HTEX on Slurm.

One one-node block (a batch job whose manager ``srun`` starts), two workers, as the
README's "On a Slurm cluster" section configures it. Slurm commands find the cluster
through ``SLURM_CONF`` (``benchmarks/slurm_side.py`` sets it for its private cluster).
Managers run on this machine's emulated nodes, so the loopback address will do.
"""

from plait import Config
from plait.executors import HighThroughputExecutor
from plait.launchers import SrunLauncher
from plait.providers import SlurmProvider


def fresh_config() -> Config:
    return Config(
        executors=[
            HighThroughputExecutor(
                label="htex-slurm",
                max_workers_per_node=2,
                provider=SlurmProvider(
                    partition="debug",
                    nodes_per_block=1,
                    cores_per_node=2,
                    walltime="00:10:00",
                    init_blocks=1,
                    max_blocks=1,
                    launcher=SrunLauncher(),
                ),
            )
        ],
        initialize_logging=True,
    )
