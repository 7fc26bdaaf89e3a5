"""Every exception plait raises, in one module.

Parsl spreads its exceptions over ``parsl.errors``, ``parsl.app.errors``,
``parsl.dataflow.errors`` and ``parsl.executors.errors``; plait keeps them here
and re-exports them from those Parsl-shaped paths, so ``except`` clauses from a
Parsl script keep working after the import change.

Every message names the value, the cause and the fix: a user reading only the
exception should know what to do next.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class PlaitError(Exception):
    """Base class of plait's own errors.

    Errors are raised on workers and travel back pickled, but their constructors
    take richer arguments than the message Exception keeps in ``args``; so every
    plait error remembers its constructor arguments and pickles by calling the
    constructor again.
    """

    _init_args: tuple[tuple[Any, ...], dict[str, Any]]

    def __new__(cls, *args: Any, **kwargs: Any) -> PlaitError:
        self = super().__new__(cls, *args)
        self._init_args = (args, kwargs)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        args, kwargs = self._init_args
        state = {k: v for k, v in self.__dict__.items() if k != "_init_args"}
        return (_rebuild, (type(self), args, kwargs), state)


def _rebuild(cls: type[PlaitError], args: tuple[Any, ...], kwargs: dict[str, Any]) -> PlaitError:
    return cls(*args, **kwargs)


#: Parsl's name for the base class, so ``except ParslError`` ports unchanged.
ParslError = PlaitError


class ConfigError(PlaitError):
    """A configuration value is invalid.

    :param field: the offending field, e.g. ``"exit_mode"``.
    :param value: the value given.
    :param valid: what would have been accepted (names, a range, a type).
    :param hint: extra text on how to fix it.
    """

    def __init__(
        self, field: str, value: object, valid: str | Sequence[str] = "", hint: str = ""
    ) -> None:
        self.field = field
        self.value = value
        self.valid = valid
        parts = [f"invalid value {value!r} for {field}"]
        if valid:
            listed = valid if isinstance(valid, str) else ", ".join(repr(v) for v in valid)
            parts.append(f"valid values: {listed}")
        if hint:
            parts.append(hint)
        super().__init__("; ".join(parts))


#: Parsl's name.
ConfigurationError = ConfigError


class NoDataFlowKernelError(PlaitError):
    """An app was called, or ``plait.dfk()`` asked for, before ``plait.load()``."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "Must first load config: call plait.load(config) (or use "
            "`with plait.load(config):`) before calling apps"
        )


class OptionalModuleMissing(PlaitError):
    """A feature needs a module that is not installed."""

    def __init__(self, module_names: Sequence[str], reason: str) -> None:
        self.module_names = list(module_names)
        self.reason = reason
        super().__init__(f"modules {', '.join(self.module_names)} are missing: {reason}")


class InternalConsistencyError(PlaitError):
    """plait reached a state it believes impossible: please report it."""


# ---------------------------------------------------------------------------
# Errors raised by apps (Parsl: parsl.app.errors)
# ---------------------------------------------------------------------------


class AppException(PlaitError):
    """Base of errors raised while running an app."""


class BashExitFailure(AppException):
    """A ``bash_app`` command exited with a non-zero status.

    :param app_name: the app's function name.
    :param exitcode: the command's exit status.
    :param stdout: where the command's standard output went, if redirected.
    :param stderr: where the command's standard error went, if redirected.
    """

    def __init__(
        self, app_name: str, exitcode: int, stdout: str | None = None, stderr: str | None = None
    ) -> None:
        self.app_name = app_name
        self.exitcode = exitcode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(app_name, exitcode)

    def __str__(self) -> str:
        text = f"bash_app {self.app_name} failed with unix exit code {self.exitcode}"
        if self.exitcode == 127:
            text += " (command not found: check the command name and PATH)"
        elif self.exitcode == 126:
            text += " (command found but not executable: check its permissions)"
        elif self.exitcode < 0:
            text += f" (killed by signal {-self.exitcode})"
        where = [f"{n}: {p}" for n, p in (("stdout", self.stdout), ("stderr", self.stderr)) if p]
        if where:
            text += "; see " + ", ".join(where)
        return text


class AppTimeout(AppException):
    """An app ran longer than its ``walltime``."""


class BashAppNoReturn(AppException):
    """A ``bash_app`` body did not return a command line string."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class AppBadFormatting(PlaitError):
    """A ``bash_app`` command line could not be formatted."""


class MissingOutputs(PlaitError):
    """An app finished but did not create some of its declared ``outputs``."""

    def __init__(self, reason: str, outputs: Sequence[Any]) -> None:
        self.reason = reason
        self.outputs = list(outputs)
        super().__init__(f"{reason}: missing {', '.join(str(o) for o in self.outputs)}")


class BadStdStreamFile(PlaitError):
    """A ``stdout``/``stderr`` specification cannot be used."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# ---------------------------------------------------------------------------
# Errors raised by the dataflow kernel (Parsl: parsl.dataflow.errors)
# ---------------------------------------------------------------------------


class DataFlowException(PlaitError):
    """Base of errors that come from the dataflow graph rather than an app body."""


class BadCheckpoint(DataFlowException):
    """A checkpoint file could not be read."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _describe_cause(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class PropagatedException(DataFlowException):
    """Base of errors that carry the failures of other tasks.

    :param dependent_exceptions_tids: ``(exception, description)`` pairs, one per
        failed input; the description names the task (``"task 3 (load_data)"``).
    :param task_id: the id of the task that could not run.
    """

    kind = "Dependency"

    def __init__(
        self,
        dependent_exceptions_tids: Sequence[tuple[BaseException, str]],
        task_id: int | None,
    ) -> None:
        self.dependent_exceptions_tids = list(dependent_exceptions_tids)
        self.task_id = task_id
        super().__init__(self.dependent_exceptions_tids, task_id)
        roots = self.root_causes()
        if roots:
            self.__cause__ = roots[0][0]

    def root_causes(self) -> list[tuple[BaseException, str]]:
        """The failures at the bottom of the chain, each with the path that led to it.

        A failed dependency that itself failed on a dependency is followed down to
        the task that really raised; every distinct root is returned once.
        """
        found: list[tuple[BaseException, str]] = []
        seen: set[int] = set()
        for exc, desc in self.dependent_exceptions_tids:
            if isinstance(exc, PropagatedException):
                for root, path in exc.root_causes():
                    if id(root) not in seen:
                        seen.add(id(root))
                        found.append((root, f"{path} <- {desc}"))
            elif id(exc) not in seen:
                seen.add(id(exc))
                found.append((exc, desc))
        return found

    def __str__(self) -> str:
        roots = self.root_causes()
        head = f"{self.kind} failure for task {self.task_id}"
        if not roots:
            return head
        lines = [f"{path} failed with {_describe_cause(exc)}" for exc, path in roots]
        if len(lines) == 1:
            return f"{head}: {lines[0]}"
        return f"{head}, {len(lines)} root causes:\n  " + "\n  ".join(lines)


class DependencyError(PropagatedException):
    """A task did not run because one or more of its inputs failed.

    ``str()`` names every failed root task, its function and its exception, e.g.
    ``Dependency failure for task 7: task 2 (load) failed with FileNotFoundError: data.csv``.
    ``__cause__`` is the first root exception.
    """

    kind = "Dependency"


class JoinError(PropagatedException):
    """A ``join_app`` finished but one or more of the futures it returned failed."""

    kind = "Join"


# ---------------------------------------------------------------------------
# Executors, providers, launchers (Parsl: parsl.executors.errors, ...)
# ---------------------------------------------------------------------------


class ExecutorError(PlaitError):
    """An executor cannot do what was asked of it."""

    def __init__(self, executor: object, reason: str) -> None:
        self.executor = executor
        self.reason = reason
        label = getattr(executor, "label", executor)
        super().__init__(f"executor {label!r}: {reason}")


class BadStateException(ExecutorError):
    """The executor is broken; every task on it fails with this error."""


class UnsupportedFeatureError(ExecutorError):
    """The executor does not support a requested feature."""

    def __init__(self, feature: str, current_executor: str, target_executor: str | None) -> None:
        hint = f"; use the {target_executor} executor instead" if target_executor else ""
        super().__init__(current_executor, f"{feature} is not supported{hint}")


class InvalidResourceSpecification(ExecutorError):
    """A task asked for resources its executor does not understand."""

    def __init__(self, invalid_keys: set[str] | Sequence[str], message: str = "") -> None:
        self.invalid_keys = set(invalid_keys)
        super().__init__(
            "resource_specification",
            message or f"unsupported resource specification keys {sorted(self.invalid_keys)}",
        )


class ScalingFailed(ExecutorError):
    """A block could not be started."""


class TooManyJobFailuresError(ExecutorError):
    """Every block of an executor failed, so its tasks cannot run."""


class ExecutionProviderException(PlaitError):
    """Base of provider errors."""


class SubmitException(ExecutionProviderException):
    """The batch system refused a job.

    :param job_name: the job plait tried to submit.
    :param message: what went wrong.
    :param stdout: the submit command's output.
    :param stderr: the submit command's error output.
    """

    def __init__(
        self, job_name: str, message: str, stdout: str | None = None, stderr: str | None = None
    ) -> None:
        self.job_name = job_name
        self.message = message
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(job_name, message)

    def __str__(self) -> str:
        text = f"cannot submit job {self.job_name!r}: {self.message}"
        if self.stderr:
            text += f"; stderr: {self.stderr.strip()}"
        return text


class ScaleOutFailed(ExecutionProviderException):
    """A provider could not add blocks."""


class BadLauncher(PlaitError):
    """A launcher object is not usable by the provider it was given to."""

    def __init__(self, launcher: object, reason: str) -> None:
        self.launcher = launcher
        self.reason = reason
        super().__init__(f"bad launcher {launcher!r}: {reason}")


# ---------------------------------------------------------------------------
# Serialization (Parsl: parsl.serialize.errors)
# ---------------------------------------------------------------------------


class SerializationError(PlaitError):
    """An app, argument or result could not be serialized.

    :param what: the object that failed, described (``"argument 2 ('frame') of app
        analyse, type pandas.DataFrame"``).
    :param reason: the serializer's own error text.
    """

    def __init__(self, what: str, reason: str = "") -> None:
        self.what = what
        self.reason = reason
        text = f"cannot serialize {what}"
        if reason:
            text += f": {reason}"
        text += (
            ". Fix: pass a picklable value (plain data, or an object whose class is "
            "importable on the workers), or create the object inside the app."
        )
        super().__init__(text)


class DeserializationError(PlaitError):
    """A payload could not be deserialized."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"cannot deserialize: {reason}")


__all__ = [
    "AppBadFormatting",
    "AppException",
    "AppTimeout",
    "BadCheckpoint",
    "BadLauncher",
    "BadStateException",
    "BadStdStreamFile",
    "BashAppNoReturn",
    "BashExitFailure",
    "ConfigError",
    "ConfigurationError",
    "DataFlowException",
    "DependencyError",
    "DeserializationError",
    "ExecutionProviderException",
    "ExecutorError",
    "InternalConsistencyError",
    "InvalidResourceSpecification",
    "JoinError",
    "MissingOutputs",
    "NoDataFlowKernelError",
    "OptionalModuleMissing",
    "ParslError",
    "PlaitError",
    "PropagatedException",
    "ScaleOutFailed",
    "ScalingFailed",
    "SerializationError",
    "SubmitException",
    "TooManyJobFailuresError",
    "UnsupportedFeatureError",
]
