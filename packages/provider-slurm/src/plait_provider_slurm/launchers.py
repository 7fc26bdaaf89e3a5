"""``srun`` and ``srun-mpi``: start a block's command on its nodes with Slurm's ``srun``.

Both pass the command to ``srun`` through an environment variable set from a
quoted here-document, so the command reaches every task byte for byte (no
quoting to get wrong) and no file has to be shared between the nodes.
"""

from __future__ import annotations

import shlex

from plait.errors import ConfigError
from plait.launchers.base import Launcher

_VARIABLE = "PLAIT_SRUN_COMMAND"


def _delimiter(command: str) -> str:
    """A here-document delimiter that does not occur in ``command``."""
    delimiter = "PLAIT_SRUN_EOF"
    while delimiter in command:
        delimiter += "_"
    return delimiter


def _export_command(command: str) -> str:
    delimiter = _delimiter(command)
    return f"{_VARIABLE}=$(cat <<'{delimiter}'\n{command}\n{delimiter}\n)\nexport {_VARIABLE}\n"


def _check_counts(tasks_per_node: int, nodes_per_block: int) -> None:
    if tasks_per_node < 1:
        raise ConfigError("tasks_per_node", tasks_per_node, "an integer >= 1")
    if nodes_per_block < 1:
        raise ConfigError("nodes_per_block", nodes_per_block, "an integer >= 1")


class SrunLauncher(Launcher):
    """Starts ``tasks_per_node`` copies of the command on each node of the block as one
    ``srun`` step.

    Each copy sees ``PLAIT_WORKER_RANK`` (and Parsl's ``PARSL_WORKER_RANK``) set to its
    rank in the step, ``SLURM_PROCID``. The block's exit status is ``srun``'s: the
    highest status of any copy.

    Run outside a job (as the launcher contract does), ``srun`` obtains an
    allocation of its own first.

    :param debug: trace the generated snippet (``set -x``).
    :param overrides: extra ``srun`` options, e.g. ``"--cpu-bind=cores"``.
    """

    plugin_name = "srun"

    def __init__(self, debug: bool = True, overrides: str = "") -> None:
        super().__init__(debug)
        self.overrides = overrides

    #: ``srun --kill-on-bad-exit``: whether one failing task ends the others
    kill_on_bad_exit = 0

    def _srun(self, tasks_per_node: int, nodes_per_block: int, extra: str = "") -> str:
        _check_counts(tasks_per_node, nodes_per_block)
        parts = [
            "srun",
            f"--nodes={nodes_per_block}",
            f"--ntasks={tasks_per_node * nodes_per_block}",
            f"--ntasks-per-node={tasks_per_node}",
            f"--kill-on-bad-exit={self.kill_on_bad_exit}",
        ]
        if extra:
            parts.append(extra)
        if self.overrides:
            parts.append(self.overrides)
        return " ".join(parts)

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int) -> str:
        """A snippet exporting the command and running it once per task with ``srun``."""
        trace = "set -x\n" if self.debug else ""
        body = (
            "export PLAIT_WORKER_RANK=$SLURM_PROCID PARSL_WORKER_RANK=$SLURM_PROCID; "
            f'eval "${_VARIABLE}"'
        )
        return (
            f"{trace}{_export_command(command)}"
            f"{self._srun(tasks_per_node, nodes_per_block)} /bin/bash -c {shlex.quote(body)}\n"
        )


class SrunMPILauncher(SrunLauncher):
    """Starts the command as one MPI job spanning the block: a single ``srun`` step of
    ``tasks_per_node x nodes_per_block`` ranks, wired up by Slurm's MPI plugin. Ranks
    are placed in blocks (consecutive ranks share a node) and a failing rank ends the
    others (``--kill-on-bad-exit=1``).

    :param debug: trace the generated snippet (``set -x``).
    :param overrides: extra ``srun`` options.
    :param mpi: Slurm's MPI plugin (``--mpi``): ``"pmix"`` for Open MPI, ``"pmi2"``
        for MPICH; None uses the cluster's ``MpiDefault``.
    """

    plugin_name = "srun-mpi"
    kill_on_bad_exit = 1

    def __init__(self, debug: bool = True, overrides: str = "", mpi: str | None = None) -> None:
        super().__init__(debug, overrides)
        if mpi is not None and not (mpi and mpi.replace("_", "").replace("-", "").isalnum()):
            raise ConfigError("mpi", mpi, "an MPI plugin name such as 'pmix', 'pmi2' or 'none'")
        self.mpi = mpi

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int) -> str:
        """A snippet exporting the command and running it as one MPI step."""
        trace = "set -x\n" if self.debug else ""
        extra = "--distribution=block"
        if self.mpi:
            extra += f" --mpi={self.mpi}"
        srun = self._srun(tasks_per_node, nodes_per_block, extra)
        return f"{trace}{_export_command(command)}{srun} /bin/bash -c 'eval \"${_VARIABLE}\"'\n"
