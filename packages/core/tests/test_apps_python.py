"""python_app: decorating, calling, results, user exceptions and AppFuture attributes."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest

import plait
from plait import AppFuture, bash_app, join_app, python_app
from plait.errors import (
    ConfigError,
    ExecutorError,
    InvalidResourceSpecification,
    NoDataFlowKernelError,
)

TIMEOUT = 10


class MyAppError(Exception):
    """A user exception type that only this module raises."""


@python_app
def bare(x):
    return x + 1


@python_app(cache=False, executors="all")
def with_options(x, y=10):
    return x * y


@python_app
def raises_my_error(message):
    raise MyAppError(message)


@python_app
def wait_for(gate):
    return gate


@python_app
def echo_kwargs(**kwargs):
    return sorted(kwargs)


@python_app
def no_special(x):
    return x


@python_app
def takes_stdout(x, stdout=None):
    return stdout


def test_bare_decorator_returns_app_future_with_result(dfk):
    fut = bare(1)
    assert isinstance(fut, AppFuture)
    assert isinstance(fut, Future)
    assert fut.result(timeout=TIMEOUT) == 2


def test_decorator_with_options_passes_args_and_kwargs(dfk):
    assert with_options(3).result(timeout=TIMEOUT) == 30
    assert with_options(3, y=2).result(timeout=TIMEOUT) == 6
    assert with_options(3, 4).result(timeout=TIMEOUT) == 12


def test_decorated_app_keeps_function_name_and_doc():
    @python_app
    def documented(x):
        """Some docs."""
        return x

    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Some docs."
    assert documented.__wrapped__(5) == 5


def test_many_calls_give_independent_results(dfk):
    futs = [bare(i) for i in range(50)]
    assert [f.result(timeout=TIMEOUT) for f in futs] == list(range(1, 51))


def test_user_exception_is_reraised_as_itself(dfk):
    fut = raises_my_error("bad input 7")
    with pytest.raises(MyAppError) as info:
        fut.result(timeout=TIMEOUT)
    assert info.value.args == ("bad input 7",)
    assert fut.exception() is info.value


def test_failed_task_status_is_failed(dfk):
    fut = raises_my_error("x")
    fut.exception(timeout=TIMEOUT)
    assert fut.task_status() == "failed"


def test_tid_is_task_record_id_and_increases(dfk):
    a = bare(1)
    b = bare(2)
    assert isinstance(a.tid, int)
    assert a.task_record["id"] == a.tid
    assert b.tid > a.tid
    a.result(timeout=TIMEOUT)
    b.result(timeout=TIMEOUT)


def test_task_record_knows_function_name(dfk):
    fut = bare(1)
    fut.result(timeout=TIMEOUT)
    assert fut.task_record["func_name"] == "bare"
    assert fut.task_record.get("func_name") == "bare"
    assert fut.task_record.get("no_such_field", "dflt") == "dflt"
    with pytest.raises(KeyError):
        fut.task_record["no_such_field"]


def test_task_status_pending_then_exec_done(dfk):
    gate: Future[int] = Future()
    fut = wait_for(gate)
    assert fut.task_status() == "pending"
    assert not fut.done()
    gate.set_result(9)
    assert fut.result(timeout=TIMEOUT) == 9
    assert fut.task_status() == "exec_done"


def test_task_status_launched_while_running(dfk):
    started = threading.Event()
    release = threading.Event()

    @python_app
    def blocker():
        started.set()
        release.wait(TIMEOUT)
        return "done"

    fut = blocker()
    try:
        assert started.wait(TIMEOUT)
        assert fut.task_status() == "launched"
    finally:
        release.set()
    assert fut.result(timeout=TIMEOUT) == "done"


def test_outputs_stdout_stderr_default_to_empty(dfk):
    fut = bare(1)
    fut.result(timeout=TIMEOUT)
    assert fut.outputs == []
    assert fut.stdout is None
    assert fut.stderr is None


def test_stdout_stderr_attributes_reflect_call(dfk, tmp_path):
    out = str(tmp_path / "o.txt")
    err = (str(tmp_path / "e.txt"), "w")
    fut = no_special(1, stdout=out, stderr=err)
    assert fut.result(timeout=TIMEOUT) == 1
    assert fut.stdout == out
    assert fut.stderr == err


def test_special_kwargs_are_stripped_unless_accepted(dfk, tmp_path):
    out = str(tmp_path / "o.txt")
    # no_special does not accept stdout/walltime: they must not reach it
    assert no_special(5, stdout=out, walltime=30).result(timeout=TIMEOUT) == 5
    # takes_stdout does: it receives the value
    assert takes_stdout(5, stdout=out).result(timeout=TIMEOUT) == out


def test_var_keyword_body_receives_special_kwargs(dfk):
    fut = echo_kwargs(a=1, walltime=30, priority=3)
    assert fut.result(timeout=TIMEOUT) == ["a", "priority", "walltime"]


def test_repr_names_task_and_function(dfk):
    fut = bare(1)
    fut.result(timeout=TIMEOUT)
    text = repr(fut)
    assert f"task {fut.tid}" in text
    assert "bare" in text
    assert "finished" in text


def test_app_bound_to_explicit_kernel(make_config):
    kernel = plait.DataFlowKernel(make_config())
    try:

        @python_app(data_flow_kernel=kernel)
        def bound(x):
            return -x

        assert bound(4).result(timeout=TIMEOUT) == -4
        # nothing was loaded globally
        with pytest.raises(NoDataFlowKernelError):
            plait.dfk()
    finally:
        kernel.cleanup()


def test_app_on_named_executor(make_config):
    cfg = make_config(
        executors=[
            plait.ThreadPoolExecutor(label="left", max_threads=1),
            plait.ThreadPoolExecutor(label="right", max_threads=1),
        ]
    )

    @python_app(executors=["right"])
    def which():
        return threading.current_thread().name

    with plait.load(cfg):
        name = which().result(timeout=TIMEOUT)
    assert name.startswith("plait-right")


def test_app_on_unknown_executor_fails_naming_labels(dfk):
    @python_app(executors="nowhere")
    def lost():
        return 1

    exc = lost().exception(timeout=TIMEOUT)
    assert isinstance(exc, ExecutorError)
    assert "nowhere" in str(exc)
    assert "'threads'" in str(exc)


def test_bad_executors_option_is_config_error():
    with pytest.raises(ConfigError, match="executors"):

        @python_app(executors=42)
        def nope():
            return 1


def test_unsupported_resource_specification_fails_task(dfk):
    fut = bare(1, parsl_resource_specification={"cores": 4})
    exc = fut.exception(timeout=TIMEOUT)
    assert isinstance(exc, InvalidResourceSpecification)
    assert "cores" in str(exc)


def test_priority_is_accepted_by_threads(dfk):
    assert bare(1, priority=5).result(timeout=TIMEOUT) == 2


@pytest.mark.parametrize("decorator", [python_app, bash_app, join_app])
def test_making_an_app_of_an_app_is_an_error_naming_the_fix(decorator) -> None:
    """Each call would run a task whose body submits the inner app's task: refused."""

    @python_app
    def inner():
        return 1

    with pytest.raises(TypeError, match=r"'inner', which is an app already.*inner\.func"):
        decorator(inner)
