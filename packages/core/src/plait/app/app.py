"""The app decorators: ``python_app``, ``bash_app`` and ``join_app``.

Calling a decorated function does not run it: it creates a task in the current
DataFlowKernel and returns an :class:`~plait.dataflow.futures.AppFuture`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

from plait.app.bash import BashRunner
from plait.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])

#: Keyword arguments plait reads from an app call. Each is passed on to the
#: function only if its signature accepts it.
SPECIAL_KWARGS = (
    "inputs",
    "outputs",
    "stdout",
    "stderr",
    "walltime",
    "parsl_resource_specification",
    "resource_specification",
    "priority",
    "label",
)


_loader_module: Any = None


def _loader() -> Any:
    """The loader module (imported late: it imports the kernel, which imports apps)."""
    global _loader_module
    if _loader_module is None:
        from plait.dataflow import loader

        _loader_module = loader
    return _loader_module


class AppBase:
    """A decorated function: calling it submits a task.

    :param func: the user's function.
    :param data_flow_kernel: a specific DataFlowKernel, or None for the current one.
    :param cache: memoize results (see ``Config.memoizer``).
    :param executors: ``"all"``, one label, or a list of labels to choose from.
    :param ignore_for_cache: keyword arguments left out of the cache key.
    """

    join = False

    def __init__(
        self,
        func: Callable[..., Any],
        data_flow_kernel: Any = None,
        cache: bool = False,
        executors: str | Sequence[str] = "all",
        ignore_for_cache: Sequence[str] | None = None,
    ) -> None:
        self.func = func
        self.__name__ = getattr(func, "__name__", type(func).__name__)
        self.__doc__ = getattr(func, "__doc__", None)
        self.__wrapped__ = func
        self.data_flow_kernel = data_flow_kernel
        self.cache = cache
        self.executors = executors
        self.labels = _labels(executors, self.__name__)
        self.ignore_for_cache = list(ignore_for_cache or ())
        self.special_defaults, accepted = _inspect_special(func)
        self.strip: tuple[str, ...] = tuple(n for n in SPECIAL_KWARGS if n not in accepted)
        self.func_to_run: Callable[..., Any] = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        dfk = self.data_flow_kernel
        if dfk is None:
            dfk = _loader()._dfk
            if dfk is None:
                dfk = _loader().dfk()
        return dfk.submit(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__}>"


class PythonApp(AppBase):
    """An app whose body is run as a Python function on an executor."""


class BashApp(AppBase):
    """An app whose body returns a shell command line, which is run with bash."""

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(func, *args, **kwargs)
        self.func_to_run = BashRunner(
            func, self.__name__, frozenset(SPECIAL_KWARGS) - set(self.strip)
        )
        self.strip = ()  # the runner needs stdout/stderr/walltime/outputs itself


class JoinApp(AppBase):
    """An app whose body calls other apps and returns their future(s).

    The body runs in the submitting process (on plait's internal threads); the
    join app's future completes with the inner result(s).
    """

    join = True

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        from plait.dataflow.dflow import INTERNAL_LABEL

        super().__init__(func, *args, **kwargs)
        self.labels = [INTERNAL_LABEL]


class InternalApp(AppBase):
    """A kernel-made task (e.g. ``fut["key"]``) on an internal executor."""

    def __init__(self, func: Callable[..., Any], name: str, label: str) -> None:
        self.func = self.func_to_run = func
        self.__name__ = name
        self.data_flow_kernel = None
        self.cache = False
        self.executors = [label]
        self.labels = [label]
        self.ignore_for_cache = []
        self.special_defaults = {}
        self.strip = ()


def _labels(executors: str | Sequence[str], name: str) -> list[str] | None:
    if executors == "all":
        return None
    if isinstance(executors, str):
        return [executors]
    if isinstance(executors, Sequence) and executors and all(isinstance(e, str) for e in executors):
        return list(executors)
    raise ConfigError(f"executors of app {name}", executors, "'all', a label, or a list of labels")


def _inspect_special(func: Callable[..., Any]) -> tuple[dict[str, Any], set[str]]:
    """Defaults the signature gives special kwargs, and which special kwargs it accepts."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return {}, set(SPECIAL_KWARGS)
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        accepted = set(SPECIAL_KWARGS)
    else:
        accepted = {
            n
            for n in SPECIAL_KWARGS
            if n in params and params[n].kind is not params[n].POSITIONAL_ONLY
        }
    defaults = {
        n: params[n].default
        for n in SPECIAL_KWARGS
        if n in params
        and params[n].default is not inspect.Parameter.empty
        and params[n].default is not None
    }
    return defaults, accepted


def _decorator(cls: type[AppBase], function: Callable[..., Any] | None, **options: Any) -> Any:
    def wrap(func: Callable[..., Any]) -> AppBase:
        if isinstance(func, AppBase):
            # each call would run a task whose body submits the inner app's task
            raise TypeError(
                f"{cls.__name__.lower().replace('app', '_app')}() was given {func.__name__!r}, "
                "which is an app already; call it as it is, or make an app of its function "
                f"({func.__name__}.func)"
            )
        app = cls(func, **options)
        functools.update_wrapper(app, func, updated=())
        return app

    return wrap(function) if function is not None else wrap


@overload
def python_app(function: F) -> PythonApp: ...
@overload
def python_app(
    function: None = None,
    data_flow_kernel: Any = None,
    cache: bool = False,
    executors: str | Sequence[str] = "all",
    ignore_for_cache: Sequence[str] | None = None,
) -> Callable[[F], PythonApp]: ...
def python_app(
    function: Callable[..., Any] | None = None,
    data_flow_kernel: Any = None,
    cache: bool = False,
    executors: str | Sequence[str] = "all",
    ignore_for_cache: Sequence[str] | None = None,
) -> Any:
    """Make a Python function an app: calls return futures and run on an executor.

    Usable bare (``@python_app``) or with options (``@python_app(cache=True)``).
    """
    return _decorator(
        PythonApp,
        function,
        data_flow_kernel=data_flow_kernel,
        cache=cache,
        executors=executors,
        ignore_for_cache=ignore_for_cache,
    )


@overload
def bash_app(function: F) -> BashApp: ...
@overload
def bash_app(
    function: None = None,
    data_flow_kernel: Any = None,
    cache: bool = False,
    executors: str | Sequence[str] = "all",
    ignore_for_cache: Sequence[str] | None = None,
) -> Callable[[F], BashApp]: ...
def bash_app(
    function: Callable[..., Any] | None = None,
    data_flow_kernel: Any = None,
    cache: bool = False,
    executors: str | Sequence[str] = "all",
    ignore_for_cache: Sequence[str] | None = None,
) -> Any:
    """Make a function that returns a command line an app that runs it with bash.

    The future's result is the exit code 0; a non-zero exit fails it with
    :class:`~plait.errors.BashExitFailure`.
    """
    return _decorator(
        BashApp,
        function,
        data_flow_kernel=data_flow_kernel,
        cache=cache,
        executors=executors,
        ignore_for_cache=ignore_for_cache,
    )


@overload
def join_app(function: F) -> JoinApp: ...
@overload
def join_app(
    function: None = None,
    data_flow_kernel: Any = None,
    cache: bool = False,
    ignore_for_cache: Sequence[str] | None = None,
) -> Callable[[F], JoinApp]: ...
def join_app(
    function: Callable[..., Any] | None = None,
    data_flow_kernel: Any = None,
    cache: bool = False,
    ignore_for_cache: Sequence[str] | None = None,
) -> Any:
    """Make a function that calls apps and returns their future(s) a join app."""
    return _decorator(
        JoinApp,
        function,
        data_flow_kernel=data_flow_kernel,
        cache=cache,
        ignore_for_cache=ignore_for_cache,
    )
