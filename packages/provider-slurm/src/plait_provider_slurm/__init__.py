"""plait on Slurm: the ``slurm`` provider and the ``srun`` / ``srun-mpi`` launchers."""

from plait_provider_slurm.__about__ import __version__
from plait_provider_slurm.launchers import SrunLauncher, SrunMPILauncher
from plait_provider_slurm.provider import SlurmProvider

__all__ = ["SlurmProvider", "SrunLauncher", "SrunMPILauncher", "__version__"]
