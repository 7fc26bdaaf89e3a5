"""Numbered run directories: ``runinfo/000``, ``runinfo/001``, ..."""

from __future__ import annotations

import os


def make_rundir(root: str) -> str:
    """Create and return the next numbered directory under ``root``.

    Safe against concurrent callers: the number is claimed by ``mkdir`` itself.
    """
    os.makedirs(root, exist_ok=True)
    numbers = [int(e) for e in os.listdir(root) if e.isdigit()]
    n = max(numbers) + 1 if numbers else 0
    while True:
        path = os.path.join(root, f"{n:03d}")
        try:
            os.mkdir(path)
        except FileExistsError:
            n += 1
            continue
        return os.path.abspath(path)
