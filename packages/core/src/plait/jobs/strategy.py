"""The scaling strategy: a pure function from a snapshot of one executor to decisions.

Kept free of executors, providers and clocks so it can be tested with tables of
cases; :mod:`plait.jobs.poller` builds the snapshots and applies the decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from plait.providers.base import JobState

STRATEGIES = ("none", "simple", "htex_auto_scale")


@dataclass(frozen=True)
class BlockSnapshot:
    """One block as the strategy sees it.

    :param block_id: the executor's id for the block.
    :param state: the provider's last known state (``PENDING`` for a block just
        submitted and not yet polled).
    :param tasks: tasks currently on the block's workers.
    :param idle_seconds: seconds the block has had no tasks, or None if it is busy
        or has not connected.
    """

    block_id: str
    state: JobState
    tasks: int = 0
    idle_seconds: float | None = None


@dataclass(frozen=True)
class ExecutorSnapshot:
    """Everything the strategy needs to know about one executor, at one moment.

    :param outstanding: tasks submitted to the executor and not finished.
    :param slots_per_block: tasks one block runs at once (workers per node x nodes).
    :param blocks: every block not yet scaled in, terminal ones included.
    :param failed_blocks: blocks that have failed since the executor started.
    :param max_block_failures: failures tolerated before giving up.
    :param failure_message: the provider's explanation of the latest failure.
    :param blocks_submitted: blocks submitted since the executor started, scaled-in
        ones included; None means ``len(blocks)``. Set it when scaled-in blocks are
        left out of ``blocks``: otherwise an executor whose blocks were all scaled in
        looks brand new and gets its ``init_blocks`` again.
    """

    label: str
    outstanding: int
    slots_per_block: int
    blocks: tuple[BlockSnapshot, ...]
    init_blocks: int
    min_blocks: int
    max_blocks: int
    parallelism: float
    failed_blocks: int = 0
    max_block_failures: int = 3
    failure_message: str = ""
    blocks_submitted: int | None = None


@dataclass(frozen=True)
class Decision:
    """What to do to one executor now.

    :param scale_out: how many blocks to submit.
    :param scale_in: ids of blocks to cancel.
    :param give_up: if set, the executor cannot get workers: fail its tasks with
        this message (it names the provider's error).
    """

    scale_out: int = 0
    scale_in: tuple[str, ...] = ()
    give_up: str | None = None


def decide(strategy: str, snapshot: ExecutorSnapshot, max_idletime: float) -> Decision:
    """The scaling decision for ``snapshot`` under ``strategy``.

    Rules every strategy keeps:

    * the number of live blocks (pending, running, held, unknown, and blocks just
      submitted) never exceeds ``max_blocks``;
    * only idle blocks (no tasks for at least ``max_idletime`` seconds) are scaled
      in, never below ``min_blocks``, and only by ``simple``/``htex_auto_scale``;
    * once ``failed_blocks`` reaches ``max_block_failures`` no block is submitted
      again and ``give_up`` carries the provider's error, so failures never turn
      into a silent retry loop.

    The strategies:

    * ``none``: only the ``init_blocks`` (capped by ``max_blocks``) of a new
      executor are submitted; nothing is replaced or scaled in afterwards.
    * ``simple``: aims at ``ceil(outstanding * parallelism / slots_per_block)``
      live blocks, kept within ``[min_blocks, max_blocks]`` and at least one while
      tasks are outstanding; a new executor gets at least its ``init_blocks``.
      Blocks that ended (failed ones included) no longer count, so they are
      replaced. Idle blocks are scaled in, most idle first, only once no task is
      outstanding.
    * ``htex_auto_scale``: as ``simple``, but idle blocks beyond the target are
      also scaled in while tasks are outstanding.

    :raises ValueError: ``strategy`` is not one of :data:`STRATEGIES`.
    """
    if strategy not in STRATEGIES:
        names = ", ".join(repr(name) for name in STRATEGIES)
        raise ValueError(f"unknown scaling strategy {strategy!r}; the strategies are {names}")
    live = [block for block in snapshot.blocks if not block.state.terminal]
    room = max(0, snapshot.max_blocks - len(live))
    initial = max(0, min(snapshot.init_blocks, snapshot.max_blocks))
    submitted = (
        len(snapshot.blocks) if snapshot.blocks_submitted is None else snapshot.blocks_submitted
    )

    if strategy == "none":
        scale_out = min(room, max(0, initial - submitted))
        scale_in: tuple[str, ...] = ()
    else:
        target = _target(snapshot)
        if submitted == 0:
            target = max(target, initial)
        scale_out = min(room, max(0, target - len(live)))
        if strategy == "htex_auto_scale" or snapshot.outstanding <= 0:
            keep = max(snapshot.min_blocks, target)
            scale_in = _idle_surplus(live, len(live) - keep, max_idletime)
        else:
            scale_in = ()

    message = _give_up_message(snapshot)
    if (
        message is None
        and strategy == "none"
        and not live
        and snapshot.outstanding > 0
        and (snapshot.failed_blocks > 0 and scale_out == 0)
    ):
        # "none" never replaces blocks: with every block gone, tasks would wait forever.
        message = (
            f"executor {snapshot.label!r}: every block has ended and strategy 'none' starts no "
            f"new ones, so {snapshot.outstanding} tasks cannot run; last failure: "
            f"{snapshot.failure_message or 'the provider gave no reason'}. Use strategy "
            "'simple' or fix the provider settings."
        )
    if message is not None:
        return Decision(scale_out=0, scale_in=scale_in, give_up=message)
    return Decision(scale_out=scale_out, scale_in=scale_in)


def _target(snapshot: ExecutorSnapshot) -> int:
    """Live blocks ``simple``/``htex_auto_scale`` aim at, within ``[0, max_blocks]``."""
    outstanding = max(0, snapshot.outstanding)
    slots = max(1, snapshot.slots_per_block)
    parallelism = min(1.0, max(0.0, snapshot.parallelism))
    # Rounded first so float noise (100 * 0.07 = 7.000000000000001) adds no block.
    wanted = math.ceil(round(outstanding * parallelism / slots, 9))
    if outstanding > 0:
        # Even with parallelism 0 outstanding tasks need somewhere to run.
        wanted = max(wanted, 1)
    wanted = max(wanted, snapshot.min_blocks)
    return max(0, min(wanted, snapshot.max_blocks))


def _idle_surplus(live: list[BlockSnapshot], surplus: int, max_idletime: float) -> tuple[str, ...]:
    """Ids of at most ``surplus`` blocks idle for ``max_idletime`` or more, most idle first."""
    if surplus <= 0:
        return ()
    idle = [
        (block.idle_seconds, block.block_id)
        for block in live
        if block.tasks <= 0 and block.idle_seconds is not None
        if block.idle_seconds >= max_idletime
    ]
    # Stable: blocks idle equally long go in snapshot order.
    idle.sort(key=lambda pair: -pair[0])
    return tuple(block_id for _, block_id in idle[:surplus])


def _give_up_message(snapshot: ExecutorSnapshot) -> str | None:
    """The error for the executor's tasks once too many blocks failed, else None."""
    limit = snapshot.max_block_failures
    failed = snapshot.failed_blocks
    if limit <= 0 or failed < limit:
        return None
    reason = snapshot.failure_message.strip() or "the provider gave no reason"
    if not reason.endswith("."):
        reason += "."
    noun = "block" if failed == 1 else "blocks"
    return (
        f"executor {snapshot.label!r}: {failed} {noun} failed (the limit is {limit}); "
        f"last failure: {reason} Fix the provider settings (see the block's stdout/stderr) "
        "and run again."
    )
