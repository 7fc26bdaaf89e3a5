"""Plugins add benchmarks to ``plait perf`` (plait_register_benchmarks)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from plait.benchmarks import Benchmark
from plait.cli import main
from plait.plugins import Plugins, hookimpl, use_plugins


class Counting(Benchmark):
    plugin_name = "counting"
    description = "counts the files it writes"
    labels = {"files_written": ("files written", "{:d}")}

    def run(self, work_dir: str) -> dict[str, Any]:
        for i in range(3):
            with open(f"{work_dir}/f{i}", "w") as f:
                f.write("x")
        return {"files_written": 3}


class CountingPlugin:
    @hookimpl
    def plait_register_benchmarks(self, registry: Any) -> None:
        registry.add(Counting)


@pytest.fixture
def plugins() -> Any:
    plugins = Plugins()
    plugins.register(CountingPlugin(), "counting-plugin")
    with use_plugins(plugins):
        yield plugins


def test_a_plugin_benchmark_runs_by_name(plugins: Any, capsys: pytest.CaptureFixture[str]):
    assert main(["perf", "--only", "counting", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["results"] == {"files_written": 3}
    assert main(["perf", "--only", "counting"]) == 0
    assert "files written" in capsys.readouterr().out


def test_list_names_core_and_plugin_benchmarks(plugins: Any, capsys: pytest.CaptureFixture[str]):
    assert main(["perf", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "noop" in listed and "counting" in listed and "counts the files it writes" in listed


def test_unknown_benchmark_names_the_known_ones(
    plugins: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["perf", "--only", "countng"]) == 2
    err = capsys.readouterr().err
    assert "countng" in err and "counting" in err and "--list" in err
