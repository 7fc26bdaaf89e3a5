"""Executors: where tasks run.

``from plait.executors import HighThroughputExecutor`` (or any plugin's class)
resolves through the executor registry when its plugin is installed, and
otherwise raises an ImportError naming the distribution to install.
"""

from __future__ import annotations

from typing import Any

from plait.executors.base import Executor
from plait.executors.threads import ThreadPoolExecutor

__all__ = ["Executor", "ThreadPoolExecutor"]


def __getattr__(name: str) -> Any:
    from plait._lazy_classes import resolve

    return resolve("executor", name, __name__)
