"""bash_app: command lines, stdout/stderr redirection, exit codes, walltime and outputs."""

from __future__ import annotations

import os
import pickle
import time

import pytest

import plait
from plait import AUTO_LOGNAME, DataFuture, File, bash_app
from plait.app.errors import BashExitFailure as BashExitFailureAtParslPath
from plait.errors import (
    AppBadFormatting,
    AppTimeout,
    BadStdStreamFile,
    BashAppNoReturn,
    BashExitFailure,
    MissingOutputs,
)

TIMEOUT = 20


@bash_app
def echo(message, stdout=None, stderr=None):
    return f"echo {message}"


@bash_app
def echo_both(message, stdout=None, stderr=None):
    return f"echo out-{message}; echo err-{message} >&2"


@bash_app
def exit_with(code):
    return f"exit {code}"


@bash_app
def not_a_command(stderr=None):
    return "plait_no_such_command_xyz"


@bash_app
def touch(outputs=()):
    return "; ".join(f"touch {f}" for f in outputs)


@bash_app
def claims_outputs(outputs=()):
    return "true"


@bash_app
def returns_int():
    return 42


@bash_app
def bad_format(values):
    return "echo {}".format(values["missing"])


@bash_app
def sleeps(pidfile, seconds):
    return f"echo $$ > {pidfile}; sleep {seconds}"


def _read(path) -> str:
    with open(path) as f:
        return f.read()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_success_result_is_zero(dfk):
    assert echo("hi").result(timeout=TIMEOUT) == 0


def test_stdout_to_path(dfk, tmp_path):
    out = str(tmp_path / "out.txt")
    assert echo("hello", stdout=out).result(timeout=TIMEOUT) == 0
    assert _read(out) == "hello\n"


def test_stdout_path_is_appended(dfk, tmp_path):
    out = str(tmp_path / "out.txt")
    with open(out, "w") as f:
        f.write("before\n")
    echo("one", stdout=out).result(timeout=TIMEOUT)
    echo("two", stdout=out).result(timeout=TIMEOUT)
    assert _read(out) == "before\none\ntwo\n"


def test_stdout_path_in_new_directory_is_created(dfk, tmp_path):
    out = str(tmp_path / "sub" / "dir" / "out.txt")
    echo("deep", stdout=out).result(timeout=TIMEOUT)
    assert _read(out) == "deep\n"


def test_stdout_tuple_with_w_truncates(dfk, tmp_path):
    out = str(tmp_path / "out.txt")
    with open(out, "w") as f:
        f.write("old content\n")
    echo("fresh", stdout=(out, "w")).result(timeout=TIMEOUT)
    assert _read(out) == "fresh\n"


def test_stdout_tuple_with_a_appends(dfk, tmp_path):
    out = str(tmp_path / "out.txt")
    with open(out, "w") as f:
        f.write("old\n")
    echo("new", stdout=(out, "a")).result(timeout=TIMEOUT)
    assert _read(out) == "old\nnew\n"


def test_stderr_gets_command_and_error_output(dfk, tmp_path):
    out = str(tmp_path / "out.txt")
    err = str(tmp_path / "err.txt")
    echo_both("x", stdout=out, stderr=err).result(timeout=TIMEOUT)
    assert _read(out) == "out-x\n"
    err_text = _read(err)
    assert "err-x" in err_text
    assert "echo out-x" in err_text  # the executable is recorded for debugging


def test_stdout_as_file_gives_data_future(dfk, tmp_path):
    path = str(tmp_path / "file_out.txt")
    fut = echo("via file", stdout=File(path))
    assert isinstance(fut.stdout, DataFuture)
    assert fut.result(timeout=TIMEOUT) == 0
    produced = fut.stdout.result(timeout=TIMEOUT)
    assert isinstance(produced, File)
    assert produced.filepath == path
    assert _read(path) == "via file\n"


def test_auto_logname_writes_under_run_dir_task_logs(dfk):
    fut = echo_both("auto", stdout=AUTO_LOGNAME, stderr=AUTO_LOGNAME)
    fut.result(timeout=TIMEOUT)
    out, err = fut.stdout, fut.stderr
    assert isinstance(out, str)
    assert isinstance(err, str)
    task_logs = os.path.join(dfk.run_dir, "task_logs")
    assert os.path.commonpath([out, task_logs]) == task_logs
    assert os.path.commonpath([err, task_logs]) == task_logs
    assert out != err
    assert "echo_both" in os.path.basename(out)
    assert out.endswith(".stdout")
    assert err.endswith(".stderr")
    assert _read(out) == "out-auto\n"
    assert "err-auto" in _read(err)


def test_auto_logname_differs_per_task(dfk):
    a = echo("a", stdout=AUTO_LOGNAME)
    b = echo("b", stdout=AUTO_LOGNAME)
    a.result(timeout=TIMEOUT)
    b.result(timeout=TIMEOUT)
    assert a.stdout != b.stdout
    assert _read(a.stdout) == "a\n"
    assert _read(b.stdout) == "b\n"


@pytest.mark.parametrize("code", [1, 15])
def test_nonzero_exit_is_bash_exit_failure(dfk, code):
    exc = exit_with(code).exception(timeout=TIMEOUT)
    assert isinstance(exc, BashExitFailure)
    assert exc.exitcode == code
    assert exc.app_name == "exit_with"
    assert f"exit code {code}" in str(exc)
    assert "exit_with" in str(exc)


def test_command_not_found_is_exit_code_127_with_hint(dfk, tmp_path):
    err = str(tmp_path / "err.txt")
    exc = not_a_command(stderr=err).exception(timeout=TIMEOUT)
    assert isinstance(exc, BashExitFailure)
    assert exc.exitcode == 127
    assert "command not found" in str(exc)
    assert err in str(exc)  # the message says where to look
    assert exc.stderr == err


def test_killed_by_signal_is_negative_exit_code(dfk):
    @bash_app
    def self_kill():
        return "kill -9 $$"

    exc = self_kill().exception(timeout=TIMEOUT)
    assert isinstance(exc, BashExitFailure)
    assert exc.exitcode == -9
    assert "signal 9" in str(exc)


def test_std_autopath_names_auto_log_files(make_config, tmp_path):
    def autopath(task_record, kind):
        return str(tmp_path / f"{task_record['func_name']}-{task_record['id']}.{kind}")

    with plait.load(make_config(std_autopath=autopath)):
        fut = echo("custom", stdout=AUTO_LOGNAME)
        fut.result(timeout=TIMEOUT)
    assert fut.stdout == str(tmp_path / f"echo-{fut.tid}.stdout")
    assert _read(fut.stdout) == "custom\n"


def test_bash_exit_failure_at_parsl_path():
    assert BashExitFailureAtParslPath is BashExitFailure


def test_walltime_kills_the_command(dfk, tmp_path):
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    fut = sleeps(str(pidfile), 60, walltime=0.5)
    with pytest.raises(AppTimeout):
        fut.result(timeout=TIMEOUT)
    assert time.monotonic() - started < 15
    deadline = time.monotonic() + TIMEOUT
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.01)
    pid = int(pidfile.read_text())
    while _alive(pid):
        assert time.monotonic() < deadline, f"bash process {pid} survived its walltime"
        time.sleep(0.01)


def test_command_within_walltime_succeeds(dfk, tmp_path):
    assert sleeps(str(tmp_path / "pid"), 0, walltime=30).result(timeout=TIMEOUT) == 0


def test_missing_outputs(dfk, tmp_path):
    never = File(str(tmp_path / "never.txt"))
    exc = claims_outputs(outputs=[never]).exception(timeout=TIMEOUT)
    assert isinstance(exc, MissingOutputs)
    assert str(tmp_path / "never.txt") in str(exc)
    assert exc.outputs == [never]


def test_outputs_created_resolve_data_futures(dfk, tmp_path):
    files = [File(str(tmp_path / f"f{i}.txt")) for i in range(3)]
    fut = touch(outputs=files)
    assert fut.result(timeout=TIMEOUT) == 0
    assert [d.result(timeout=TIMEOUT) for d in fut.outputs] == files
    assert all(os.path.exists(f.filepath) for f in files)


def test_non_str_return_is_bash_app_no_return(dfk):
    exc = returns_int().exception(timeout=TIMEOUT)
    assert isinstance(exc, BashAppNoReturn)
    assert "int" in str(exc)
    assert "returns_int" in str(exc)


def test_formatting_error_is_app_bad_formatting(dfk):
    exc = bad_format({}).exception(timeout=TIMEOUT)
    assert isinstance(exc, AppBadFormatting)
    assert "missing" in str(exc)


@pytest.mark.parametrize("spec", [42, ["a", "b"], ("out.txt", "r"), ("out.txt",)])
def test_bad_stdout_spec_is_bad_std_stream_file(dfk, spec):
    exc = echo("x", stdout=spec).exception(timeout=TIMEOUT)
    assert isinstance(exc, BadStdStreamFile)
    assert "stdout" in str(exc)


def test_unopenable_stdout_is_bad_std_stream_file(dfk, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    exc = echo("x", stdout=str(blocker / "below_a_file.txt")).exception(timeout=TIMEOUT)
    assert isinstance(exc, BadStdStreamFile)


def test_bash_app_depends_on_python_app(dfk, tmp_path):
    @plait.python_app
    def word():
        return "from-python"

    out = str(tmp_path / "out.txt")
    echo(word(), stdout=out).result(timeout=TIMEOUT)
    assert _read(out) == "from-python\n"


def test_bash_app_with_cache_reuses_result(make_config, tmp_path):
    @bash_app(cache=True)
    def append(path):
        return f"echo line >> {path}"

    log = str(tmp_path / "log.txt")
    with plait.load(make_config()):
        first = append(log)
        assert first.result(timeout=TIMEOUT) == 0
        second = append(log)
        assert second.result(timeout=TIMEOUT) == 0
        assert second.task_status() == "memo_done"
    assert _read(log) == "line\n"


@pytest.mark.parametrize(
    "error",
    [
        BashExitFailure("app", 2, "/out", "/err"),
        MissingOutputs("app did not write", [File("/x/y.txt")]),
        AppTimeout("too slow"),
        BashAppNoReturn("returned int"),
        AppBadFormatting("bad format"),
        BadStdStreamFile("bad stdout"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_bash_app_errors_survive_pickling(error):
    """A process-based executor sends these back from its workers pickled."""
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)
