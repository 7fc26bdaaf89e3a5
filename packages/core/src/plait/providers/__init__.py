"""Execution providers: how blocks (batch jobs, pods, local processes) are obtained.

``from plait.providers import SlurmProvider`` resolves through the provider
registry when the plugin that provides it is installed, and otherwise raises an
ImportError naming the distribution to install.
"""

from __future__ import annotations

from typing import Any

from plait.providers.base import ExecutionProvider, JobState, JobStatus
from plait.providers.local import LocalProvider

__all__ = ["ExecutionProvider", "JobState", "JobStatus", "LocalProvider"]


def __getattr__(name: str) -> Any:
    from plait._lazy_classes import resolve

    return resolve("provider", name, __name__)
