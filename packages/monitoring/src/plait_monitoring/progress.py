"""A live progress bar in the terminal: done, failed, running and pending tasks per app.

Turned on with ``Config(progress=True)`` or ``plait.progress()``. It polls the
kernel's ``task_counts_by_app()`` from rich's own refresh thread and builds no
event per task, so it costs the workflow nothing per task; when one poll gets
expensive (hundreds of thousands of live tasks) it polls less often, keeping its
share of the time under :data:`MAX_SHARE`. When stdout is not a terminal (a
batch job's log, a pipe) it prints nothing at all.
"""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING

from plait.monitoring import PROGRESS, Monitor

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live

    from plait.config import Config
    from plait.dataflow.dflow import DataFlowKernel

#: most of the time the display may spend counting tasks
MAX_SHARE = 0.01

#: the columns, and the kernel's states each one adds up
GROUPS: dict[str, tuple[str, ...]] = {
    "done": ("exec_done", "memo_done"),
    "failed": ("failed", "dep_fail", "cancelled"),
    "running": ("launched", "running", "running_ended", "joining", "fail_retryable"),
    "pending": ("pending",),
}


def grouped(counts: dict[str, int]) -> dict[str, int]:
    """One app's state counts added up into the display's columns."""
    return {column: sum(counts.get(s, 0) for s in states) for column, states in GROUPS.items()}


class ProgressBar(Monitor):
    """The ``progress`` monitor: a rich table of each app's tasks, refreshed in place.

    :param refresh_per_second: how often the table is redrawn.
    :param stream: where to draw (default ``sys.stdout``); nothing is drawn unless it
        is a terminal.
    """

    plugin_name = PROGRESS

    def __init__(self, refresh_per_second: float = 4.0, stream: IO[str] | None = None) -> None:
        self.refresh_per_second = refresh_per_second
        self.stream = stream
        self._kernel: DataFlowKernel | None = None
        self._live: Live | None = None
        self._counts: dict[str, dict[str, int]] = {}
        self._next_poll = 0.0

    def start(self, run_id: str, run_dir: str, config: Config) -> None:
        """Nothing to prepare before the kernel is bound."""

    def bind(self, kernel: DataFlowKernel) -> None:
        """Start drawing, if the stream is a terminal."""
        stream = self.stream if self.stream is not None else sys.stdout
        if not stream.isatty():
            return
        from rich.console import Console
        from rich.live import Live

        self._kernel = kernel
        self._live = Live(
            get_renderable=self._render,
            console=Console(file=stream),
            refresh_per_second=self.refresh_per_second,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def close(self) -> None:
        """Draw the final counts and stop (idempotent)."""
        live, self._live = self._live, None
        if live is not None:
            self._next_poll = 0.0
            live.stop()  # stopping draws the renderable once more

    def _poll(self) -> dict[str, dict[str, int]]:
        """The kernel's counts, re-read only as often as MAX_SHARE allows."""
        now = time.monotonic()
        if self._kernel is not None and now >= self._next_poll:
            self._counts = self._kernel.task_counts_by_app()
            cost = time.monotonic() - now
            self._next_poll = now + cost / MAX_SHARE
        return self._counts

    def _render(self) -> RenderableType:
        from rich.progress_bar import ProgressBar as Bar
        from rich.table import Table

        table = Table(box=None, pad_edge=False, title_justify="left")
        table.add_column("app")
        for column in GROUPS:
            table.add_column(column, justify="right")
        table.add_column("", min_width=20)
        for app, counts in sorted(self._poll().items()):
            row = grouped(counts)
            total = sum(row.values())
            finished = row["done"] + row["failed"]
            table.add_row(
                app,
                *(str(n) for n in row.values()),
                Bar(total=max(total, 1), completed=finished, width=30),
            )
        return table
