"""Shared fixtures for core's tests: every test gets its own run directory and kernel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import plait
from plait import Config, ThreadPoolExecutor
from plait.dataflow.dflow import DataFlowKernel


@pytest.fixture
def run_dir(tmp_path: pytest.TempPathFactory) -> str:
    """A run directory root of this test's own."""
    return str(tmp_path / "runinfo")  # type: ignore[operator]


@pytest.fixture
def make_config(run_dir: str):  # type: ignore[no-untyped-def]
    """``make_config(**overrides)``: a threads Config rooted in this test's run dir."""

    def make(**overrides: object) -> Config:
        overrides.setdefault("executors", [ThreadPoolExecutor(max_threads=4)])
        overrides.setdefault("run_dir", run_dir)
        return Config(**overrides)  # type: ignore[arg-type]

    return make


@pytest.fixture
def dfk(make_config) -> Iterator[DataFlowKernel]:  # type: ignore[no-untyped-def]
    """A loaded kernel on 4 threads, cleaned up (and forgotten) after the test."""
    kernel = plait.load(make_config())
    try:
        yield kernel
    finally:
        kernel.cleanup()
        plait.clear()
