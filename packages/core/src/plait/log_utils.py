"""Parsl's logging helpers: send plait's log records to a stream or a file."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TextIO

DEFAULT_FORMAT = "%(asctime)s %(name)s:%(lineno)d %(threadName)s %(levelname)s %(message)s"


def _attach(
    handler: logging.Handler, name: str, level: int, format_string: str | None
) -> Callable[[], None]:
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(format_string or DEFAULT_FORMAT))
    logger = logging.getLogger(name)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    logger.addHandler(handler)

    def remove() -> None:
        logger.removeHandler(handler)
        handler.close()

    return remove


def set_stream_logger(
    name: str = "plait",
    level: int = logging.DEBUG,
    format_string: str | None = None,
    stream: TextIO | None = None,
) -> Callable[[], None]:
    """Log ``name``'s records at ``level`` and above to ``stream`` (default stderr).

    Returns a function that removes the handler again.
    """
    return _attach(logging.StreamHandler(stream or sys.stderr), name, level, format_string)


def set_file_logger(
    filename: str,
    name: str = "plait",
    level: int = logging.DEBUG,
    format_string: str | None = None,
) -> Callable[[], None]:
    """Log ``name``'s records at ``level`` and above to ``filename`` (appended).

    Returns a function that removes the handler again.
    """
    return _attach(logging.FileHandler(filename), name, level, format_string)
