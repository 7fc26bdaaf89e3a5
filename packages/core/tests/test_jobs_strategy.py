"""The scaling strategy as tables of cases: snapshot in, decision out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plait.jobs.strategy import (
    STRATEGIES,
    BlockSnapshot,
    Decision,
    ExecutorSnapshot,
    decide,
)
from plait.providers.base import JobState

IDLE = 120.0  # max_idletime used unless a case says otherwise

P, R, H, U = JobState.PENDING, JobState.RUNNING, JobState.HELD, JobState.UNKNOWN
FAILED, DONE, CANCELLED = JobState.FAILED, JobState.COMPLETED, JobState.CANCELLED
TIMEOUT, MISSING = JobState.TIMEOUT, JobState.MISSING


def blk(
    block_id: str, state: JobState = R, tasks: int = 0, idle: float | None = None
) -> BlockSnapshot:
    return BlockSnapshot(block_id, state, tasks, idle)


def snap(*blocks: BlockSnapshot, **fields: Any) -> ExecutorSnapshot:
    values: dict[str, Any] = {
        "label": "htex",
        "outstanding": 0,
        "slots_per_block": 1,
        "blocks": blocks,
        "init_blocks": 1,
        "min_blocks": 0,
        "max_blocks": 10,
        "parallelism": 1.0,
    }
    values.update(fields)
    return ExecutorSnapshot(**values)


@dataclass(frozen=True)
class Case:
    id: str
    snapshot: ExecutorSnapshot
    expected: Decision
    max_idletime: float = IDLE


def out(n: int) -> Decision:
    return Decision(scale_out=n)


def cancel(*ids: str) -> Decision:
    return Decision(scale_in=ids)


NOTHING = Decision()


# -- cases every strategy agrees on ----------------------------------------

COMMON = [
    Case("new executor gets init_blocks", snap(init_blocks=2), out(2)),
    Case("init_blocks capped by max_blocks", snap(init_blocks=5, max_blocks=3), out(3)),
    Case("init_blocks 0 and nothing to do", snap(init_blocks=0), NOTHING),
    Case("max_blocks 0 submits nothing", snap(init_blocks=2, max_blocks=0, outstanding=5), NOTHING),
    Case(
        "pending block counts toward init_blocks",
        snap(blk("0", P), init_blocks=1),
        NOTHING,
    ),
    Case(
        "at max_blocks with pending, held, unknown and running blocks",
        snap(blk("0", P), blk("1", H), blk("2", U), blk("3", R, 1), outstanding=100, max_blocks=4),
        NOTHING,
    ),
    Case(
        "blocks_submitted says the executor is not new",
        snap(init_blocks=2, blocks_submitted=2),
        NOTHING,
    ),
]


def decide_case(strategy: str, case: Case) -> Decision:
    return decide(strategy, case.snapshot, case.max_idletime)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in COMMON])
def test_common(strategy: str, case: Case) -> None:
    assert decide_case(strategy, case) == case.expected


# -- none -------------------------------------------------------------------

NONE = [
    Case("outstanding tasks do not add blocks", snap(blk("0", R, 1), outstanding=50), NOTHING),
    Case(
        "missing init blocks are topped up",
        snap(blk("0", P), init_blocks=3, outstanding=5),
        out(2),
    ),
    Case(
        "idle blocks are never scaled in",
        snap(blk("0", R, idle=10_000), blk("1", R, idle=10_000)),
        NOTHING,
    ),
    Case(
        "a failed init block is not replaced while another block lives",
        snap(blk("0", FAILED), blk("1", R), outstanding=3, failed_blocks=1),
        NOTHING,
    ),
    Case(
        "min_blocks is not enforced after start",
        snap(blk("0", DONE), min_blocks=2),
        NOTHING,
    ),
    Case(
        "gives up at the failure limit",
        snap(
            blk("0", FAILED),
            blk("1", FAILED),
            blk("2", FAILED),
            init_blocks=5,
            failed_blocks=3,
            failure_message="sbatch: invalid partition",
        ),
        Decision(
            give_up="executor 'htex': 3 blocks failed (the limit is 3); last failure: "
            "sbatch: invalid partition. Fix the provider settings (see the block's "
            "stdout/stderr) and run again."
        ),
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in NONE])
def test_none(case: Case) -> None:
    assert decide_case("none", case) == case.expected


# -- simple and htex_auto_scale: scaling out --------------------------------

SCALE_OUT = [
    Case("one task one block", snap(blk("0", R, 1), outstanding=1), NOTHING),
    Case("demand beyond live blocks", snap(blk("0", R, 1), outstanding=4), out(3)),
    Case("demand capped by max_blocks", snap(outstanding=100, max_blocks=4), out(4)),
    Case(
        "pending blocks count as live",
        snap(blk("0", P), blk("1", P), outstanding=3),
        out(1),
    ),
    Case(
        "held and unknown blocks count as live",
        snap(blk("0", H), blk("1", U), outstanding=3),
        out(1),
    ),
    Case(
        "pending, held, unknown and running together reach max_blocks",
        snap(blk("0", P), blk("1", H), blk("2", U), blk("3", R, 1), outstanding=9, max_blocks=5),
        out(1),
    ),
    Case(
        "live blocks above max_blocks submit nothing",
        snap(blk("0", R, 1), blk("1", R, 1), blk("2", R, 1), outstanding=9, max_blocks=2),
        NOTHING,
    ),
    Case("slots per block divide demand", snap(outstanding=10, slots_per_block=4), out(3)),
    Case(
        "exact multiple of slots",
        snap(blk("0", R, 4), outstanding=8, slots_per_block=4),
        out(1),
    ),
    Case("parallelism halves demand", snap(outstanding=10, parallelism=0.5), out(5)),
    Case(
        "parallelism rounds up",
        snap(outstanding=3, parallelism=0.5, slots_per_block=1, init_blocks=0),
        out(2),
    ),
    Case(
        "float noise adds no block",
        snap(outstanding=100, parallelism=0.07, init_blocks=0, max_blocks=100),
        out(7),
    ),
    Case(
        "tiny parallelism still gets one block",
        snap(outstanding=1, parallelism=0.01, init_blocks=0),
        out(1),
    ),
    Case(
        "parallelism 0 with outstanding and no live block: one",
        snap(blk("0", DONE), outstanding=50, parallelism=0.0),
        out(1),
    ),
    Case(
        "parallelism 0 with a live block: no more",
        snap(blk("0", R, 1), outstanding=50, parallelism=0.0),
        NOTHING,
    ),
    Case(
        "parallelism 0 keeps min_blocks",
        snap(blk("0", R, 1), outstanding=50, parallelism=0.0, min_blocks=3),
        out(2),
    ),
    Case(
        "parallelism 0 and no tasks: only init_blocks",
        snap(parallelism=0.0, init_blocks=2),
        out(2),
    ),
    Case("min_blocks restored", snap(blk("0", R), blk("1", DONE), min_blocks=2), out(1)),
    Case(
        "min_blocks above max_blocks is capped",
        snap(blk("0", R), min_blocks=5, max_blocks=2),
        out(1),
    ),
    Case(
        "init_blocks plus demand on a new executor",
        snap(outstanding=5, init_blocks=2),
        out(5),
    ),
    Case(
        "init_blocks above demand on a new executor",
        snap(outstanding=1, init_blocks=3),
        out(3),
    ),
    Case(
        "init_blocks only on a new executor",
        snap(blk("0", DONE), init_blocks=3),
        NOTHING,
    ),
    Case(
        "blocks all scaled in: not new when blocks_submitted says so",
        snap(init_blocks=2, blocks_submitted=4),
        NOTHING,
    ),
    Case(
        "blocks all scaled in: demand still met",
        snap(outstanding=3, init_blocks=2, blocks_submitted=4),
        out(3),
    ),
    Case(
        "a failed block is replaced",
        snap(blk("0", FAILED), outstanding=1, failed_blocks=1),
        out(1),
    ),
    Case(
        "timed out and missing blocks are replaced",
        snap(blk("0", TIMEOUT), blk("1", MISSING), blk("2", R, 1), outstanding=3, failed_blocks=2),
        out(2),
    ),
    Case(
        "a cancelled block is replaced while tasks wait",
        snap(blk("0", CANCELLED), outstanding=1),
        out(1),
    ),
    Case(
        "failures below the limit still scale out",
        snap(blk("0", FAILED), blk("1", FAILED), outstanding=1, failed_blocks=2),
        out(1),
    ),
    Case(
        "max_block_failures 0 never gives up",
        snap(blk("0", FAILED), outstanding=1, failed_blocks=99, max_block_failures=0),
        out(1),
    ),
    Case(
        "negative max_block_failures never gives up",
        snap(blk("0", FAILED), outstanding=1, failed_blocks=99, max_block_failures=-1),
        out(1),
    ),
    Case(
        "slots_per_block 0 treated as 1",
        snap(outstanding=2, slots_per_block=0, init_blocks=0),
        out(2),
    ),
    Case(
        "busy blocks beyond demand are never scaled in",
        snap(blk("0", R, 2, idle=1e6), blk("1", R, 1, idle=1e6), outstanding=1),
        NOTHING,
    ),
]


@pytest.mark.parametrize("strategy", ["simple", "htex_auto_scale"])
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in SCALE_OUT])
def test_scale_out(strategy: str, case: Case) -> None:
    assert decide_case(strategy, case) == case.expected


# -- simple and htex_auto_scale: scaling in with nothing outstanding --------

SCALE_IN_IDLE = [
    Case("idle long enough", snap(blk("0", R, idle=IDLE)), cancel("0")),
    Case("not idle long enough", snap(blk("0", R, idle=IDLE - 1)), NOTHING),
    Case("never connected (idle None)", snap(blk("0", P), blk("1", R)), NOTHING),
    Case(
        "busy block with an idle time is kept",
        snap(blk("0", R, tasks=1, idle=10_000)),
        NOTHING,
    ),
    Case(
        "most idle first, down to min_blocks",
        snap(
            blk("a", R, idle=200),
            blk("b", R, idle=900),
            blk("c", R, idle=500),
            min_blocks=1,
        ),
        cancel("b", "c"),
    ),
    Case(
        "equal idle times keep snapshot order",
        snap(blk("x", R, idle=300), blk("y", R, idle=300), blk("z", R, idle=300), min_blocks=1),
        cancel("x", "y"),
    ),
    Case(
        "min_blocks kept even if all idle",
        snap(blk("0", R, idle=1e6), blk("1", R, idle=1e6), min_blocks=2),
        NOTHING,
    ),
    Case(
        "min_blocks above max_blocks still keeps min_blocks",
        snap(
            blk("0", R, idle=500),
            blk("1", R, idle=600),
            blk("2", R, idle=700),
            min_blocks=3,
            max_blocks=2,
        ),
        NOTHING,
    ),
    Case(
        "only idle ones go, busy and unconnected stay",
        snap(
            blk("busy", R, tasks=3),
            blk("new", P),
            blk("idle", R, idle=400),
            blk("fresh", R, idle=5),
        ),
        cancel("idle"),
    ),
    Case(
        "terminal blocks are not scaled in",
        snap(blk("0", DONE, idle=1e6), blk("1", FAILED, idle=1e6)),
        NOTHING,
    ),
    Case("max_idletime 0 scales in any idle block", snap(blk("0", R, idle=0.0)), cancel("0"), 0.0),
    Case(
        "idle pending/held/unknown blocks count and may go",
        snap(blk("0", H, idle=500), blk("1", U, idle=600), blk("2", P, idle=700), min_blocks=1),
        cancel("2", "1"),
    ),
    Case(
        "giving up still scales in idle blocks",
        snap(
            blk("0", R, idle=500),
            blk("1", FAILED),
            blk("2", FAILED),
            blk("3", FAILED),
            failed_blocks=3,
            failure_message="boom",
        ),
        Decision(
            scale_in=("0",),
            give_up="executor 'htex': 3 blocks failed (the limit is 3); last failure: boom. "
            "Fix the provider settings (see the block's stdout/stderr) and run again.",
        ),
    ),
]


@pytest.mark.parametrize("strategy", ["simple", "htex_auto_scale"])
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in SCALE_IN_IDLE])
def test_scale_in_when_idle(strategy: str, case: Case) -> None:
    assert decide_case(strategy, case) == case.expected


# -- scaling in while tasks are outstanding: where the two differ ------------

SURPLUS = snap(
    blk("busy", R, tasks=1),
    blk("idle-a", R, idle=300),
    blk("idle-b", R, idle=800),
    blk("young", R, idle=10),
    outstanding=1,
)

WHILE_OUTSTANDING: list[tuple[str, ExecutorSnapshot, Decision, Decision]] = [
    # id, snapshot, simple's decision, htex_auto_scale's decision
    ("surplus idle blocks", SURPLUS, NOTHING, cancel("idle-b", "idle-a")),
    (
        "surplus kept above min_blocks",
        snap(*SURPLUS.blocks, outstanding=1, min_blocks=3),
        NOTHING,
        cancel("idle-b"),
    ),
    (
        "surplus kept at the target",
        snap(*SURPLUS.blocks, outstanding=3),
        NOTHING,
        cancel("idle-b"),
    ),
    (
        "no surplus",
        snap(blk("0", R, 1), blk("1", R, idle=1e6), outstanding=2),
        NOTHING,
        NOTHING,
    ),
    (
        "parallelism 0 keeps one block for outstanding tasks",
        snap(blk("0", R, idle=900), blk("1", R, idle=800), outstanding=5, parallelism=0.0),
        NOTHING,
        cancel("0"),
    ),
    (
        "unconnected blocks are never the surplus",
        snap(blk("0", P), blk("1", P), blk("2", R, 1), outstanding=1),
        NOTHING,
        NOTHING,
    ),
]


@pytest.mark.parametrize(
    ("snapshot", "simple", "htex"),
    [pytest.param(s, a, b, id=i) for i, s, a, b in WHILE_OUTSTANDING],
)
def test_scale_in_while_outstanding(
    snapshot: ExecutorSnapshot, simple: Decision, htex: Decision
) -> None:
    assert decide("simple", snapshot, IDLE) == simple
    assert decide("htex_auto_scale", snapshot, IDLE) == htex


# -- failures and giving up ---------------------------------------------------

GIVE_UP = [
    Case(
        "limit reached",
        snap(blk("0", FAILED), blk("1", FAILED), blk("2", FAILED), outstanding=4, failed_blocks=3),
        Decision(
            give_up="executor 'htex': 3 blocks failed (the limit is 3); last failure: the provider "
            "gave no reason. Fix the provider settings (see the block's stdout/stderr) and run "
            "again."
        ),
    ),
    Case(
        "limit passed, live blocks left: still nothing submitted",
        snap(
            blk("0", R, 1),
            outstanding=100,
            failed_blocks=4,
            max_block_failures=2,
            label="gpu",
            failure_message="block 3 failed with exit code 1: OUT_OF_MEMORY.\n",
        ),
        Decision(
            give_up="executor 'gpu': 4 blocks failed (the limit is 2); last failure: block 3 "
            "failed with exit code 1: OUT_OF_MEMORY. Fix the provider settings (see the "
            "block's stdout/stderr) and run again."
        ),
    ),
    Case(
        "one block, limit one",
        snap(blk("0", FAILED), outstanding=1, failed_blocks=1, max_block_failures=1),
        Decision(
            give_up="executor 'htex': 1 block failed (the limit is 1); last failure: the provider "
            "gave no reason. Fix the provider settings (see the block's stdout/stderr) and run "
            "again."
        ),
    ),
]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in GIVE_UP])
def test_give_up(strategy: str, case: Case) -> None:
    assert decide_case(strategy, case) == case.expected


@pytest.mark.parametrize("strategy", ["simple", "htex_auto_scale"])
def test_failed_blocks_replaced_until_the_limit(strategy: str) -> None:
    """Play the poller: every submitted block fails, until the executor gives up."""
    blocks: list[BlockSnapshot] = []
    submitted_rounds = []
    for failed in range(10):
        snapshot = snap(
            *blocks,
            outstanding=2,
            init_blocks=1,
            max_blocks=1,
            failed_blocks=failed,
            failure_message=f"block {failed - 1} failed: no such queue" if failed else "",
        )
        decision = decide(strategy, snapshot, IDLE)
        if decision.give_up is not None:
            break
        submitted_rounds.append(decision.scale_out)
        assert decision.scale_out == 1
        blocks.append(blk(str(len(blocks)), FAILED))
    assert submitted_rounds == [1, 1, 1]
    assert decision.scale_out == 0
    assert decision.give_up is not None
    assert "executor 'htex'" in decision.give_up
    assert "3 blocks failed (the limit is 3)" in decision.give_up
    assert "block 2 failed: no such queue" in decision.give_up


@pytest.mark.parametrize("bad", ["", "Simple", "auto", "htex-auto-scale"])
def test_unknown_strategy(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown scaling strategy") as info:
        decide(bad, snap(), IDLE)
    for name in STRATEGIES:
        assert repr(name) in str(info.value)


def test_decide_is_pure() -> None:
    snapshot = snap(blk("0", R, idle=500), blk("1", R, 1), outstanding=0)
    first = decide("simple", snapshot, IDLE)
    assert all(decide("simple", snapshot, IDLE) == first for _ in range(5))


# -- properties over random snapshots ---------------------------------------

STATES = list(JobState)


@st.composite
def snapshots(draw: st.DrawFn) -> ExecutorSnapshot:
    n = draw(st.integers(0, 12))
    blocks = tuple(
        BlockSnapshot(
            str(i),
            draw(st.sampled_from(STATES)),
            draw(st.integers(0, 4)),
            draw(st.none() | st.floats(0, 1000, allow_nan=False)),
        )
        for i in range(n)
    )
    return ExecutorSnapshot(
        label=draw(st.sampled_from(["htex", "gpu nodes"])),
        outstanding=draw(st.integers(0, 200)),
        slots_per_block=draw(st.integers(1, 16)),
        blocks=blocks,
        init_blocks=draw(st.integers(0, 6)),
        min_blocks=draw(st.integers(0, 6)),
        max_blocks=draw(st.integers(0, 12)),
        parallelism=draw(st.floats(0, 1, allow_nan=False)),
        failed_blocks=draw(st.integers(0, 5)),
        max_block_failures=draw(st.integers(-1, 5)),
        failure_message=draw(st.sampled_from(["", "sbatch: error"])),
        blocks_submitted=draw(st.none() | st.integers(n, n + 5)),
    )


@settings(max_examples=500, deadline=None, database=None)
@given(
    strategy=st.sampled_from(STRATEGIES),
    snapshot=snapshots(),
    max_idletime=st.floats(0, 600, allow_nan=False),
)
def test_properties(strategy: str, snapshot: ExecutorSnapshot, max_idletime: float) -> None:
    decision = decide(strategy, snapshot, max_idletime)
    live = [b for b in snapshot.blocks if not b.state.terminal]
    by_id = {b.block_id: b for b in live}

    # never above max_blocks (and nothing added when already there)
    assert decision.scale_out >= 0
    assert decision.scale_out <= max(0, snapshot.max_blocks - len(live))
    if len(live) <= snapshot.max_blocks:
        assert len(live) + decision.scale_out <= snapshot.max_blocks

    # only live blocks idle long enough with no tasks, each once
    assert len(set(decision.scale_in)) == len(decision.scale_in)
    for block_id in decision.scale_in:
        block = by_id[block_id]
        assert block.tasks == 0
        assert block.idle_seconds is not None
        assert block.idle_seconds >= max_idletime
    # most idle first
    idles = [by_id[b].idle_seconds or 0.0 for b in decision.scale_in]
    assert idles == sorted(idles, reverse=True)

    # min_blocks kept
    assert len(live) - len(decision.scale_in) >= min(snapshot.min_blocks, len(live))

    # never both directions at once
    assert not (decision.scale_out and decision.scale_in)

    if strategy == "none":
        assert decision.scale_in == ()
    if strategy == "simple" and snapshot.outstanding > 0:
        assert decision.scale_in == ()

    limit = snapshot.max_block_failures
    if 0 < limit <= snapshot.failed_blocks:
        assert decision.scale_out == 0
        assert decision.give_up is not None
        assert repr(snapshot.label) in decision.give_up
        assert f"{snapshot.failed_blocks} block" in decision.give_up
        assert f"the limit is {limit}" in decision.give_up
        assert snapshot.failure_message in decision.give_up
    elif (
        strategy == "none"
        and not any(not b.state.terminal for b in snapshot.blocks)
        and snapshot.outstanding > 0
        and snapshot.failed_blocks > 0
        and decision.scale_out == 0
    ):
        assert decision.give_up is not None and "strategy 'none'" in decision.give_up
    else:
        assert decision.give_up is None


def test_none_gives_up_when_its_only_blocks_failed() -> None:
    snapshot = ExecutorSnapshot(
        label="htex",
        outstanding=4,
        slots_per_block=2,
        blocks=(BlockSnapshot("0", JobState.FAILED),),
        init_blocks=1,
        min_blocks=0,
        max_blocks=2,
        parallelism=1.0,
        blocks_submitted=1,
        failed_blocks=1,
        failure_message="block 0 failed with exit code 127: worker_init: module: not found",
    )
    decision = decide("none", snapshot, max_idletime=60)
    assert decision.scale_out == 0 and decision.give_up is not None
    assert "strategy 'none'" in decision.give_up and "module: not found" in decision.give_up
