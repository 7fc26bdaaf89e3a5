"""The ``slurm`` entry point: registers the provider and the srun launchers, importing
nothing heavy."""

from __future__ import annotations

from typing import Any

import plait


@plait.hookimpl
def plait_register_providers(registry: Any) -> None:
    """``slurm``: :class:`~plait_provider_slurm.provider.SlurmProvider`."""
    from plait_provider_slurm.provider import SlurmProvider

    registry.add(SlurmProvider)


@plait.hookimpl
def plait_register_launchers(registry: Any) -> None:
    """``srun`` and ``srun-mpi``: :mod:`plait_provider_slurm.launchers`."""
    from plait_provider_slurm.launchers import SrunLauncher, SrunMPILauncher

    registry.add(SrunLauncher)
    registry.add(SrunMPILauncher)
