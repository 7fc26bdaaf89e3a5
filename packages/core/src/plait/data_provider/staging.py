"""The staging contract: moving ``File`` inputs in and outputs out by URL scheme.

A staging provider handles the URL schemes listed in ``schemes``. Providers are
registered through the ``plait_register_staging`` hook and chosen on the
submitting side; when a task needs real staging, the chosen provider objects are
shipped with the task and run where the task runs, around the app body, so
workers never look up plugins.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from plait.data_provider.files import File


class Staging(ABC):
    """Base class of staging providers.

    :cvar plugin_name: the registry name.
    :cvar schemes: URL schemes this provider handles.
    :cvar is_noop: True if staging needs no work (files are already where the
        task runs); the kernel then skips wrapping the task.
    """

    plugin_name: ClassVar[str]
    schemes: ClassVar[tuple[str, ...]] = ()
    is_noop: ClassVar[bool] = False

    def can_stage_in(self, file: File) -> bool:
        """Whether this provider can stage ``file`` in."""
        return file.scheme in self.schemes

    def can_stage_out(self, file: File) -> bool:
        """Whether this provider can stage ``file`` out."""
        return file.scheme in self.schemes

    @abstractmethod
    def stage_in(self, file: File, working_dir: str) -> None:
        """Make ``file`` readable where the task runs and set ``file.local_path``.

        Runs where the task runs, before the app body.
        """

    @abstractmethod
    def stage_out(self, file: File, working_dir: str) -> None:
        """Move the produced ``file`` (at ``file.local_path``) to its URL.

        Runs where the task runs, after the app body returned.
        """


class NoOpFileStaging(Staging):
    """``file://`` URLs and plain paths: a shared filesystem, nothing to move."""

    plugin_name = "file"
    schemes = ("file",)
    is_noop = True

    def stage_in(self, file: File, working_dir: str) -> None:
        """Nothing to do: the path is readable where the task runs."""

    def stage_out(self, file: File, working_dir: str) -> None:
        """Nothing to do: the app wrote the file in place."""
