"""Launchers: how a block's command is started on its nodes (plain, srun, mpiexec, ...).

Names other than the built-ins resolve through the launcher registry.
"""

from __future__ import annotations

from typing import Any

from plait.launchers.base import Launcher
from plait.launchers.simple import SimpleLauncher, SingleNodeLauncher, WrappedLauncher

__all__ = ["Launcher", "SimpleLauncher", "SingleNodeLauncher", "WrappedLauncher"]


def __getattr__(name: str) -> Any:
    from plait._lazy_classes import resolve

    return resolve("launcher", name, __name__)
