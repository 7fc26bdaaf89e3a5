"""The launcher contract: wrap a block's command so it starts on the block's nodes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from plait.utils import RepresentationMixin


class Launcher(RepresentationMixin, ABC):
    """Turns the worker command into the command line a job script runs.

    Launchers run in the submitting process only: their output, a shell command
    line, is what travels to the nodes.

    :cvar plugin_name: the registry name (``"simple"``, ``"srun"``).
    :param debug: make the generated shell snippet trace itself (``set -x``).
    """

    plugin_name: ClassVar[str]

    def __init__(self, debug: bool = True) -> None:
        self.debug = debug

    @abstractmethod
    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int) -> str:
        """The command line that starts ``command`` ``tasks_per_node`` times on each of
        ``nodes_per_block`` nodes."""
