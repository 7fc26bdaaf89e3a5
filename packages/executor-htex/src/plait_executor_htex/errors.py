"""Why an HTEX task failed when the fault was not in the task itself."""

from __future__ import annotations

from plait.errors import ExecutorError, PlaitError


class WorkerLost(PlaitError):
    """The worker process running a task died.

    :param worker: the worker's id within its manager.
    :param hostname: the node.
    :param block_id: the block the worker belonged to.
    :param exitcode: the worker's exit status (negative: killed by that signal).
    """

    def __init__(self, worker: int, hostname: str, block_id: str, exitcode: int | None) -> None:
        self.worker = worker
        self.hostname = hostname
        self.block_id = block_id
        self.exitcode = exitcode
        super().__init__(worker, hostname, block_id, exitcode)

    def __str__(self) -> str:
        if self.exitcode is not None and self.exitcode < 0:
            how = f"killed by signal {-self.exitcode}"
        else:
            how = f"exited with status {self.exitcode}"
        return (
            f"worker {self.worker} on {self.hostname} (block {self.block_id}) {how} while running "
            "this task; a replacement worker was started. Out of memory is the usual cause of "
            "SIGKILL: check the node's memory or use mem_per_worker"
        )


class ManagerLost(PlaitError):
    """The manager (the pilot job on one node) holding a task stopped answering.

    :param manager: the manager's id.
    :param hostname: its node.
    :param block_id: its block.
    :param silent_for: seconds since its last heartbeat.
    """

    def __init__(
        self,
        manager: str,
        hostname: str,
        block_id: str,
        silent_for: float,
        job_id: str | None = None,
        job_state: str | None = None,
        job_message: str | None = None,
    ) -> None:
        self.manager = manager
        self.hostname = hostname
        self.block_id = block_id
        self.silent_for = silent_for
        self.job_id = job_id
        self.job_state = job_state
        self.job_message = job_message
        super().__init__(manager, hostname, block_id, silent_for)

    def __str__(self) -> str:
        text = (
            f"manager {self.manager} on {self.hostname} (block {self.block_id}) sent no heartbeat "
            f"for {self.silent_for:.1f} s and was dropped with its tasks"
        )
        if self.job_id is not None:
            text += f"; the block is provider job {self.job_id}"
            if self.job_state:
                text += f", now {self.job_state}"
            if self.job_message:
                text += f" ({self.job_message})"
        return text + (
            ": the node was lost, the block hit its walltime, or the manager was killed "
            "(see the block's stdout/stderr)"
        )


class InterchangeLost(ExecutorError):
    """The interchange process died or stopped answering; outstanding tasks cannot finish."""


class VersionMismatch(PlaitError):
    """A manager runs a different plait or Python version than the submitting side."""

    def __init__(self, interchange: str, manager: str, hostname: str) -> None:
        self.interchange = interchange
        self.manager = manager
        self.hostname = hostname
        super().__init__(interchange, manager, hostname)

    def __str__(self) -> str:
        return (
            f"manager on {self.hostname} runs {self.manager} but the submitting side runs "
            f"{self.interchange}; install the same versions in the workers' environment "
            "(worker_init) as where the workflow runs"
        )


class RemoteError(Exception):
    """Stands in for an exception that could not be pickled on the worker.

    :param type_name: the original exception's type.
    :param message: its message.
    :param trace: its traceback, formatted on the worker.
    """

    def __init__(self, type_name: str, message: str, trace: str) -> None:
        self.type_name = type_name
        self.message = message
        self.trace = trace
        super().__init__(type_name, message, trace)

    def __str__(self) -> str:
        return (
            f"{self.type_name}: {self.message} (raised on the worker; it could not be sent "
            f"back as itself)\n{self.trace}"
        )
