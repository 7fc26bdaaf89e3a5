"""The terminal progress bar: drawn on a real pseudo-terminal, silent on a pipe."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plait_monitoring.progress import grouped

RUN_TIMEOUT = 60.0
#: terminal control sequences (colours, cursor moves) around the table's text
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

SCRIPT = """
import sys
import plait
from plait import python_app
from plait.config import Config


@python_app
def square(x):
    return x * x


@python_app
def broken():
    raise ValueError("no")


by_config = sys.argv[2] == "config"
with plait.load(Config(run_dir=sys.argv[1], progress=by_config)):
    if not by_config:
        plait.progress()
    results = [square(i).result() for i in range(12)]
    errors = [broken().exception() for _ in range(2)]
print("RESULTS", sum(results), len(errors))
"""


def run_on_terminal(script: Path, *args: str) -> str:
    """Run ``script`` with a pseudo-terminal as stdout (as in a user's shell); its output."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(script), *args], stdout=slave, stderr=subprocess.PIPE
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=RUN_TIMEOUT) == 0, proc.stderr.read().decode()  # type: ignore[union-attr]
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return b"".join(chunks).decode(errors="replace")


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "workflow.py"
    path.write_text(SCRIPT)
    return path


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["config", "call"])
def test_bar_shows_each_app_on_a_terminal(script: Path, tmp_path: Path, how: str) -> None:
    """Config(progress=True) and plait.progress() draw the same table; its last frame
    has every app's final counts (done, failed, running, pending)."""
    output = run_on_terminal(script, str(tmp_path / "runinfo"), how)
    assert "RESULTS 506 2" in output
    lines = [" ".join(ANSI.sub("", line).split()) for line in output.splitlines()]
    assert any(line.startswith("app done failed running pending") for line in lines), output
    assert any(line.startswith("square 12 0 0 0") for line in lines), output
    assert any(line.startswith("broken 0 2 0 0") for line in lines), output


@pytest.mark.timeout(120)
def test_silent_when_stdout_is_not_a_terminal(script: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "runinfo"), "config"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "RESULTS 506 2\n"


@pytest.mark.parametrize(
    ("counts", "columns"),
    [
        ({}, {"done": 0, "failed": 0, "running": 0, "pending": 0}),
        (
            {"exec_done": 3, "memo_done": 2, "failed": 1, "dep_fail": 4, "cancelled": 1},
            {"done": 5, "failed": 6, "running": 0, "pending": 0},
        ),
        (
            {"launched": 2, "joining": 1, "fail_retryable": 1, "pending": 7},
            {"done": 0, "failed": 0, "running": 4, "pending": 7},
        ),
    ],
)
def test_states_add_up_into_columns(counts: dict[str, int], columns: dict[str, int]) -> None:
    assert grouped(counts) == columns
