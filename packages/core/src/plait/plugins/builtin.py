"""Core's own plugin: registers the built-in pieces through the same hooks as any plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.plugins import hookimpl

if TYPE_CHECKING:
    from plait.config import Config
    from plait.data_provider.staging import Staging
    from plait.executors.base import Executor
    from plait.launchers.base import Launcher
    from plait.plugins.registry import Registry, SiteConfigRegistry
    from plait.providers.base import ExecutionProvider
    from plait.serialize.base import Serializer


@hookimpl
def plait_register_executors(registry: Registry[Executor]) -> None:
    """``threads``."""
    from plait.executors.threads import ThreadPoolExecutor

    registry.add(ThreadPoolExecutor)


@hookimpl
def plait_register_providers(registry: Registry[ExecutionProvider]) -> None:
    """``local``."""
    from plait.providers.local import LocalProvider

    registry.add(LocalProvider)


@hookimpl
def plait_register_launchers(registry: Registry[Launcher]) -> None:
    """``simple``, ``single-node``, ``wrapped``."""
    from plait.launchers.simple import SimpleLauncher, SingleNodeLauncher, WrappedLauncher

    for cls in (SimpleLauncher, SingleNodeLauncher, WrappedLauncher):
        registry.add(cls)


@hookimpl
def plait_register_staging(registry: Registry[Staging]) -> None:
    """``file`` (no-op: a shared filesystem)."""
    from plait.data_provider.staging import NoOpFileStaging

    registry.add(NoOpFileStaging)


@hookimpl
def plait_register_serializers(registry: Registry[Serializer]) -> None:
    """``pickle``, ``dill``, ``byref``."""
    from plait.serialize.builtin import ByReferenceSerializer, DillSerializer, PickleSerializer

    for cls in (PickleSerializer, DillSerializer, ByReferenceSerializer):
        registry.add(cls)


def _local_threads(max_threads: int = 4, run_dir: str = "runinfo") -> Config:
    from plait.config import Config
    from plait.executors.threads import ThreadPoolExecutor

    return Config(executors=[ThreadPoolExecutor(max_threads=max_threads)], run_dir=run_dir)


@hookimpl
def plait_register_site_configs(registry: SiteConfigRegistry) -> None:
    """``local-threads``: threads on this machine."""
    registry.add_site("local-threads", _local_threads, "threads on this machine (max_threads=4)")
