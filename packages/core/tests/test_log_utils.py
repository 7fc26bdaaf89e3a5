"""Parsl's logging helpers route plait's records and can be removed again."""

from __future__ import annotations

import io
from pathlib import Path

import plait


def test_stream_logger_sees_kernel_messages(make_config) -> None:  # type: ignore[no-untyped-def]
    stream = io.StringIO()
    remove = plait.set_stream_logger(stream=stream)
    try:
        with plait.load(make_config(initialize_logging=False)):
            pass
    finally:
        remove()
    assert "Summary of tasks in DFK" in stream.getvalue()


def test_file_logger_writes_and_detaches(tmp_path: Path, make_config) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "mine.log"
    remove = plait.set_file_logger(str(log))
    with plait.load(make_config(initialize_logging=False)):
        pass
    remove()
    size = log.stat().st_size
    assert "started run" in log.read_text()
    with plait.load(make_config(initialize_logging=False)):
        pass
    assert log.stat().st_size == size
