"""``mpiexec``, ``mpirun``, ``aprun``, ``jsrun``: start a block's command on its nodes
with an MPI (or Cray, or LSF) parallel launcher, ``tasks_per_node`` copies per node.

These are block launchers (what HTEX and other block executors give their provider),
not the per-task prefixes of the MPIExecutor. Each exports the command from a quoted
here-document into ``PLAIT_LAUNCH_COMMAND`` and has every copy ``eval`` it, so the
command reaches every node byte for byte and no file has to be shared. Each copy sees
``PLAIT_WORKER_RANK`` (and Parsl's ``PARSL_WORKER_RANK``): its rank in the launch.

Open MPI and MPICH spell "copies per node" differently (``--map-by ppr:N:node``,
``-ppn N``), so ``mpiexec``/``mpirun`` find out which MPI their program is, here, the
first time they are called (or are told, ``implementation=``). Open MPI refuses to
run as root unless allowed; the snippet allows it when it runs as root (containers).
"""

from __future__ import annotations

import functools
import shlex
from abc import abstractmethod

from plait.errors import ConfigError
from plait.launchers.base import Launcher
from plait_executor_mpi.implementation import IMPLEMENTATIONS, OPENMPI, detect

_VARIABLE = "PLAIT_LAUNCH_COMMAND"
#: each copy's rank, from whichever launcher started it
_RANK = (
    "${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-${PMIX_RANK:-${ALPS_APP_PE:-${JSM_NAMESPACE_RANK:-0}}}}}"
)
_BODY = (
    f"export PLAIT_WORKER_RANK={_RANK}; export PARSL_WORKER_RANK=$PLAIT_WORKER_RANK; "
    f'eval "${_VARIABLE}"'
)
_ALLOW_ROOT = (
    'if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 '
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi\n"
)


def _export_command(command: str) -> str:
    delimiter = "PLAIT_LAUNCH_EOF"
    while delimiter in command:
        delimiter += "_"
    return f"{_VARIABLE}=$(cat <<'{delimiter}'\n{command}\n{delimiter}\n)\nexport {_VARIABLE}\n"


def _check_counts(tasks_per_node: int, nodes_per_block: int) -> None:
    if tasks_per_node < 1:
        raise ConfigError("tasks_per_node", tasks_per_node, "an integer >= 1")
    if nodes_per_block < 1:
        raise ConfigError("nodes_per_block", nodes_per_block, "an integer >= 1")


@functools.lru_cache(maxsize=16)
def _implementation_of(program: str) -> str | None:
    return detect(program)


class _ParallelLauncher(Launcher):
    """A launcher that runs ``<shell> -c <body>`` under one parallel launcher call."""

    #: the shell each copy runs
    shell = "/bin/bash"

    def __init__(self, debug: bool = True, overrides: str = "") -> None:
        super().__init__(debug)
        self.overrides = overrides

    @abstractmethod
    def launch(self, tasks_per_node: int, nodes_per_block: int) -> list[str]:
        """The launcher's own words, before ``overrides`` and the copies' command."""

    def preamble(self) -> str:
        """Shell lines run before the launcher (none by default)."""
        return ""

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int) -> str:
        """A snippet exporting the command and starting its copies."""
        _check_counts(tasks_per_node, nodes_per_block)
        words = self.launch(tasks_per_node, nodes_per_block)
        if self.overrides:
            words.append(self.overrides)
        line = " ".join([*words, shlex.quote(self.shell), "-c", shlex.quote(_BODY)])
        trace = "set -x\n" if self.debug else ""
        return f"{trace}{self.preamble()}{_export_command(command)}{line}\n"


class MpiExecLauncher(_ParallelLauncher):
    """``mpiexec -n <copies>`` with ``tasks_per_node`` copies on each node of the
    allocation (Open MPI and MPICH read Slurm's and PBS's node lists themselves).

    :param debug: trace the generated snippet (``set -x``).
    :param bind_cmd: the option that sets process binding; copies are not bound
        (``<bind_cmd> none``), as they are pilot processes, not ranks.
    :param overrides: extra launcher options.
    :param program: the launcher program (``mpiexec.mpich`` picks MPICH's on Debian).
    :param implementation: ``openmpi`` or ``mpich``; None asks ``program --version``.
    """

    plugin_name = "mpiexec"

    def __init__(
        self,
        debug: bool = True,
        bind_cmd: str = "--bind-to",
        overrides: str = "",
        program: str = "mpiexec",
        implementation: str | None = None,
    ) -> None:
        super().__init__(debug, overrides)
        if implementation is not None and implementation not in IMPLEMENTATIONS:
            raise ConfigError("implementation", implementation, [*IMPLEMENTATIONS, "None"])
        self.bind_cmd = bind_cmd
        self.program = program
        self.implementation = implementation

    def _implementation(self) -> str:
        found = self.implementation or _implementation_of(self.program)
        if found is None:
            raise ConfigError(
                "implementation",
                None,
                IMPLEMENTATIONS,
                f"cannot tell which MPI {self.program} belongs to here (is it installed?); "
                "pass implementation='openmpi' or 'mpich'",
            )
        return found

    def launch(self, tasks_per_node: int, nodes_per_block: int) -> list[str]:
        """``program <bind> none -n N`` plus the implementation's per-node spelling."""
        copies = str(tasks_per_node * nodes_per_block)
        words = [self.program]
        if self.bind_cmd:
            words += [self.bind_cmd, "none"]
        words += ["-n", copies]
        if self._implementation() == OPENMPI:
            # pilots must start whatever the slot count; -x carries the command to
            # other nodes (MPICH forwards the whole environment by itself)
            words += [f"--map-by ppr:{tasks_per_node}:node", "--oversubscribe", f"-x {_VARIABLE}"]
        else:
            words += ["-ppn", str(tasks_per_node)]
        return words

    def preamble(self) -> str:
        """Open MPI refuses root unless allowed: allow it when the block runs as root."""
        return _ALLOW_ROOT if self._implementation() == OPENMPI else ""


class MpiRunLauncher(MpiExecLauncher):
    """``mpirun``: :class:`MpiExecLauncher` under the other name.

    :param debug: trace the generated snippet (``set -x``).
    :param bash_location: the bash each copy runs (Parsl's parameter).
    :param overrides: extra launcher options.
    :param program: the launcher program.
    :param implementation: ``openmpi`` or ``mpich``; None asks ``program --version``.
    """

    plugin_name = "mpirun"

    def __init__(
        self,
        debug: bool = True,
        bash_location: str = "/bin/bash",
        overrides: str = "",
        program: str = "mpirun",
        implementation: str | None = None,
    ) -> None:
        super().__init__(debug, "", overrides, program, implementation)
        self.bash_location = bash_location
        self.shell = bash_location


class AprunLauncher(_ParallelLauncher):
    """``aprun -n <copies> -N <tasks_per_node>`` (Cray ALPS).

    :param debug: trace the generated snippet (``set -x``).
    :param overrides: extra ``aprun`` options.
    """

    plugin_name = "aprun"

    def launch(self, tasks_per_node: int, nodes_per_block: int) -> list[str]:
        """``aprun -n N -N T``."""
        return ["aprun", "-n", str(tasks_per_node * nodes_per_block), "-N", str(tasks_per_node)]


class JsrunLauncher(_ParallelLauncher):
    """``jsrun -n <copies> -r <tasks_per_node>`` (IBM LSF's jsrun: one resource set per
    copy, ``tasks_per_node`` resource sets per host).

    :param debug: trace the generated snippet (``set -x``).
    :param overrides: extra ``jsrun`` options.
    """

    plugin_name = "jsrun"

    def launch(self, tasks_per_node: int, nodes_per_block: int) -> list[str]:
        """``jsrun -n N -r T``."""
        return ["jsrun", "-n", str(tasks_per_node * nodes_per_block), "-r", str(tasks_per_node)]
