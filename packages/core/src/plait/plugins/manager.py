"""The typed facade over plait's one pluggy ``PluginManager``.

Core asks this facade for classes by name (``get_plugins().executors.get("htex")``)
and tells it about events (``notify_task_state(event)``); it never touches
``pm.hook``. The facade owns the loading policy:

* core's built-in plugin is always registered first;
* entry points of group ``plait`` are loaded next, except those named in
  ``PLAIT_DISABLE_PLUGINS`` (comma separated); if ``PLAIT_PLUGINS`` is set, only
  the entry points it lists are loaded (an empty value loads none);
* a plugin that fails to import, or implements a hook that does not exist, is
  left out with a :class:`PluginLoadError` recorded (and warned about once);
  every other plugin keeps working.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from plait.plugins import ENTRY_POINT_GROUP, PROJECT_NAME, hookspecs
from plait.plugins.errors import DuplicatePluginError, PluginError, PluginLoadError
from plait.plugins.registry import Registry, SiteConfigRegistry, Source

if TYPE_CHECKING:
    from plait.benchmarks import Benchmark
    from plait.cli import Command
    from plait.data_provider.staging import Staging
    from plait.events import (
        BlockStateChanged,
        NodeChanged,
        ResourceSample,
        TaskStateChanged,
        WorkflowFinished,
        WorkflowStarted,
    )
    from plait.executors.base import Executor
    from plait.launchers.base import Launcher
    from plait.monitoring import Monitor
    from plait.providers.base import ExecutionProvider
    from plait.serialize.base import Serializer

logger = logging.getLogger(__name__)

T = TypeVar("T")

BUILTIN_PLUGIN = "plait"

#: registry kind -> (hook name, dotted base class)
_KINDS: dict[str, tuple[str, str]] = {
    "executor": ("plait_register_executors", "plait.executors.base:Executor"),
    "provider": ("plait_register_providers", "plait.providers.base:ExecutionProvider"),
    "launcher": ("plait_register_launchers", "plait.launchers.base:Launcher"),
    "staging": ("plait_register_staging", "plait.data_provider.staging:Staging"),
    "serializer": ("plait_register_serializers", "plait.serialize.base:Serializer"),
    "monitoring": ("plait_register_monitoring", "plait.monitoring:Monitor"),
    "command": ("plait_register_commands", "plait.cli:Command"),
    "benchmark": ("plait_register_benchmarks", "plait.benchmarks:Benchmark"),
}


@dataclass(frozen=True)
class PluginInfo:
    """One row of ``plait plugins``: a name a plugin provides, or a plugin that failed.

    :param kind: ``executor``, ``provider``, ... or ``plugin`` for a plugin that
        did not load (and so provides nothing).
    :param status: ``ok``, ``error`` or ``disabled``.
    """

    kind: str
    name: str
    plugin: str
    distribution: str
    version: str
    module: str
    status: str
    error: str = ""


def _split_env(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


class Plugins:
    """The plugin manager facade.

    :param autoload: scan the ``plait`` entry-point group (True in normal use;
        tests build isolated instances with False and :meth:`register` plugins).
    """

    def __init__(self, autoload: bool = True) -> None:
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._sources: dict[str, Source] = {}
        self._errors: dict[str, PluginLoadError] = {}
        self._disabled: dict[str, Source] = {}
        self._registries: dict[str, Registry[Any]] = {}
        self._lock = threading.RLock()
        self._observers: dict[str, bool] = {}
        #: the implementing functions of each observer hook, cached (events are per task)
        self._observer_functions: dict[str, list[tuple[Callable[..., Any], str]]] = {}
        from plait.plugins import builtin

        self.register(builtin, BUILTIN_PLUGIN, Source(BUILTIN_PLUGIN, "plait", _version("plait")))
        if autoload:
            self._load_entry_points()

    # -- loading ---------------------------------------------------------

    def register(
        self, plugin: object, name: str | None = None, source: Source | None = None
    ) -> None:
        """Register a plugin object (a module or an instance with hook implementations).

        :raises PluginLoadError: the plugin implements a hook that does not exist.
        """
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        source = source or Source(name, "(registered directly)", "")
        with self._lock:
            self._pm.register(plugin, name=name)
            try:
                self._pm.check_pending()
            except pluggy.PluginValidationError as exc:
                self._pm.unregister(name=name)
                raise PluginLoadError(name, source.distribution, source.version, exc) from exc
            self._sources[name] = source
            self._registries.clear()
            self._observers.clear()
            self._observer_functions.clear()

    def unregister(self, name: str) -> None:
        """Remove a plugin registered under ``name``."""
        with self._lock:
            self._pm.unregister(name=name)
            self._sources.pop(name, None)
            self._registries.clear()
            self._observers.clear()
            self._observer_functions.clear()

    def _load_entry_points(self) -> None:
        import importlib_metadata

        allow = _split_env("PLAIT_PLUGINS")
        blocked = set(_split_env("PLAIT_DISABLE_PLUGINS") or ())
        seen: set[tuple[str, str]] = set()
        for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist
            source = Source(ep.name, dist.name if dist else "?", dist.version if dist else "?")
            if (ep.name, ep.value) in seen:
                continue  # the same distribution seen twice on sys.path
            seen.add((ep.name, ep.value))
            if ep.name in blocked or (allow is not None and ep.name not in allow):
                self._disabled[ep.name] = source
                continue
            try:
                plugin = ep.load()
                self.register(plugin, ep.name, source)
            except PluginLoadError as exc:
                self._record_error(exc)
            except Exception as exc:
                self._record_error(
                    PluginLoadError(ep.name, source.distribution, source.version, exc)
                )

    def _record_error(self, error: PluginLoadError) -> None:
        self._errors[error.plugin] = error
        warnings.warn(str(error), RuntimeWarning, stacklevel=3)

    # -- registries ------------------------------------------------------

    def _registry(self, kind: str) -> Registry[Any]:
        with self._lock:
            registry = self._registries.get(kind)
            if registry is None:
                registry = self._build_registry(kind)
                self._registries[kind] = registry
            return registry

    def _build_registry(self, kind: str) -> Registry[Any]:
        if kind == "site-config":
            hook_name = "plait_register_site_configs"
            registry: Registry[Any] = SiteConfigRegistry()
        else:
            hook_name, base_path = _KINDS[kind]
            module_name, _, class_name = base_path.partition(":")
            import importlib

            registry = Registry(kind, getattr(importlib.import_module(module_name), class_name))
        hook = getattr(self._pm.hook, hook_name)
        # Call each implementation on its own so the registry knows which plugin
        # added which name, and a failing plugin is named instead of aborting all.
        for impl in reversed(hook.get_hookimpls()):
            source = self._sources.get(impl.plugin_name, Source(impl.plugin_name, "?", "?"))
            registry._set_source(source)
            try:
                impl.function(registry=registry)
            except DuplicatePluginError:
                raise
            except Exception as exc:
                error = PluginLoadError(impl.plugin_name, source.distribution, source.version, exc)
                self._errors[impl.plugin_name] = error
                logger.error("%s", error)
        registry._set_source(Source("?", "?", "?"))
        registry.notes = self._notes()
        return registry

    def _notes(self) -> list[str]:
        notes = [str(error) for error in self._errors.values()]
        notes += [
            f"plugin {name!r} from {src.distribution} is disabled "
            "by PLAIT_PLUGINS/PLAIT_DISABLE_PLUGINS"
            for name, src in self._disabled.items()
        ]
        return notes

    def lookup(self, kind: str, name: str) -> type[Any]:
        """The class registered as ``name`` in registry ``kind``.

        :raises PluginLoadError: the plugin whose entry point is called ``name``
            failed to load (the usual reason a name is missing).
        :raises UnknownPluginError: nothing provides ``name``.
        """
        registry = self._registry(kind)
        if name not in registry and name in self._errors:
            raise self._errors[name]
        return registry.get(name)

    @property
    def executors(self) -> Registry[Executor]:
        """Registered executor classes."""
        return self._registry("executor")

    @property
    def providers(self) -> Registry[ExecutionProvider]:
        """Registered provider classes."""
        return self._registry("provider")

    @property
    def launchers(self) -> Registry[Launcher]:
        """Registered launcher classes."""
        return self._registry("launcher")

    @property
    def staging(self) -> Registry[Staging]:
        """Registered staging provider classes."""
        return self._registry("staging")

    @property
    def serializers(self) -> Registry[Serializer]:
        """Registered serializer classes."""
        return self._registry("serializer")

    @property
    def monitoring(self) -> Registry[Monitor]:
        """Registered monitoring hub classes."""
        return self._registry("monitoring")

    @property
    def commands(self) -> Registry[Command]:
        """Registered ``plait`` subcommand classes."""
        return self._registry("command")

    @property
    def benchmarks(self) -> Registry[Benchmark]:
        """Registered ``plait perf`` benchmark classes."""
        return self._registry("benchmark")

    @property
    def site_configs(self) -> SiteConfigRegistry:
        """Registered site configurations."""
        registry = self._registry("site-config")
        assert isinstance(registry, SiteConfigRegistry)
        return registry

    def find_class(self, kind: str, class_name: str) -> type[Any] | None:
        """The registered class of ``kind`` whose ``__name__`` is ``class_name``, if any.

        Lets ``from plait.executors import HighThroughputExecutor`` resolve to
        whichever plugin provides that class.
        """
        for _, cls in self._registry(kind).items():
            if cls.__name__ == class_name:
                return cls
        return None

    @property
    def load_errors(self) -> dict[str, PluginLoadError]:
        """Plugins that failed to load, by entry point name."""
        return dict(self._errors)

    # -- observers -------------------------------------------------------

    def observes(self, hook_name: str) -> bool:
        """Whether any plugin implements observer hook ``hook_name`` (cached)."""
        cached = self._observers.get(hook_name)
        if cached is None:
            cached = bool(getattr(self._pm.hook, hook_name).get_hookimpls())
            self._observers[hook_name] = cached
        return cached

    def _notify(self, hook_name: str, event: object) -> None:
        functions = self._observer_functions.get(hook_name)
        if functions is None:
            impls = getattr(self._pm.hook, hook_name).get_hookimpls()
            functions = [(impl.function, impl.plugin_name) for impl in impls]
            self._observer_functions[hook_name] = functions
        for function, plugin_name in functions:
            try:
                function(event=event)
            except Exception:
                logger.exception("observer %s of plugin %r raised; ignored", hook_name, plugin_name)

    def notify_workflow_started(self, event: WorkflowStarted) -> None:
        """Tell observers a workflow started."""
        self._notify("plait_workflow_started", event)

    def notify_workflow_finished(self, event: WorkflowFinished) -> None:
        """Tell observers a workflow finished."""
        self._notify("plait_workflow_finished", event)

    def notify_task_state(self, event: TaskStateChanged) -> None:
        """Tell observers a task changed state."""
        self._notify("plait_task_state_changed", event)

    def notify_block_state(self, event: BlockStateChanged) -> None:
        """Tell observers a block changed state."""
        self._notify("plait_block_state_changed", event)

    def notify_resource_sample(self, event: ResourceSample) -> None:
        """Tell observers what a running try used."""
        self._notify("plait_resource_sampled", event)

    def notify_node(self, event: NodeChanged) -> None:
        """Tell observers a node joined or left an executor."""
        self._notify("plait_node_changed", event)

    # -- listing ---------------------------------------------------------

    def info(self) -> list[PluginInfo]:
        """Every name every plugin provides, plus plugins that failed or are disabled."""
        rows: list[PluginInfo] = []
        for kind in [*_KINDS, "site-config"]:
            registry = self._registry(kind)
            for name, cls in registry.items():
                src = registry.source(name)
                module = cls.__module__
                if isinstance(registry, SiteConfigRegistry):
                    module = registry.site(name).factory.__module__
                rows.append(
                    PluginInfo(kind, name, src.plugin, src.distribution, src.version, module, "ok")
                )
        for name, error in self._errors.items():
            rows.append(
                PluginInfo(
                    "plugin", name, name, error.distribution, error.version, "", "error", str(error)
                )
            )
        for name, src in self._disabled.items():
            rows.append(
                PluginInfo("plugin", name, name, src.distribution, src.version, "", "disabled")
            )
        return rows


def _version(dist: str) -> str:
    from plait.__about__ import __version__

    return __version__ if dist == "plait" else "?"


_current: Plugins | None = None
_current_lock = threading.RLock()
_building = threading.local()


def get_plugins() -> Plugins:
    """The process-wide plugin facade, created (and entry points scanned) on first use.

    :raises PluginError: called while the plugins themselves are being imported (a
        plugin module that looks up plugins at import time); that plugin is then
        reported as failing to load, instead of the process deadlocking.
    """
    global _current
    if _current is None:
        with _current_lock:
            if getattr(_building, "active", False):
                raise PluginError(
                    "a plugin looked up plugins while plugins were being loaded (for example "
                    "`from plait.executors import X` at import time); import the class from "
                    "its own package, or inside the function that needs it"
                )
            if _current is None:
                _building.active = True
                try:
                    _current = Plugins()
                finally:
                    _building.active = False
    return _current


@contextlib.contextmanager
def use_plugins(plugins: Plugins) -> Iterator[Plugins]:
    """Make ``plugins`` the process-wide facade for the duration of a ``with`` block (tests)."""
    global _current
    previous = _current
    _current = plugins
    try:
        yield plugins
    finally:
        _current = previous


def reset_plugins() -> None:
    """Forget the process-wide facade so the next use rescans entry points."""
    global _current
    _current = None
