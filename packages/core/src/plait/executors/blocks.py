"""The block-provider executor base: workers that run in blocks obtained from a provider.

A *block* is one provider job (a Slurm job, a pod, a local process group)
running the executor's worker command on ``nodes_per_block`` nodes through the
provider's launcher. This base owns the block bookkeeping every such executor
needs: ids, scale-out and scale-in through the provider, rate-limited status
polling, block state events, and giving up (with the provider's own error) when
blocks keep failing. Subclasses supply the worker command and their task counts.

Everything here runs in the submitting process.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from abc import abstractmethod
from collections.abc import Callable

from plait.errors import ScalingFailed
from plait.events import BlockStateChanged, NodeChanged
from plait.executors.base import Executor
from plait.jobs.strategy import BlockSnapshot, ExecutorSnapshot
from plait.providers.base import ExecutionProvider, JobState, JobStatus

logger = logging.getLogger(__name__)


class BlockProviderExecutor(Executor):
    """Base of executors whose workers are started in blocks by a provider.

    :param provider: obtains the blocks (default ``LocalProvider()``).
    :param max_block_failures: blocks that may fail before the executor gives up
        and fails its tasks with the provider's error.
    """

    def __init__(
        self, provider: ExecutionProvider | None = None, max_block_failures: int = 3
    ) -> None:
        if provider is None:
            from plait.providers.local import LocalProvider

            provider = LocalProvider()
        self.provider = provider
        self.max_block_failures = max_block_failures
        self.blocks: dict[str, str] = {}  # block id -> provider job id
        self.block_status: dict[str, JobStatus] = {}
        self._block_ids = itertools.count()
        self._failed_blocks = 0
        self._last_failure = ""
        self._last_poll = 0.0
        self._blocks_lock = threading.RLock()
        self.bad_state_message: str | None = None
        #: set by the kernel: called with each block state change.
        self.on_block_state: Callable[[BlockStateChanged], None] | None = None
        #: set by the kernel when an observer wants nodes: executors whose blocks run
        #: managers on nodes call it when one joins or leaves
        self.on_node: Callable[[NodeChanged], None] | None = None
        #: set by the kernel's poller: ask for a scaling decision now.
        self.poke: Callable[[], None] | None = None

    # -- what subclasses provide -------------------------------------------

    @abstractmethod
    def launch_command(self, block_id: str) -> str:
        """The command one block runs on each node (the provider's launcher wraps it)."""

    @abstractmethod
    def outstanding(self) -> int:
        """Tasks submitted to this executor that have not finished."""

    @property
    def workers_per_node(self) -> int:
        """Tasks one node of a block runs at once."""
        return 1

    @property
    def launched_per_node(self) -> int:
        """Copies of :meth:`launch_command` the launcher starts on each node: 1 when that
        command starts its own workers (a pilot manager), ``workers_per_node`` when each
        copy is one worker."""
        return 1

    def block_activity(self) -> dict[str, tuple[int, float | None]]:
        """``block id -> (tasks running there, seconds idle or None)`` for connected blocks."""
        return {}

    @abstractmethod
    def fail_all(self, exception: BaseException) -> None:
        """Fail every outstanding task with ``exception`` and refuse new ones."""

    # -- blocks ------------------------------------------------------------

    def start_blocks(self) -> None:
        """Prepare the provider and submit ``init_blocks`` (capped by ``max_blocks``) now,
        so the first task does not wait for a strategy period."""
        if self.provider.script_dir is None and self.run_dir is not None:
            self.provider.script_dir = os.path.join(self.run_dir, "submit_scripts")
        if self.run_id is not None:
            self.provider.run_id = self.run_id
        initial = min(self.provider.init_blocks, self.provider.max_blocks)
        if initial > 0:
            self.scale_out(initial)

    def live_blocks(self) -> list[str]:
        """Blocks that are pending, running or held (not finished, failed or cancelled)."""
        with self._blocks_lock:
            return [b for b, s in self.block_status.items() if not s.terminal]

    def scale_out(self, blocks: int) -> list[str]:
        """Submit ``blocks`` new blocks; returns their ids (failed submissions are recorded
        as FAILED blocks with the provider's message)."""
        started = []
        for _ in range(blocks):
            block_id = str(next(self._block_ids))
            job_name = f"plait.{self.label}.block-{block_id}"
            try:
                job_id = self.provider.submit(
                    self.launch_command(block_id), self.launched_per_node, job_name
                )
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                logger.error(
                    "executor %s: block %s could not be submitted: %s",
                    self.label,
                    block_id,
                    message,
                )
                self._set_block(block_id, None, JobStatus(JobState.FAILED, message))
                continue
            self._set_block(block_id, job_id, JobStatus(JobState.PENDING))
            started.append(block_id)
        return started

    def scale_in(self, block_ids: list[str]) -> None:
        """Cancel the given blocks through the provider."""
        with self._blocks_lock:
            jobs = [(b, self.blocks[b]) for b in block_ids if b in self.blocks]
        if not jobs:
            return
        try:
            self.provider.cancel([job for _, job in jobs])
        except Exception:
            logger.exception("executor %s: cancelling blocks %s failed", self.label, block_ids)
        for block_id, job_id in jobs:
            self._set_block(block_id, job_id, JobStatus(JobState.SCALED_IN, "scaled in"))

    def poll(self, force: bool = False) -> dict[str, JobStatus]:
        """Refresh block states from the provider, at most every
        ``provider.status_polling_interval`` seconds; a failing status command keeps
        the last known states (schedulers are sometimes briefly unreachable)."""
        now = time.monotonic()
        if not force and now - self._last_poll < self.provider.status_polling_interval:
            return dict(self.block_status)
        self._last_poll = now
        with self._blocks_lock:
            watched = [(b, j) for b, j in self.blocks.items() if not self.block_status[b].terminal]
        if watched:
            try:
                statuses = self.provider.status([job for _, job in watched])
            except Exception:
                logger.warning(
                    "executor %s: status poll failed; keeping last states",
                    self.label,
                    exc_info=True,
                )
                statuses = []
            for (block_id, job_id), status in zip(watched, statuses, strict=False):
                self._set_block(block_id, job_id, status)
        return dict(self.block_status)

    def _set_block(self, block_id: str, job_id: str | None, status: JobStatus) -> None:
        with self._blocks_lock:
            previous = self.block_status.get(block_id)
            if job_id is not None:
                self.blocks[block_id] = job_id
            if previous is not None and previous.terminal:
                return  # a scaled-in or failed block stays so
            self.block_status[block_id] = status
            changed = previous is None or previous.state != status.state
            if changed and status.state in (JobState.FAILED, JobState.TIMEOUT, JobState.MISSING):
                self._failed_blocks += 1
                self._last_failure = _describe_failure(block_id, status)
        if changed and self.on_block_state is not None:
            self.on_block_state(
                BlockStateChanged(
                    self.run_id or "",
                    self.label,
                    block_id,
                    job_id,
                    status.state.name,
                    time.time(),
                    status.message or "",
                )
            )

    def snapshot(self) -> ExecutorSnapshot:
        """This executor as the scaling strategy sees it."""
        activity = self.block_activity()
        with self._blocks_lock:
            blocks = tuple(
                BlockSnapshot(b, s.state, *activity.get(b, (0, None)))
                for b, s in self.block_status.items()
                if s.state is not JobState.SCALED_IN
            )
        provider = self.provider
        return ExecutorSnapshot(
            label=self.label,
            outstanding=self.outstanding(),
            slots_per_block=max(1, self.workers_per_node * provider.nodes_per_block),
            blocks=blocks,
            init_blocks=provider.init_blocks,
            min_blocks=provider.min_blocks,
            max_blocks=provider.max_blocks,
            parallelism=provider.parallelism,
            blocks_submitted=len(self.block_status),
            failed_blocks=self._failed_blocks,
            max_block_failures=self.max_block_failures,
            failure_message=self._last_failure,
        )

    def give_up(self, message: str) -> None:
        """Blocks keep failing: fail every task with ``message`` (once)."""
        if self.bad_state_message is not None:
            return
        self.bad_state_message = message
        logger.error("%s", message)
        prefix = f"executor {self.label!r}: "
        self.fail_all(ScalingFailed(self, message.removeprefix(prefix)))

    def shutdown_blocks(self) -> None:
        """Cancel every block this executor submitted and has not scaled in, finished ones
        included: a block whose leader died may still have processes (bounded by the
        provider's own limits)."""
        with self._blocks_lock:
            blocks = [b for b, s in self.block_status.items() if s.state is not JobState.SCALED_IN]
        jobs = [self.blocks[b] for b in blocks if b in self.blocks]
        if jobs:
            try:
                self.provider.cancel(jobs)
            except Exception:
                logger.exception("executor %s: cancelling blocks at shutdown failed", self.label)
        for block_id in blocks:
            if block_id in self.blocks and not self.block_status[block_id].terminal:
                self._set_block(
                    block_id, self.blocks[block_id], JobStatus(JobState.CANCELLED, "shut down")
                )


def _describe_failure(block_id: str, status: JobStatus) -> str:
    text = f"block {block_id} {status.state.name.lower()}"
    if status.exit_code is not None:
        text += f" with exit code {status.exit_code}"
    if status.message:
        text += f": {status.message}"
    if status.stderr_path:
        text += f" (stderr: {status.stderr_path})"
    return text
