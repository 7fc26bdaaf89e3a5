"""Blocks started on demand, released when idle, and given up on when they keep failing."""

from __future__ import annotations

import time
from pathlib import Path

import htex_apps
import pytest
from htex_helpers import (
    HB_THRESHOLD,
    MARGIN,
    TASK_TIMEOUT,
    descendants,
    is_manager,
    make_htex,
    wait_gone,
    wait_pid_file,
)

from plait.errors import ExecutorError, ScalingFailed
from plait.launchers.simple import SimpleLauncher
from plait.providers.base import JobState
from plait.providers.local import LocalProvider
from plait.testing import wait_until

SCALING = {"strategy": "simple", "max_idletime": 1, "strategy_period": 0.2}


def _elastic_htex(**provider_options: object):
    options: dict[str, object] = {"init_blocks": 0, "min_blocks": 0, "max_blocks": 2}
    options.update(provider_options)
    return make_htex(provider=LocalProvider(launcher=SimpleLauncher(), **options))


def _states(executor) -> dict[str, JobState]:
    return {b: s.state for b, s in dict(executor.block_status).items()}


def _stays(predicate, duration: float, interval: float = 0.05) -> bool:
    """Whether ``predicate`` holds at every check for ``duration`` seconds."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(interval)
    return bool(predicate())


def _scaled_in(loaded) -> list[int]:
    """Wait until every block is SCALED_IN and its manager has exited; return those pids."""
    executor = loaded.executor
    managers = [
        pid for block in dict(executor.blocks) for pid in descendants(loaded.block_pid(block))
    ]
    managers = [pid for pid in managers if is_manager(pid)]
    wait_until(
        lambda: all(s is JobState.SCALED_IN for s in _states(executor).values()),
        10,
        what="every block SCALED_IN",
    )
    wait_gone(managers, 5, what="the scaled-in blocks' managers to exit")
    assert executor.live_blocks() == []
    return managers


def test_blocks_start_on_demand_and_are_scaled_in_when_idle(htex, tmp_path: Path) -> None:
    loaded = htex(_elastic_htex(), **SCALING)
    executor = loaded.executor
    assert executor.blocks == {}, "init_blocks=0 started a block"
    assert _stays(lambda: not executor.blocks, 0.5), "a block started with no task"

    futures = [htex_apps.add(i, 1) for i in range(4)]
    assert [f.result(timeout=TASK_TIMEOUT) for f in futures] == [1, 2, 3, 4]
    started = dict(executor.blocks)
    assert 1 <= len(started) <= 2, f"blocks: {started}"

    # idle for max_idletime: every block is scaled in, and its manager exits
    _scaled_in(loaded)

    # once the interchange has forgotten the managers, new work starts a new block
    wait_until(lambda: executor.connected_managers() == 0, HB_THRESHOLD + MARGIN, what="no manager")
    assert htex_apps.add(41, 1).result(timeout=TASK_TIMEOUT) == 42
    assert len(executor.blocks) > len(started)
    assert executor.live_blocks()


def test_task_submitted_right_after_scale_in_runs(htex) -> None:
    loaded = htex(_elastic_htex(max_blocks=1), **SCALING)
    assert htex_apps.add(1, 1).result(timeout=TASK_TIMEOUT) == 2
    _scaled_in(loaded)
    assert htex_apps.add(41, 1).result(timeout=TASK_TIMEOUT) == 42


def test_busy_block_is_not_scaled_in(htex, tmp_path: Path) -> None:
    """A block running a task longer than max_idletime stays; it goes once idle."""
    loaded = htex(_elastic_htex(max_blocks=1), **SCALING)
    executor = loaded.executor
    release = tmp_path / "release"
    fut = htex_apps.blocker(str(tmp_path / "started"), str(release))
    wait_pid_file(tmp_path / "started")
    assert _stays(lambda: _states(executor).get("0") is not JobState.SCALED_IN, 2.0)
    release.write_text("go")
    assert fut.result(timeout=TASK_TIMEOUT) > 0
    wait_until(
        lambda: _states(executor).get("0") is JobState.SCALED_IN, 10, what="block 0 SCALED_IN"
    )


def test_max_blocks_is_respected(htex, tmp_path: Path) -> None:
    loaded = htex(_elastic_htex(max_blocks=2), **SCALING)
    executor = loaded.executor
    release = tmp_path / "release"
    futures = [htex_apps.blocker(str(tmp_path / f"s{i}"), str(release)) for i in range(12)]
    wait_until(lambda: len(executor.blocks) == 2, TASK_TIMEOUT, what="two blocks")
    wait_until(lambda: executor.connected_managers() == 2, TASK_TIMEOUT, what="two managers")
    assert _stays(lambda: len(executor.blocks) == 2, 1.0), "more than max_blocks started"
    release.write_text("go")
    assert all(f.result(timeout=TASK_TIMEOUT) for f in futures)
    assert len(executor.blocks) == 2


def test_block_is_scaled_in_after_a_cancelled_task(htex, tmp_path: Path) -> None:
    loaded = htex(_elastic_htex(max_blocks=1), **SCALING)
    executor = loaded.executor
    fut = htex_apps.pid_then_sleep(str(tmp_path / "pid"), 300)
    wait_pid_file(tmp_path / "pid")
    assert fut.cancel() is True
    wait_until(
        lambda: _states(executor).get("0") is JobState.SCALED_IN, 8, what="block 0 SCALED_IN"
    )


@pytest.mark.parametrize("strategy", ["simple", "none"])
def test_failing_blocks_end_in_scaling_failed(htex, strategy: str) -> None:
    """worker_init 'exit 7': every block fails; after max_block_failures (or, with
    strategy 'none', once the only block ended) the tasks fail with ScalingFailed naming
    exit code 7, without hanging, and no more blocks are submitted."""
    provider = LocalProvider(launcher=SimpleLauncher(), worker_init="exit 7")
    executor = make_htex(provider=provider, max_block_failures=2)
    htex(executor, strategy=strategy, strategy_period=0.2)
    began = time.monotonic()
    futures = [htex_apps.add(i, 1) for i in range(3)]
    for fut in futures:
        with pytest.raises(ScalingFailed) as info:
            fut.result(timeout=TASK_TIMEOUT)
        assert "exit code 7" in str(info.value)
    took = time.monotonic() - began
    assert took < 15, f"ScalingFailed after {took:.1f} s"
    expected = 2 if strategy == "simple" else 1
    assert len(executor.blocks) == expected
    assert all(s.state is JobState.FAILED for s in executor.block_status.values())
    assert all(s.exit_code == 7 for s in executor.block_status.values())
    # later tasks fail at once with the same explanation; no block is started for them
    with pytest.raises(ExecutorError, match="exit code 7"):
        htex_apps.add(0, 0).result(timeout=TASK_TIMEOUT)
    assert _stays(lambda: len(executor.blocks) == expected, 1.0), "blocks kept being submitted"
