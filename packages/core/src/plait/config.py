"""``Config``: what a workflow runs on and how the kernel behaves.

Built in Python exactly as with Parsl (``Config(executors=[...], retries=2)``),
or from plain data with :meth:`Config.from_dict` / :meth:`Config.from_toml`, where
executors, providers, launchers and the monitoring hub are named by their
registered plugin names::

    [[executors]]
    type = "htex"
    label = "cluster"
    [executors.provider]
    type = "slurm"
    partition = "debug"

    [monitoring]
    type = "monitoring"
    workflow_name = "nightly"
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from plait.dataflow.memoization import CHECKPOINT_MODES, BasicMemoizer, Memoizer
from plait.errors import ConfigError
from plait.executors.base import Executor
from plait.utils import RepresentationMixin

EXIT_MODES = ("wait", "cleanup", "skip")
STRATEGIES = ("simple", "htex_auto_scale", "none")


class Config(RepresentationMixin):
    """Configuration of a DataFlowKernel.

    :param executors: where tasks run; default one ``ThreadPoolExecutor``. Labels
        must be unique.
    :param strategy: block scaling strategy: ``simple``, ``htex_auto_scale`` or
        ``none``.
    :param strategy_period: seconds between scaling decisions.
    :param max_idletime: seconds a block may sit idle before it is released.
    :param retries: how many times a failed task is tried again.
    :param retry_handler: ``f(exception, task_record) -> cost``; a task is retried
        while the summed cost of its failures is <= ``retries``.
    :param run_dir: root of the run directories (``run_dir/000``, ``001``, ...).
    :param memoizer: the app cache and checkpointing (default ``BasicMemoizer()``).
    :param app_cache: older form: False disables app caching.
    :param checkpoint_mode: older form of ``BasicMemoizer(checkpoint_mode=...)``.
    :param checkpoint_period: older form of ``BasicMemoizer(checkpoint_period=...)``.
    :param checkpoint_files: older form of ``BasicMemoizer(checkpoint_files=...)``.
    :param initialize_logging: write ``plait.log`` (INFO) in the run directory;
        ``"debug"`` for DEBUG; False for none.
    :param exit_mode: leaving ``with plait.load(config):`` normally ``wait`` s for
        tasks then cleans up (``cleanup`` cleans up at once, ``skip`` does
        nothing); leaving it with an exception cancels outstanding tasks.
    :param monitoring: a monitoring hub (a :class:`plait.monitoring.Monitor` from a
        monitoring plugin, e.g. ``MonitoringHub()`` from plait-monitoring).
    :param progress: show a live progress bar of the tasks, per app, while the
        workflow runs (needs a plugin that registers a ``progress`` monitor, such
        as plait-monitoring; quiet when stdout is not a terminal).
    :param usage_tracking: accepted for compatibility; plait sends nothing (0-3).
    :param max_outstanding_tasks: at most this many unfinished tasks; submitting
        more blocks until some finish (bounded memory for huge workflows).
    :param garbage_collect: forget task records once tasks finish.
    :param internal_tasks_max_threads: threads that run join app bodies.
    :param std_autopath: ``f(task_record, kind) -> path`` for ``AUTO_LOGNAME``.
    :param dependency_resolver: ``DEEP_DEPENDENCY_RESOLVER`` (default) or
        ``SHALLOW_DEPENDENCY_RESOLVER``.
    :param project_name: accepted for compatibility.
    """

    def __init__(
        self,
        executors: Iterable[Executor] | None = None,
        strategy: str | None = "simple",
        strategy_period: float = 5,
        max_idletime: float = 120.0,
        retries: int = 0,
        retry_handler: Callable[[BaseException, Any], float] | None = None,
        run_dir: str = "runinfo",
        memoizer: Memoizer | None = None,
        app_cache: bool | None = None,
        checkpoint_mode: str | None = None,
        checkpoint_period: str | float | None = None,
        checkpoint_files: Sequence[str] | None = None,
        initialize_logging: bool | str = True,
        exit_mode: str = "wait",
        monitoring: Any = None,
        progress: bool = False,
        usage_tracking: int = 0,
        max_outstanding_tasks: int | None = None,
        garbage_collect: bool = True,
        internal_tasks_max_threads: int = 10,
        std_autopath: Callable[..., Any] | None = None,
        dependency_resolver: Any = None,
        project_name: str | None = None,
    ) -> None:
        if executors is None:
            from plait.executors.threads import ThreadPoolExecutor

            executors = [ThreadPoolExecutor()]
        self._executors = tuple(executors)
        for e in self._executors:
            if not isinstance(e, Executor):
                raise ConfigError(
                    "executors",
                    e,
                    "executor objects such as ThreadPoolExecutor()",
                    "each entry must be an executor instance (see `plait plugins`)",
                )
        labels = [e.label for e in self._executors]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ConfigError(
                "executors", duplicates, "unique labels", "give each executor its own label="
            )
        if strategy is None:
            strategy = "none"
        if strategy not in STRATEGIES:
            raise ConfigError("strategy", strategy, STRATEGIES)
        if exit_mode not in EXIT_MODES:
            raise ConfigError("exit_mode", exit_mode, EXIT_MODES)
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ConfigError("retries", retries, "an integer >= 0")
        if not isinstance(progress, bool):
            raise ConfigError("progress", progress, "True or False")
        if usage_tracking not in (0, 1, 2, 3) or isinstance(usage_tracking, bool):
            raise ConfigError("usage_tracking", usage_tracking, "0, 1, 2 or 3")
        if max_outstanding_tasks is not None and (
            not isinstance(max_outstanding_tasks, int) or max_outstanding_tasks < 1
        ):
            raise ConfigError(
                "max_outstanding_tasks", max_outstanding_tasks, "None or an integer >= 1"
            )
        if initialize_logging not in (True, False, "debug", "info"):
            raise ConfigError(
                "initialize_logging", initialize_logging, "True, False, 'info' or 'debug'"
            )
        if checkpoint_mode is not None and checkpoint_mode not in CHECKPOINT_MODES:
            raise ConfigError("checkpoint_mode", checkpoint_mode, [*CHECKPOINT_MODES, "None"])
        old_style = {
            name: value
            for name, value in (
                ("app_cache", app_cache),
                ("checkpoint_mode", checkpoint_mode),
                ("checkpoint_period", checkpoint_period),
                ("checkpoint_files", checkpoint_files),
            )
            if value is not None
        }
        if memoizer is not None and old_style:
            raise ConfigError(
                ", ".join(old_style),
                list(old_style.values()),
                "",
                "give caching options either on Config (older form) or on "
                "memoizer=BasicMemoizer(...), not both",
            )
        self.strategy = strategy
        self.strategy_period = strategy_period
        self.max_idletime = max_idletime
        self.retries = retries
        self.retry_handler = retry_handler
        self.run_dir = os.fspath(run_dir)
        self.app_cache = app_cache
        self.checkpoint_mode = checkpoint_mode
        self.checkpoint_period = checkpoint_period
        self.checkpoint_files = checkpoint_files
        self.memoizer = memoizer
        self.initialize_logging = initialize_logging
        self.exit_mode = exit_mode
        self.monitoring = monitoring
        self.progress = progress
        self.usage_tracking = usage_tracking
        self.max_outstanding_tasks = max_outstanding_tasks
        self.garbage_collect = garbage_collect
        self.internal_tasks_max_threads = internal_tasks_max_threads
        self.std_autopath = std_autopath
        self.dependency_resolver = dependency_resolver
        self.project_name = project_name

    @property
    def executors(self) -> tuple[Executor, ...]:
        """The configured executors (read-only)."""
        return self._executors

    def make_memoizer(self) -> Memoizer:
        """The memoizer this config asks for, in either the new or the older form."""
        if self.memoizer is not None:
            return self.memoizer
        return BasicMemoizer(
            checkpoint_files=self.checkpoint_files,
            checkpoint_period=self.checkpoint_period,
            checkpoint_mode=self.checkpoint_mode,
            memoize=self.app_cache is not False,
        )

    # -- declarative configs ---------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """A Config from plain data; plugin objects are named by ``type``.

        ``{"site": "name", ...}`` starts from a registered site configuration
        and passes the remaining ``site_options`` to it.

        :raises ConfigError: an unknown key (with the closest valid one) or value.
        :raises plait.plugins.UnknownPluginError: a ``type`` nobody registered.
        """
        data = dict(data)
        site = data.pop("site", None)
        if site is not None:
            from plait.plugins import get_plugins

            options = data.pop("site_options", {})
            config = get_plugins().site_configs.build(site, **options)
            return config.with_overrides(**cls.from_dict(data).explicit(data)) if data else config
        _check_keys("Config", data, _init_params(cls))
        if "executors" in data:
            data["executors"] = [_build("executor", spec) for spec in data["executors"]]
        if data.get("monitoring") is not None:
            data["monitoring"] = _build("monitoring", data["monitoring"])
        if isinstance(data.get("memoizer"), Mapping):
            memo = dict(data["memoizer"])
            memo.pop("type", None)
            _check_keys("BasicMemoizer", memo, _init_params(BasicMemoizer))
            data["memoizer"] = BasicMemoizer(**memo)
        return cls(**data)

    def explicit(self, keys: Mapping[str, Any]) -> dict[str, Any]:
        """This config's values of the fields named in ``keys``."""
        return {key: getattr(self, key) for key in keys}

    def with_overrides(self, **fields: Any) -> Config:
        """A copy of this config with ``fields`` replaced (validated like the constructor).

        :raises ConfigError: an unknown field, with the closest valid one.
        """
        params = _init_params(type(self))
        _check_keys("Config", fields, params)
        values = {name: getattr(self, name) for name in params if hasattr(self, name)}
        values["executors"] = self.executors
        values.update(fields)
        return type(self)(**values)

    @classmethod
    def from_toml(cls, source: str | os.PathLike[str]) -> Config:
        """A Config from a TOML file path, or from TOML text if it contains a newline or ``=``."""
        import tomllib

        text = os.fspath(source)
        if "\n" in text or "=" in text:
            data = tomllib.loads(text)
        else:
            with open(text, "rb") as f:
                data = tomllib.load(f)
        return cls.from_dict(data)


_NESTED_KINDS = {"provider": "provider", "launcher": "launcher"}
_EXAMPLE_TYPES = {
    "executor": "threads",
    "provider": "local",
    "launcher": "simple",
    "monitoring": "monitoring",
}


def _build(kind: str, spec: Any) -> Any:
    """An executor/provider/launcher/monitoring object from ``{"type": name, **options}``."""
    if not isinstance(spec, Mapping):
        return spec  # already an object
    from plait.plugins import get_plugins

    options = dict(spec)
    name = options.pop("type", None)
    if name is None:
        raise ConfigError(
            f"{kind} entry",
            dict(spec),
            "",
            f'name its plugin with "type", e.g. {{"type": "{_EXAMPLE_TYPES[kind]}"}}',
        )
    cls = get_plugins().lookup(kind, name)
    _check_keys(f"{kind} {name!r} ({cls.__name__})", options, _init_params(cls))
    for key, nested_kind in _NESTED_KINDS.items():
        if isinstance(options.get(key), Mapping):
            options[key] = _build(nested_kind, options[key])
    return cls(**options)


def _init_params(cls: type) -> list[str]:
    params = inspect.signature(cls).parameters
    return [n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _check_keys(where: str, data: Mapping[str, Any], valid: list[str]) -> None:
    for key in data:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where} key", key, valid, hint)
