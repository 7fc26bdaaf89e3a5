"""Checkpoint files: written per checkpoint_mode, loaded by a later kernel, torn or corrupt."""

from __future__ import annotations

import logging
import os
import threading
import warnings

import pytest

import plait
from plait import BasicMemoizer, python_app
from plait.dataflow.memoization import CHECKPOINT_DIR, CHECKPOINT_FILE, load_checkpoint
from plait.errors import BadCheckpoint, NoDataFlowKernelError

TIMEOUT = 10


class Calls:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.args: list[object] = []

    def add(self, x: object) -> None:
        with self.lock:
            self.args.append(x)


def _cached_app(calls: Calls):
    @python_app(cache=True)
    def cube(x):
        calls.add(x)
        return x**3

    return cube


def _ckpt_file(kernel) -> str:
    return os.path.join(kernel.run_dir, CHECKPOINT_DIR, CHECKPOINT_FILE)


def _records(kernel) -> list:
    path = _ckpt_file(kernel)
    if not os.path.exists(path):
        return []
    return load_checkpoint(os.path.dirname(path))


def _run(make_config, app, args, **config):
    """Run app(x) for each x in a fresh kernel; return the kernel (cleaned up)."""
    with plait.load(make_config(**config)) as kernel:
        for x in args:
            app(x).result(timeout=TIMEOUT)
    return kernel


def test_task_exit_writes_each_result_as_task_ends(make_config):
    cube = _cached_app(Calls())
    kernel = plait.load(make_config(checkpoint_mode="task_exit"))
    try:
        cube(2).result(timeout=TIMEOUT)
        assert [result for _, result in _records(kernel)] == [8]
        cube(3).result(timeout=TIMEOUT)
        assert sorted(result for _, result in _records(kernel)) == [8, 27]
    finally:
        kernel.cleanup()


def test_dfk_exit_writes_only_at_cleanup(make_config):
    cube = _cached_app(Calls())
    kernel = plait.load(make_config(memoizer=BasicMemoizer(checkpoint_mode="dfk_exit")))
    try:
        cube(2).result(timeout=TIMEOUT)
        assert _records(kernel) == []
    finally:
        kernel.cleanup()
    assert [result for _, result in _records(kernel)] == [8]


def test_manual_writes_only_on_checkpoint_call(make_config):
    cube = _cached_app(Calls())
    kernel = plait.load(make_config(checkpoint_mode="manual"))
    try:
        cube(2).result(timeout=TIMEOUT)
        assert _records(kernel) == []
        kernel.checkpoint()
        assert [result for _, result in _records(kernel)] == [8]
        cube(3).result(timeout=TIMEOUT)
    finally:
        kernel.cleanup()
    # manual mode does not write the unsaved result at cleanup
    assert [result for _, result in _records(kernel)] == [8]


def test_no_checkpoint_mode_writes_no_file(make_config, run_dir):
    cube = _cached_app(Calls())
    _run(make_config, cube, [1, 2])
    assert plait.get_all_checkpoints(run_dir) == []
    assert plait.get_last_checkpoint(run_dir) == []


def test_failures_are_not_checkpointed(make_config):
    @python_app(cache=True)
    def broken(x):
        raise RuntimeError("no")

    with plait.load(make_config(checkpoint_mode="task_exit")) as kernel:
        broken(1).exception(timeout=TIMEOUT)
    assert _records(kernel) == []


@pytest.mark.parametrize("mode", ["task_exit", "dfk_exit", "manual"])
def test_second_kernel_loads_checkpoint_and_skips_work(make_config, run_dir, mode):
    calls = Calls()
    cube = _cached_app(calls)
    with plait.load(make_config(checkpoint_mode=mode)) as first:
        assert cube(4).result(timeout=TIMEOUT) == 64
        if mode == "manual":
            first.checkpoint()
    assert calls.args == [4]

    checkpoints = plait.get_all_checkpoints(run_dir)
    assert checkpoints == [os.path.join(first.run_dir, CHECKPOINT_DIR)]
    with plait.load(make_config(checkpoint_files=checkpoints)):
        fut = cube(4)
        assert fut.result(timeout=TIMEOUT) == 64
        assert fut.task_status() == "memo_done"
        assert cube(5).result(timeout=TIMEOUT) == 125
    assert calls.args == [4, 5]


def test_checkpoint_files_through_new_style_memoizer(make_config, run_dir):
    calls = Calls()
    cube = _cached_app(calls)
    _run(make_config, cube, [2], memoizer=BasicMemoizer(checkpoint_mode="task_exit"))
    memo = BasicMemoizer(checkpoint_files=plait.get_last_checkpoint(run_dir))
    _run(make_config, cube, [2], memoizer=memo)
    assert calls.args == [2]


def test_get_all_and_last_checkpoint_order_runs(make_config, run_dir):
    cube = _cached_app(Calls())
    first = _run(make_config, cube, [1], checkpoint_mode="task_exit")
    second = _run(make_config, cube, [2], checkpoint_mode="task_exit")
    all_dirs = plait.get_all_checkpoints(run_dir)
    assert all_dirs == [
        os.path.join(first.run_dir, CHECKPOINT_DIR),
        os.path.join(second.run_dir, CHECKPOINT_DIR),
    ]
    assert plait.get_last_checkpoint(run_dir) == all_dirs[-1:]


def test_all_checkpoints_together_cover_every_run(make_config, run_dir):
    calls = Calls()
    cube = _cached_app(calls)
    _run(make_config, cube, [1], checkpoint_mode="task_exit")
    _run(make_config, cube, [2], checkpoint_mode="task_exit")
    _run(make_config, cube, [1, 2, 3], checkpoint_files=plait.get_all_checkpoints(run_dir))
    assert calls.args == [1, 2, 3]


def test_last_checkpoint_only_covers_last_run(make_config, run_dir):
    calls = Calls()
    cube = _cached_app(calls)
    _run(make_config, cube, [1], checkpoint_mode="task_exit")
    _run(make_config, cube, [2], checkpoint_mode="task_exit")
    _run(make_config, cube, [1, 2], checkpoint_files=plait.get_last_checkpoint(run_dir))
    assert calls.args == [1, 2, 1]


def test_get_all_checkpoints_of_missing_dir_is_empty(tmp_path):
    assert plait.get_all_checkpoints(str(tmp_path / "nothing")) == []
    assert plait.get_last_checkpoint(str(tmp_path / "nothing")) == []


def test_torn_last_record_is_skipped_with_warning(make_config, run_dir):
    calls = Calls()
    cube = _cached_app(calls)
    first = _run(make_config, cube, [1, 2], checkpoint_mode="task_exit")
    path = _ckpt_file(first)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size - 3)  # the writer was killed part way through the last record

    with pytest.warns(RuntimeWarning, match="incomplete record"):
        kernel = plait.load(make_config(checkpoint_files=plait.get_all_checkpoints(run_dir)))
    try:
        assert cube(1).result(timeout=TIMEOUT) == 1
        assert cube(2).result(timeout=TIMEOUT) == 8
    finally:
        kernel.cleanup()
    assert calls.args == [1, 2, 2]  # 1 came from the checkpoint, 2 was re-run


def test_torn_header_is_skipped_with_warning(make_config):
    cube = _cached_app(Calls())
    first = _run(make_config, cube, [1], checkpoint_mode="task_exit")
    path = _ckpt_file(first)
    with open(path, "ab") as f:
        f.write(b"\x05\x00")  # half of the next record's header
    with pytest.warns(RuntimeWarning):
        records = load_checkpoint(os.path.dirname(path))
    assert [result for _, result in records] == [1]


def test_intact_checkpoint_loads_without_warning(make_config):
    cube = _cached_app(Calls())
    first = _run(make_config, cube, [1, 2, 3], checkpoint_mode="task_exit")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        records = load_checkpoint(os.path.dirname(_ckpt_file(first)))
    assert sorted(result for _, result in records) == [1, 8, 27]


def test_corruption_in_the_middle_is_bad_checkpoint(make_config, run_dir):
    cube = _cached_app(Calls())
    first = _run(make_config, cube, [1, 2, 3], checkpoint_mode="task_exit")
    path = _ckpt_file(first)
    with open(path, "r+b") as f:
        f.seek(12)  # inside the first record's payload (the header is 8 bytes)
        byte = f.read(1)
        f.seek(12)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(BadCheckpoint, match="corrupt"):
        plait.load(make_config(checkpoint_files=plait.get_all_checkpoints(run_dir)))
    # the failed load left nothing current: a new load works
    with pytest.raises(NoDataFlowKernelError):
        plait.dfk()


def test_failed_load_leaves_no_log_handler_behind(make_config, tmp_path):
    missing = str(tmp_path / "no_such_checkpoint")
    handlers_before = list(logging.getLogger("plait").handlers)
    with pytest.raises(BadCheckpoint):
        plait.load(make_config(checkpoint_files=[missing]))
    assert logging.getLogger("plait").handlers == handlers_before


def test_missing_checkpoint_dir_is_bad_checkpoint_with_hint(make_config, tmp_path):
    missing = str(tmp_path / "no_such_checkpoint")
    with pytest.raises(BadCheckpoint) as info:
        plait.load(make_config(checkpoint_files=[missing]))
    assert missing in str(info.value)
    assert "get_all_checkpoints" in str(info.value)


def test_unpicklable_result_is_skipped_not_fatal(make_config):
    lock = threading.Lock()

    @python_app(cache=True)
    def make_lock(x):
        return lock  # a lock cannot be pickled

    with plait.load(make_config(checkpoint_mode="task_exit")) as kernel:
        assert make_lock(1).result(timeout=TIMEOUT) is lock
        assert make_lock(1).result(timeout=TIMEOUT) is lock  # still cached in memory
    assert _records(kernel) == []


def test_periodic_mode_writes_while_running(make_config):
    import time

    cube = _cached_app(Calls())
    config = make_config(memoizer=BasicMemoizer(checkpoint_mode="periodic", checkpoint_period=0.05))
    with plait.load(config) as kernel:
        cube(2).result(timeout=TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while not _records(kernel):
            assert time.monotonic() < deadline, "no periodic checkpoint was written"
            time.sleep(0.01)
    assert [result for _, result in _records(kernel)] == [8]


def test_periodic_period_as_hh_mm_ss(make_config):
    cube = _cached_app(Calls())
    config = make_config(checkpoint_mode="periodic", checkpoint_period="01:00:00")
    with plait.load(config) as kernel:
        cube(3).result(timeout=TIMEOUT)
    # the period never elapsed: cleanup wrote the pending result
    assert [result for _, result in _records(kernel)] == [27]
