"""The process-wide current DataFlowKernel: ``plait.load``, ``dfk``, ``clear``.

Cleanup is also registered with ``atexit``: a script that loads a config and
never cleans up still has its executors (and any processes they started) shut
down at interpreter exit, within each executor's time limit. Nothing is forked
there: shutdown only signals and reaps what already exists.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from plait.config import Config
from plait.dataflow.dflow import DataFlowKernel
from plait.errors import ConfigError, NoDataFlowKernelError

_dfk: DataFlowKernel | None = None
_lock = threading.Lock()


def load(config: Config | str | None = None, **site_options: Any) -> DataFlowKernel:
    """Start a DataFlowKernel for ``config`` (default: threads) and make it current.

    ``config`` may also name a site configuration a plugin registered
    (``plait.load("perlmutter-cpu", account="m42")``); keyword arguments go to it.
    Use as ``with plait.load(config):`` so leaving the block waits for tasks (or
    cancels them if the block raised) and shuts everything down.

    :raises ConfigError: a config is already loaded.
    :raises plait.plugins.UnknownPluginError: no plugin registered that site name.
    """
    global _dfk
    if isinstance(config, str):
        from plait.plugins import get_plugins

        config = get_plugins().site_configs.build(config, **site_options)
    elif site_options:
        raise ConfigError(
            "plait.load()", sorted(site_options), "", "keyword options go with a site name only"
        )
    with _lock:
        if _dfk is not None:
            raise ConfigError(
                "plait.load()",
                "a second config",
                "",
                f"a config is already loaded (run {_dfk.run_dir}); call plait.dfk().cleanup() "
                "or leave its `with` block first (plait.clear() only forgets it)",
            )
        _dfk = DataFlowKernel(config)
        return _dfk


def dfk() -> DataFlowKernel:
    """The current DataFlowKernel.

    :raises NoDataFlowKernelError: no config is loaded.
    """
    current = _dfk
    if current is None:
        raise NoDataFlowKernelError()
    return current


def clear() -> None:
    """Forget the current DataFlowKernel without cleaning it up."""
    global _dfk
    with _lock:
        _dfk = None


def wait_for_current_tasks() -> None:
    """Wait for every task of the current DataFlowKernel to finish."""
    dfk().wait_for_current_tasks()


def _forget(kernel: DataFlowKernel) -> None:
    global _dfk
    with _lock:
        if _dfk is kernel:
            _dfk = None


@atexit.register
def _cleanup_at_exit() -> None:
    current = _dfk
    if current is None:
        return
    unfinished = sum(n for state, n in current.task_counts().items() if state in _UNFINISHED)
    if unfinished:
        import sys

        print(
            f"plait: {unfinished} tasks had not finished at interpreter exit and were cancelled; "
            "use `with plait.load(config):` or plait.wait_for_current_tasks() to wait for them",
            file=sys.stderr,
        )
    current.cleanup()


_UNFINISHED = ("pending", "launched", "fail_retryable", "joining")
