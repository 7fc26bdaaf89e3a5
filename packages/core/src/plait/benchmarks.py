"""Benchmarks that plugins add to ``plait perf``.

Core's own benchmarks (``plait.perf``) measure any executor with no-op Python
apps. Some capabilities need their own measurement (an MPI executor's time to
the first rank, a provider's time per status poll): their plugin registers a
:class:`Benchmark` through ``plait_register_benchmarks`` and ``plait perf --only
NAME`` runs it beside the standard ones, with the same report.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

__all__ = ["Benchmark"]


class Benchmark(ABC):
    """One named measurement, run by ``plait perf --only <plugin_name>``.

    :cvar plugin_name: the name users pass to ``--only``.
    :cvar description: one line for ``plait perf --list``.
    :cvar labels: for the table, ``{result key: (label, format)}``, e.g.
        ``{"mpi_tasks_per_s": ("MPI tasks", "{:.1f} tasks/s")}``.
    """

    plugin_name: ClassVar[str]
    description: ClassVar[str] = ""
    labels: ClassVar[dict[str, tuple[str, str]]] = {}

    @abstractmethod
    def run(self, work_dir: str) -> dict[str, Any]:
        """Measure once, with everything it creates under ``work_dir`` (a fresh temporary
        directory), and return the figures by name (numbers, JSON-serializable). Start
        and stop any workflow it needs itself; leave nothing running."""
