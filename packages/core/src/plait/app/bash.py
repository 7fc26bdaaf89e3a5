"""Running a ``bash_app``: compose the command line, run it with bash, check its outputs.

:class:`BashRunner` is what an executor actually runs for a bash app. It is a
plain picklable object so it can travel to remote workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import IO, Any

from plait.errors import (
    AppBadFormatting,
    AppTimeout,
    BadStdStreamFile,
    BashAppNoReturn,
    BashExitFailure,
    MissingOutputs,
)

_STD_MODES = ("w", "a", "a+", "w+")

#: Bash commands running in this process, by the thread waiting on each, so a
#: cancel or a shutdown can stop them.
_running: dict[int, subprocess.Popen[bytes]] = {}
_running_lock = threading.Lock()


def kill_running_commands() -> int:
    """Kill every bash command this process started and is still waiting on.

    Returns how many were killed. Called when an executor in this process shuts
    down, so no command outlives the workflow.
    """
    with _running_lock:
        procs = list(_running.values())
    for proc in procs:
        _kill_group(proc)
    return len(procs)


def kill_command_of_thread(thread_id: int) -> bool:
    """Kill the bash command that thread ``thread_id`` is waiting on, if there is one."""
    with _running_lock:
        proc = _running.get(thread_id)
    if proc is None:
        return False
    _kill_group(proc)
    return True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class BashRunner:
    """Runs the command line a bash app body returns.

    :param func: the app body.
    :param name: the app's name, for messages.
    :param accepted: special keyword arguments the body itself accepts.
    """

    def __init__(self, func: Callable[..., Any], name: str, accepted: frozenset[str]) -> None:
        self.func = func
        self.name = name
        self.accepted = accepted
        self.__name__ = name

    def __reduce__(self) -> tuple[Any, ...]:
        # Ship the body by reference when it is importable: pickle alone would find
        # the app object, not the function, under the body's name.
        from plait.serialize.builtin import function_reference

        reference = function_reference(self.func)
        if reference is None:
            return (BashRunner, (self.func, self.name, self.accepted))
        return (_runner_from_reference, (reference, self.name, self.accepted))

    def __call__(self, *args: Any, **kwargs: Any) -> int:
        from plait.app.app import SPECIAL_KWARGS

        body_kwargs = {
            k: v for k, v in kwargs.items() if k not in SPECIAL_KWARGS or k in self.accepted
        }
        command = self._compose(args, body_kwargs)
        stdout_path, stdout = _open_std(kwargs.get("stdout"), "stdout")
        stderr_path, stderr = _open_std(kwargs.get("stderr"), "stderr")
        walltime = kwargs.get("walltime")
        try:
            if stderr is not None:
                stderr.write(f"--> executable follows <--\n{command}\n--> end executable <--\n")
                stderr.flush()
            proc = subprocess.Popen(
                command,
                shell=True,
                executable="/bin/bash",
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
            with _running_lock:
                _running[threading.get_ident()] = proc
            try:
                returncode = proc.wait(timeout=walltime)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.wait()
                raise AppTimeout(
                    f"bash_app {self.name} exceeded its walltime of {walltime} s and was killed"
                ) from None
            finally:
                with _running_lock:
                    _running.pop(threading.get_ident(), None)
        finally:
            for f in (stdout, stderr):
                if f is not None:
                    f.close()
        if returncode != 0:
            raise BashExitFailure(self.name, returncode, stdout_path, stderr_path)
        missing = [f for f in kwargs.get("outputs") or () if not os.path.exists(os.fspath(f))]
        if missing:
            raise MissingOutputs(
                f"bash_app {self.name} exited 0 but did not create its outputs", missing
            )
        return returncode

    def _compose(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        command = None
        try:
            command = self.func(*args, **kwargs)
        except (AttributeError, IndexError, KeyError) as exc:
            raise AppBadFormatting(
                f"bash_app {self.name} could not format its command line: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(command, str):
            raise BashAppNoReturn(
                f"bash_app {self.name} must return its command line as a str, but returned "
                f'{type(command).__name__}; end the body with `return "..."`'
            )
        return command


def _runner_from_reference(reference: str, name: str, accepted: frozenset[str]) -> BashRunner:
    from plait.serialize.builtin import resolve_reference

    return BashRunner(resolve_reference(reference), name, accepted)


def _open_std(spec: Any, kind: str) -> tuple[str | None, IO[str] | None]:
    """Open a ``stdout=``/``stderr=`` target: a path (appended), ``(path, mode)`` or a File."""
    if spec is None:
        return None, None
    from plait.data_provider.files import File

    if isinstance(spec, File):
        path, mode = spec.filepath, "w"
    elif isinstance(spec, str | os.PathLike):
        path, mode = os.fspath(spec), "a+"
    elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str | os.PathLike):
        path, mode = os.fspath(spec[0]), spec[1]
        if mode not in _STD_MODES:
            raise BadStdStreamFile(
                f"{kind}={spec!r}: mode {mode!r} is not one of {', '.join(_STD_MODES)}"
            )
    else:
        raise BadStdStreamFile(
            f"{kind}={spec!r} is not usable: give a path, a (path, mode) tuple, a File, "
            "or plait.AUTO_LOGNAME"
        )
    try:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        return path, open(path, mode)
    except OSError as exc:
        raise BadStdStreamFile(f"cannot open {kind} file {path}: {exc.strerror}") from exc
