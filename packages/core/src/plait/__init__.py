"""plait: parallel scripting in plain Python.

Decorate functions with :func:`python_app`, :func:`bash_app` or :func:`join_app`,
load a :class:`Config`, and call the apps: each call returns a future at once and
runs when its inputs are ready. The names here mirror Parsl's, so a Parsl script
ports by changing its imports.
"""

from __future__ import annotations

from typing import Any

from plait.__about__ import __version__
from plait.app.app import bash_app, join_app, python_app
from plait.config import Config
from plait.data_provider.files import File
from plait.dataflow.dflow import AUTO_LOGNAME, DataFlowKernel
from plait.dataflow.futures import AppFuture, DataFuture
from plait.dataflow.loader import clear, dfk, load, wait_for_current_tasks
from plait.dataflow.memoization import BasicMemoizer, get_all_checkpoints, get_last_checkpoint
from plait.executors.threads import ThreadPoolExecutor
from plait.log_utils import set_file_logger, set_stream_logger
from plait.monitoring import progress
from plait.plugins import hookimpl
from plait.providers.local import LocalProvider


def site_config(name: str, **options: Any) -> Config:
    """A fresh Config from the site configuration ``name`` that a plugin registered.

    :raises plait.plugins.UnknownPluginError: no installed plugin registered ``name``.
    """
    from plait.plugins import get_plugins

    return get_plugins().site_configs.build(name, **options)


__all__ = [
    "AUTO_LOGNAME",
    "AppFuture",
    "BasicMemoizer",
    "Config",
    "DataFlowKernel",
    "DataFuture",
    "File",
    "LocalProvider",
    "ThreadPoolExecutor",
    "__version__",
    "bash_app",
    "clear",
    "dfk",
    "get_all_checkpoints",
    "get_last_checkpoint",
    "hookimpl",
    "join_app",
    "load",
    "progress",
    "python_app",
    "set_file_logger",
    "set_stream_logger",
    "site_config",
    "wait_for_current_tasks",
]
