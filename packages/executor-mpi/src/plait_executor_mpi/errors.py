"""Why an MPI task failed, or why the executor could not start.

Each exception keeps its whole constructor arguments in ``args``, so it travels
from a worker to the submitting side (pickled) as itself, message included.
"""

from __future__ import annotations

from plait.errors import AppException, BashExitFailure, ExecutorError, PlaitError


def _with_tail(text: str, stderr_tail: str) -> str:
    if not stderr_tail:
        return text + "; the ranks wrote nothing to stderr"
    return f"{text}; last lines of the ranks' stderr:\n{stderr_tail}"


class MPIExitFailure(BashExitFailure):
    """A bash app's MPI command (``$PLAIT_MPI_PREFIX ./prog``) exited non-zero: a rank
    failed. A :class:`~plait.errors.BashExitFailure` (same ``exitcode``) whose message
    ends with the last lines the ranks wrote to stderr.

    :param stderr_tail: those lines.
    """

    def __init__(
        self,
        app_name: str,
        exitcode: int,
        stdout: str | None = None,
        stderr: str | None = None,
        stderr_tail: str = "",
    ) -> None:
        super().__init__(app_name, exitcode, stdout, stderr)
        self.stderr_tail = stderr_tail
        self.args = (app_name, exitcode, stdout, stderr, stderr_tail)

    def __str__(self) -> str:
        return _with_tail(super().__str__(), self.stderr_tail)


class RankFailure(AppException):
    """The ranks of an ``mpi_python_app`` ended without a result: a rank crashed or
    exited before returning (a rank that *raised* fails the task with its own
    exception instead).

    :param app_name: the app.
    :param exitcode: the MPI launcher's exit status.
    :param num_ranks: ranks the task ran.
    :param stderr_tail: the last lines the ranks wrote to stderr.
    """

    def __init__(self, app_name: str, exitcode: int, num_ranks: int, stderr_tail: str) -> None:
        self.app_name = app_name
        self.exitcode = exitcode
        self.num_ranks = num_ranks
        self.stderr_tail = stderr_tail
        super().__init__(app_name, exitcode, num_ranks, stderr_tail)

    def __str__(self) -> str:
        how = (
            f"killed by signal {-self.exitcode}"
            if self.exitcode < 0
            else f"exited with status {self.exitcode}"
        )
        return _with_tail(
            f"mpi_python_app {self.app_name}: the MPI launcher of its {self.num_ranks} ranks "
            f"{how} before rank 0 returned a result",
            self.stderr_tail,
        )


class NotEnoughNodes(PlaitError):
    """A task asks for more nodes than its block has, found on the manager (the
    executor checks the provider's ``nodes_per_block`` at submission; this is a
    block whose allocation turned out smaller). The task fails instead of waiting
    for nodes that can never be free.

    :param num_nodes: nodes the task asks for.
    :param nodes: the nodes the block has.
    :param source: where the manager found them.
    """

    def __init__(self, num_nodes: int, nodes: list[str], source: str) -> None:
        self.num_nodes = num_nodes
        self.nodes = nodes
        self.source = source
        super().__init__(num_nodes, nodes, source)

    def __str__(self) -> str:
        return (
            f"the task asks for num_nodes={self.num_nodes}, but its block has "
            f"{len(self.nodes)} node(s) ({', '.join(self.nodes)}, from {self.source})"
        )


class MPISetupError(ExecutorError):
    """The MPI launcher or library the executor needs is not usable here (raised by
    ``start()``, before any block is submitted); the message says what to install."""
