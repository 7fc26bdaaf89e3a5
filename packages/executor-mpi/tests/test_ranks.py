"""``mpi_python_app`` without running ranks: its signature, how it travels, its errors."""

from __future__ import annotations

import inspect
import pickle

import mpi_apps
import pytest

from plait.app.app import PythonApp
from plait_executor_mpi import RankFailure, mpi_python_app
from plait_executor_mpi.ranks import RankRunner

pytestmark = pytest.mark.timeout(10)


def test_the_app_hides_the_communicator_parameter() -> None:
    """plait sees the user's parameters after ``comm``: those are what callers pass."""
    assert isinstance(mpi_apps.rank_sum, PythonApp)
    runner = mpi_apps.rank_sum.func
    assert isinstance(runner, RankRunner)
    assert list(inspect.signature(runner).parameters) == ["scale"]
    assert mpi_apps.rank_sum.__name__ == "rank_sum"


def test_an_importable_app_travels_by_reference() -> None:
    runner = mpi_apps.rank_info.func
    data = pickle.dumps(runner)
    assert b"rank_info" in data and len(data) < 300
    assert pickle.loads(data) is runner
    assert runner.all_ranks


def test_a_function_without_a_communicator_parameter_is_refused() -> None:
    with pytest.raises(TypeError, match=r"def f\(comm, \.\.\.\)"):

        @mpi_python_app
        def no_parameters() -> int:
            return 1


def test_outside_an_mpi_executor_the_runner_says_where_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PLAIT_MPI_PREFIX", raising=False)
    with pytest.raises(RuntimeError, match="runs only on an MPIExecutor"):
        mpi_apps.rank_sum.func(3)


def test_rank_failure_travels_as_itself() -> None:
    error = RankFailure("app", -9, 4, "rank 3: out of memory")
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error)
    assert "killed by signal 9" in str(again) and "rank 3: out of memory" in str(again)


def test_mpi_exit_failure_is_a_bash_exit_failure_that_travels_as_itself() -> None:
    from plait.errors import BashExitFailure
    from plait_executor_mpi import MPIExitFailure

    error = MPIExitFailure("hello", 7, None, "/tmp/err", "rank 1: boom")
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, BashExitFailure) and again.exitcode == 7
    assert again.stderr == "/tmp/err" and again.stderr_tail == "rank 1: boom"
    assert str(again) == str(error)
    assert "unix exit code 7" in str(again) and str(again).endswith("stderr:\nrank 1: boom")
