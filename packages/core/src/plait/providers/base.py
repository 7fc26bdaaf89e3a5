"""The provider contract: obtain, watch and release blocks of compute resources."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from plait.launchers.base import Launcher
from plait.utils import RepresentationMixin


class JobState(IntEnum):
    """States of a provider job (block), numbered as in Parsl."""

    UNKNOWN = 0
    PENDING = 1
    RUNNING = 2
    CANCELLED = 3
    COMPLETED = 4
    FAILED = 5
    TIMEOUT = 6
    HELD = 7
    MISSING = 8
    SCALED_IN = 9

    @property
    def terminal(self) -> bool:
        """Whether the job will never run again."""
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {
        JobState.CANCELLED,
        JobState.COMPLETED,
        JobState.FAILED,
        JobState.TIMEOUT,
        JobState.MISSING,
        JobState.SCALED_IN,
    }
)


@dataclass
class JobStatus:
    """What a provider knows about one job.

    :param message: the scheduler's reason, e.g. ``"OUT_OF_MEMORY"``.
    :param exit_code: the job's exit status, once it has one.
    :param stdout_path: where the job's standard output goes.
    :param stderr_path: where the job's standard error goes.
    """

    state: JobState
    message: str | None = None
    exit_code: int | None = None
    stdout_path: str | None = None
    stderr_path: str | None = None

    @property
    def terminal(self) -> bool:
        """Whether the job will never run again."""
        return self.state.terminal


class ExecutionProvider(RepresentationMixin, ABC):
    """Obtains blocks: each block is one job that runs a worker command on its nodes.

    Providers run in the submitting process only; executors that scale in blocks
    call :meth:`submit`, :meth:`status` and :meth:`cancel`.

    :cvar plugin_name: the registry name (``"local"``, ``"slurm"``).
    """

    plugin_name: ClassVar[str]

    label: str = "provider"
    launcher: Launcher | None = None
    init_blocks: int = 1
    min_blocks: int = 0
    max_blocks: int = 1
    nodes_per_block: int = 1
    parallelism: float = 1.0
    worker_init: str = ""
    cores_per_node: int | None = None
    mem_per_node: float | None = None
    script_dir: str | None = None
    #: the workflow run this provider's jobs serve, set by the block executor before its
    #: first job (providers that label jobs use it, e.g. Kubernetes pods' ``plait-run``)
    run_id: str | None = None
    #: seconds between status polls; schedulers dislike being polled often.
    status_polling_interval: float = 5.0

    @abstractmethod
    def submit(self, command: str, tasks_per_node: int, job_name: str = "plait.job") -> str:
        """Start a job running ``command`` (already wrapped by the launcher); return its id.

        :raises plait.errors.SubmitException: the scheduler refused the job.
        """

    @abstractmethod
    def status(self, job_ids: list[str]) -> list[JobStatus]:
        """The status of each job in ``job_ids``, in the same order."""

    @abstractmethod
    def cancel(self, job_ids: list[str]) -> list[bool]:
        """Cancel jobs; True for each one that is now cancelled or already finished."""
