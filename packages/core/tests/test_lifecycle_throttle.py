"""max_outstanding_tasks: a bound on unfinished tasks that makes submission block."""

from __future__ import annotations

import threading
import time

import plait
from plait import join_app, python_app

TIMEOUT = 30


class Gauge:
    """Records the highest number of app bodies running at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak_running = 0
        self.peak_unfinished = 0

    def enter(self, unfinished: int) -> None:
        with self.lock:
            self.running += 1
            self.peak_running = max(self.peak_running, self.running)
            self.peak_unfinished = max(self.peak_unfinished, unfinished)

    def leave(self) -> None:
        with self.lock:
            self.running -= 1


def _unfinished(kernel) -> int:
    counts = kernel.task_counts()
    return sum(counts[s] for s in ("pending", "launched", "fail_retryable", "joining"))


def test_max_outstanding_tasks_bounds_concurrency_and_completes(make_config):
    gauge = Gauge()
    config = make_config(
        executors=[plait.ThreadPoolExecutor(max_threads=16)], max_outstanding_tasks=5
    )
    with plait.load(config) as kernel:

        @python_app
        def work(i):
            gauge.enter(_unfinished(kernel))
            try:
                time.sleep(0.005)
                return i
            finally:
                gauge.leave()

        futs = [work(i) for i in range(100)]
        assert [f.result(timeout=TIMEOUT) for f in futs] == list(range(100))
        assert kernel.task_counts()["exec_done"] == 100
    assert gauge.peak_running <= 5
    assert gauge.peak_unfinished <= 5


def test_without_limit_more_tasks_run_at_once(make_config):
    """The control for the test above: the same workload does exceed 5 without a limit."""
    gauge = Gauge()
    barrier = threading.Barrier(8, timeout=TIMEOUT)

    @python_app
    def work(i):
        gauge.enter(0)
        try:
            barrier.wait()
            return i
        finally:
            gauge.leave()

    config = make_config(executors=[plait.ThreadPoolExecutor(max_threads=8)])
    with plait.load(config):
        futs = [work(i) for i in range(8)]
        assert [f.result(timeout=TIMEOUT) for f in futs] == list(range(8))
    assert gauge.peak_running == 8


def test_max_outstanding_tasks_with_dependencies(make_config):
    @python_app
    def add(a, b):
        return a + b

    with plait.load(make_config(max_outstanding_tasks=3)):
        fut = add(0, 0)
        for i in range(50):
            fut = add(fut, i)
        assert fut.result(timeout=TIMEOUT) == sum(range(50))


def test_max_outstanding_tasks_with_failures_releases_slots(make_config):
    @python_app
    def boom(i):
        raise ValueError(i)

    with plait.load(make_config(max_outstanding_tasks=2)):
        futs = [boom(i) for i in range(20)]
        assert all(isinstance(f.exception(timeout=TIMEOUT), ValueError) for f in futs)


def test_max_outstanding_tasks_with_recursive_join_apps(make_config):
    @python_app
    def const(x):
        return x

    @python_app
    def add(a, b):
        return a + b

    @join_app
    def fib(n):
        if n < 2:
            return const(n)
        return add(fib(n - 1), fib(n - 2))

    with plait.load(make_config(max_outstanding_tasks=2, exit_mode="cleanup")):
        assert fib(5).result(timeout=5) == 5
