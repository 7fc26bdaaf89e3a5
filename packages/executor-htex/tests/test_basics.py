"""Results, exceptions, dependencies, bash apps, priority and argument checks on real workers."""

from __future__ import annotations

from pathlib import Path

import htex_apps
import pytest
from htex_helpers import TASK_TIMEOUT, make_htex, wait_pid_file

from plait.errors import (
    BashExitFailure,
    ConfigError,
    DependencyError,
    ExecutorError,
    InvalidResourceSpecification,
    SerializationError,
)
from plait.testing import wait_until


def test_results_come_back(htex) -> None:
    htex()
    futures = [htex_apps.add(i, i) for i in range(50)]
    assert [f.result(timeout=TASK_TIMEOUT) for f in futures] == [2 * i for i in range(50)]
    assert htex_apps.add("plait", b="-htex").result(timeout=TASK_TIMEOUT) == "plait-htex"
    big = list(range(200_000))
    assert htex_apps.add(big, [1]).result(timeout=TASK_TIMEOUT) == [*big, 1]


def test_user_exception_is_reraised_as_itself(htex) -> None:
    htex()
    with pytest.raises(htex_apps.HtexAppError, match="broken on purpose") as info:
        htex_apps.fail_with("broken on purpose").result(timeout=TASK_TIMEOUT)
    assert type(info.value) is htex_apps.HtexAppError
    # builtin exceptions too, and the executor keeps working afterwards
    with pytest.raises(TypeError):
        htex_apps.add(1, "x").result(timeout=TASK_TIMEOUT)
    assert htex_apps.add(1, 1).result(timeout=TASK_TIMEOUT) == 2


def test_unpicklable_exception_comes_back_described(htex) -> None:
    """An exception that cannot be pickled on the worker arrives as a RemoteError that
    names its type and message."""
    htex()
    with pytest.raises(Exception) as info:
        htex_apps.fail_unpicklable("holds a generator").result(timeout=TASK_TIMEOUT)
    assert type(info.value).__name__ == "RemoteError", repr(info.value)
    assert "UnpicklableError" in str(info.value)
    assert "holds a generator" in str(info.value)
    assert htex_apps.add(2, 3).result(timeout=TASK_TIMEOUT) == 5


def test_dependencies_and_chains(htex) -> None:
    htex()
    # a chain: each task takes the previous one's future
    fut = htex_apps.add(0, 1)
    for _ in range(20):
        fut = htex_apps.add(fut, 1)
    assert fut.result(timeout=TASK_TIMEOUT) == 21
    # fan-in through inputs=
    parts = [htex_apps.add(i, 0) for i in range(10)]
    assert htex_apps.total(inputs=parts).result(timeout=TASK_TIMEOUT) == 45
    # a failed dependency fails its dependents without running them
    failed = htex_apps.fail_with("upstream")
    downstream = htex_apps.add(failed, 1)
    with pytest.raises(DependencyError) as info:
        downstream.result(timeout=TASK_TIMEOUT)
    assert isinstance(info.value.__cause__, htex_apps.HtexAppError)


def test_bash_apps(htex, tmp_path: Path) -> None:
    htex()
    out = tmp_path / "bash.out"
    assert htex_apps.echo_to(str(out), "hello-htex").result(timeout=TASK_TIMEOUT) == 0
    assert out.read_text() == "hello-htex\n"
    with pytest.raises(BashExitFailure) as info:
        htex_apps.exit_with(3).result(timeout=TASK_TIMEOUT)
    assert info.value.exitcode == 3
    # bash apps with stdout redirection and a dependency
    log = tmp_path / "echo.stdout"
    first = htex_apps.echo_to(str(tmp_path / "a"), "A")
    second = htex_apps.bash_sleep(0, stdout=str(log), inputs=[first])
    assert second.result(timeout=TASK_TIMEOUT) == 0
    assert log.exists()


def test_priority_overtakes_queued_tasks(htex, tmp_path: Path) -> None:
    """While the only worker is busy, 8 priority-0 tasks then one priority-10 task queue
    in the interchange; once the worker is free the priority-10 task runs first, then
    the others in submission order (the interchange serves higher values first)."""
    loaded = htex(make_htex(max_workers_per_node=1, prefetch_capacity=0))
    started, release = tmp_path / "started", tmp_path / "release"
    log = tmp_path / "order.log"
    busy = htex_apps.blocker(str(started), str(release))
    wait_pid_file(started)
    low = [htex_apps.record(str(log), f"low-{i}", priority=0) for i in range(8)]
    high = htex_apps.record(str(log), "high", priority=10)
    # every waiting task has reached the interchange's queue before the worker frees up
    wait_until(
        lambda: loaded.executor._status.get("queued") == 9,
        TASK_TIMEOUT,
        what="9 tasks queued in the interchange",
    )
    release.write_text("go")
    assert busy.result(timeout=TASK_TIMEOUT) > 0
    assert high.result(timeout=TASK_TIMEOUT) == "high"
    for fut in low:
        fut.result(timeout=TASK_TIMEOUT)
    order = log.read_text().split()
    assert order == ["high", *[f"low-{i}" for i in range(8)]]


def test_priority_through_resource_specification(htex, tmp_path: Path) -> None:
    """``parsl_resource_specification={'priority': n}`` is accepted and runs the task."""
    htex()
    log = tmp_path / "log"
    fut = htex_apps.record(str(log), "x", parsl_resource_specification={"priority": 3})
    assert fut.result(timeout=TASK_TIMEOUT) == "x"


@pytest.mark.parametrize("key", ["cores", "memory", "num_nodes", "running_time_min"])
def test_resource_keys_other_than_priority_are_refused(htex, key: str) -> None:
    loaded = htex()
    with pytest.raises(InvalidResourceSpecification) as info:
        htex_apps.add(1, 2, parsl_resource_specification={key: 1}).result(timeout=TASK_TIMEOUT)
    assert key in str(info.value)
    # straight through the executor as well: refused at submit time
    with pytest.raises(InvalidResourceSpecification):
        loaded.executor.submit(htex_apps.add.__wrapped__, {key: 1, "priority": 1}, 1, 2)
    assert htex_apps.add(1, 2).result(timeout=TASK_TIMEOUT) == 3


def test_unpicklable_argument_names_the_argument_and_its_type(htex) -> None:
    htex()
    generator = (i for i in range(3))
    with pytest.raises(SerializationError) as info:
        htex_apps.consume(generator).result(timeout=TASK_TIMEOUT)
    message = str(info.value)
    assert "argument 0" in message
    assert "generator" in message
    assert "consume" in message
    with pytest.raises(SerializationError) as info:
        htex_apps.consume(items=(i for i in range(3))).result(timeout=TASK_TIMEOUT)
    assert "'items'" in str(info.value) and "generator" in str(info.value)
    assert htex_apps.consume([1, 2, 3]).result(timeout=TASK_TIMEOUT) == 3


def test_unpicklable_result_names_its_type(htex) -> None:
    htex()
    with pytest.raises(SerializationError) as info:
        htex_apps.make_generator().result(timeout=TASK_TIMEOUT)
    message = str(info.value)
    assert "result" in message
    assert "generator" in message
    assert "make_generator" in message
    # the worker survived: the next task runs
    assert htex_apps.add(1, 1).result(timeout=TASK_TIMEOUT) == 2


def test_invalid_settings_are_refused_at_construction() -> None:
    with pytest.raises(ConfigError, match="heartbeat_threshold"):
        make_htex(heartbeat_period=2.0, heartbeat_threshold=1.0)
    with pytest.raises(ConfigError, match="cpu_affinity"):
        make_htex(cpu_affinity="sideways")


def test_submit_after_shutdown_is_refused(htex) -> None:
    loaded = htex()
    assert htex_apps.add(1, 1).result(timeout=TASK_TIMEOUT) == 2
    loaded.dfk.cleanup()
    with pytest.raises(ExecutorError, match="shut down"):
        loaded.executor.submit(htex_apps.add.__wrapped__, {}, 1, 1)
