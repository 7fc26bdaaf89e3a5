"""Starting and stopping kernels: plait.load, with-blocks, exit modes, cleanup and run dirs."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import CancelledError, Future

import pytest

import plait
from plait import BasicMemoizer, join_app, python_app
from plait.dataflow.states import States
from plait.errors import ConfigError, NoDataFlowKernelError

TIMEOUT = 10


@python_app
def nap(x, seconds=0.05):
    time.sleep(seconds)
    return x


@python_app
def inc(x):
    return x + 1


@join_app
def joined(x):
    return inc(x)


def _wait_until(predicate, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_with_block_waits_for_tasks_on_normal_exit(make_config):
    with plait.load(make_config()) as kernel:
        futs = [nap(i) for i in range(8)]
    assert all(f.done() for f in futs)
    assert [f.result() for f in futs] == list(range(8))
    assert kernel.cleanup_called


def test_with_block_waits_for_tasks_submitted_by_tasks(make_config):
    with plait.load(make_config()):
        fut = joined(1)
    assert fut.done()
    assert fut.result() == 2


def test_with_block_forgets_kernel_on_exit(make_config):
    with plait.load(make_config()) as kernel:
        assert plait.dfk() is kernel
    with pytest.raises(NoDataFlowKernelError):
        plait.dfk()


def test_exit_mode_cleanup_cancels_outstanding_tasks(make_config):
    gate: Future[int] = Future()
    started = time.monotonic()
    with plait.load(make_config(exit_mode="cleanup")) as kernel:
        done = inc(1)
        assert done.result(timeout=TIMEOUT) == 2
        waiting = [inc(gate) for _ in range(5)]
    assert time.monotonic() - started < 5
    assert all(f.cancelled() for f in waiting)
    assert done.result() == 2
    assert kernel.task_counts()["cancelled"] == 5


def test_exception_in_block_cancels_outstanding_tasks(make_config):
    gate: Future[int] = Future()
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="user code broke"), plait.load(make_config()):
        waiting = [inc(gate) for _ in range(5)]
        raise RuntimeError("user code broke")
    assert time.monotonic() - started < 5
    assert all(f.cancelled() for f in waiting)
    with pytest.raises(CancelledError):
        waiting[0].result(timeout=TIMEOUT)
    with pytest.raises(NoDataFlowKernelError):
        plait.dfk()


def test_exit_mode_skip_leaves_kernel_running(make_config):
    gate: Future[int] = Future()
    kernel = plait.load(make_config(exit_mode="skip"))
    try:
        with kernel:
            fut = inc(gate)
        assert not kernel.cleanup_called
        assert plait.dfk() is kernel
        gate.set_result(1)
        assert fut.result(timeout=TIMEOUT) == 2
    finally:
        kernel.cleanup()
    assert kernel.cleanup_called


def test_cleanup_twice_is_harmless(make_config):
    kernel = plait.load(make_config())
    assert inc(1).result(timeout=TIMEOUT) == 2
    kernel.cleanup()
    kernel.cleanup()
    assert kernel.cleanup_called


def test_cleanup_cancels_pending_tasks(make_config):
    gate: Future[int] = Future()
    kernel = plait.load(make_config())
    fut = inc(gate)
    kernel.cleanup()
    assert fut.cancelled()


def test_app_call_after_cleanup_raises(make_config):
    kernel = plait.load(make_config())
    kernel.cleanup()
    with pytest.raises(NoDataFlowKernelError, match=r"plait\.load"):
        inc(1)


def test_bound_app_call_after_cleanup_raises(make_config):
    kernel = plait.DataFlowKernel(make_config())

    @python_app(data_flow_kernel=kernel)
    def bound(x):
        return x

    assert bound(1).result(timeout=TIMEOUT) == 1
    kernel.cleanup()
    with pytest.raises(NoDataFlowKernelError, match="cleaned up"):
        bound(1)


def test_load_twice_is_config_error(make_config):
    kernel = plait.load(make_config())
    try:
        with pytest.raises(ConfigError, match="already loaded"):
            plait.load(make_config())
        assert plait.dfk() is kernel
    finally:
        kernel.cleanup()


def test_dfk_with_nothing_loaded_raises():
    with pytest.raises(NoDataFlowKernelError, match=r"plait\.load"):
        plait.dfk()


def test_app_call_with_nothing_loaded_raises():
    with pytest.raises(NoDataFlowKernelError):
        inc(1)


def test_clear_forgets_without_cleanup(make_config):
    kernel = plait.load(make_config())
    try:
        plait.clear()
        with pytest.raises(NoDataFlowKernelError):
            plait.dfk()
        assert not kernel.cleanup_called
    finally:
        kernel.cleanup()


def test_load_again_after_cleanup(make_config):
    with plait.load(make_config()):
        assert inc(1).result(timeout=TIMEOUT) == 2
    with plait.load(make_config()):
        assert inc(2).result(timeout=TIMEOUT) == 3


def test_run_dirs_are_numbered_per_load(make_config, run_dir):
    with plait.load(make_config()) as first:
        pass
    with plait.load(make_config()) as second:
        pass
    with plait.load(make_config()) as third:
        pass
    assert first.run_dir == os.path.join(run_dir, "000")
    assert second.run_dir == os.path.join(run_dir, "001")
    assert third.run_dir == os.path.join(run_dir, "002")
    assert sorted(os.listdir(run_dir)) == ["000", "001", "002"]


def test_run_dir_numbering_continues_after_existing(make_config, run_dir):
    os.makedirs(os.path.join(run_dir, "007"))
    with plait.load(make_config()) as kernel:
        pass
    assert os.path.basename(kernel.run_dir) == "008"


def test_plait_log_in_run_dir(make_config):
    with plait.load(make_config()) as kernel:
        inc(1).result(timeout=TIMEOUT)
    log = os.path.join(kernel.run_dir, "plait.log")
    assert os.path.isfile(log)
    with open(log) as f:
        text = f.read()
    assert kernel.run_id in text
    assert "Summary of tasks" in text


def test_initialize_logging_false_writes_no_log(make_config):
    with plait.load(make_config(initialize_logging=False)) as kernel:
        inc(1).result(timeout=TIMEOUT)
    assert not os.path.exists(os.path.join(kernel.run_dir, "plait.log"))


def test_no_plait_threads_alive_after_cleanup(make_config):
    before = set(threading.enumerate())
    config = make_config(memoizer=BasicMemoizer(checkpoint_mode="periodic", checkpoint_period=60))
    with plait.load(config):
        assert joined(1).result(timeout=TIMEOUT) == 2  # internal threads
        assert inc(1, walltime=30).result(timeout=TIMEOUT) == 2  # walltime timer thread
        ours = [t for t in threading.enumerate() if t not in before]
        assert any(t.name.startswith("plait-") for t in ours)

    def leftovers():
        return [
            t.name
            for t in threading.enumerate()
            if t not in before and t.name.startswith("plait-") and t.is_alive()
        ]

    _wait_until(lambda: not leftovers(), f"plait threads to exit: {leftovers()}")


def test_task_counts_show_exec_done(dfk):
    futs = [inc(i) for i in range(4)]
    for f in futs:
        f.result(timeout=TIMEOUT)
    counts = dfk.task_counts()
    assert counts["exec_done"] == 4
    assert counts["failed"] == 0
    assert counts["pending"] == 0
    assert dfk.task_state_counts[States.exec_done] == 4


def test_task_counts_show_pending_failed_and_dep_fail(dfk):
    @python_app
    def boom():
        raise ValueError("boom")

    gate: Future[int] = Future()
    waiting = inc(gate)
    bad = boom()
    child = inc(bad)
    child.exception(timeout=TIMEOUT)
    counts = dfk.task_counts()
    assert counts["pending"] == 1
    assert counts["failed"] == 1
    assert counts["dep_fail"] == 1
    assert dfk.task_counts_by_app() == {
        "inc": {"pending": 1, "dep_fail": 1},
        "boom": {"failed": 1},
    }
    gate.set_result(0)
    waiting.result(timeout=TIMEOUT)
    assert dfk.task_counts()["pending"] == 0
    assert dfk.task_counts_by_app()["inc"] == {"exec_done": 1, "dep_fail": 1}


def test_task_counts_are_exact_when_many_threads_finish_tasks(make_config):
    from plait.executors.threads import ThreadPoolExecutor

    @python_app
    def other():
        pass

    @python_app
    def boom():
        raise ValueError("boom")

    n = 3000
    with plait.load(make_config(executors=[ThreadPoolExecutor(max_threads=8)])) as dfk:
        futures = [inc(i) if i % 3 else other() for i in range(n)]
        futures.append(boom())
        for fut in futures:
            fut.exception(timeout=TIMEOUT)
        counts = dfk.task_counts()
        by_app = dfk.task_counts_by_app()
    assert counts["exec_done"] == n and counts["failed"] == 1
    assert by_app == {
        "inc": {"exec_done": 2000},
        "other": {"exec_done": 1000},
        "boom": {"failed": 1},
    }


def test_wait_for_current_tasks(dfk):
    futs = [nap(i) for i in range(6)]
    plait.wait_for_current_tasks()
    assert all(f.done() for f in futs)


def test_kernel_made_directly_is_a_context_manager(make_config):
    with plait.DataFlowKernel(make_config()) as kernel:

        @python_app(data_flow_kernel=kernel)
        def bound(x):
            return x * 3

        fut = bound(2)
    assert fut.result(timeout=0) == 6
    assert kernel.cleanup_called
