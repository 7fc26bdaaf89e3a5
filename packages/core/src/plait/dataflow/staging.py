"""Choosing staging providers for a task's files and wrapping the task to use them.

Chosen in the submitting process (registry lookup by URL scheme, or the
executor's ``storage_access`` list); the chosen provider objects travel with the
task inside :class:`StagingWrapper` and run where the task runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from plait.data_provider.files import File
from plait.data_provider.staging import Staging
from plait.plugins import UnknownPluginError, get_plugins


class StagingWrapper:
    """Calls the app with its input files staged in, then stages its outputs out."""

    def __init__(
        self,
        func: Callable[..., Any],
        stage_in: list[tuple[Staging, File]],
        stage_out: list[tuple[Staging, File]],
        working_dir: str | None,
    ) -> None:
        self.func = func
        self.stage_in = stage_in
        self.stage_out = stage_out
        self.working_dir = working_dir
        self.__name__ = getattr(func, "__name__", "app")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        working_dir = self.working_dir or os.getcwd()
        for provider, file in self.stage_in:
            provider.stage_in(file, working_dir)
        for _, file in self.stage_out:
            if file.local_path is None:  # where the app writes it, before it is moved out
                file.local_path = os.path.join(working_dir, file.filename)
        result = self.func(*args, **kwargs)
        for provider, file in self.stage_out:
            provider.stage_out(file, working_dir)
        return result


class StagingSelector:
    """Finds the staging provider for each file of a task, caching providers per scheme."""

    def __init__(self) -> None:
        self._by_scheme: dict[str, Staging] = {}

    def provider(self, file: File, storage_access: list[Staging] | None, out: bool) -> Staging:
        """The provider that moves ``file``; an executor's ``storage_access`` comes first.

        :raises UnknownPluginError: no installed provider handles the file's scheme.
        """
        for candidate in storage_access or ():
            if candidate.can_stage_out(file) if out else candidate.can_stage_in(file):
                return candidate
        cached = self._by_scheme.get(file.scheme)
        if cached is not None:
            return cached
        registry = get_plugins().staging
        for _, cls in registry.items():
            if file.scheme in cls.schemes:
                provider = cls()
                self._by_scheme[file.scheme] = provider
                return provider
        raise UnknownPluginError(
            "staging",
            file.scheme,
            [s for _, cls in registry.items() for s in cls.schemes],
            [f"needed for {file.url}"],
        )

    def wrap(
        self, func: Callable[..., Any], kwargs: dict[str, Any], executor: Any
    ) -> Callable[..., Any]:
        """``func`` wrapped to stage the ``inputs``/``outputs`` files of one call, or ``func``
        itself when every file is already where the task runs."""
        storage = getattr(executor, "storage_access", None)
        ins = [
            (self.provider(f, storage, out=False), f)
            for f in kwargs.get("inputs") or ()
            if isinstance(f, File)
        ]
        outs = [
            (self.provider(f, storage, out=True), f)
            for f in kwargs.get("outputs") or ()
            if isinstance(f, File)
        ]
        ins = [(p, f) for p, f in ins if not p.is_noop]
        outs = [(p, f) for p, f in outs if not p.is_noop]
        if not ins and not outs:
            return func
        return StagingWrapper(func, ins, outs, getattr(executor, "working_dir", None))
