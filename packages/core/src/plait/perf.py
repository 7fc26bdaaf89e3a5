"""``plait perf``: the standard benchmarks, on any registered executor or config.

The benchmarks and their definitions (the same ones ``benchmarks/parsl_side.py``
runs against Parsl, so the figures can be put side by side):

* ``noop``: N no-op tasks submitted at once; tasks/s from first submit to last result.
* ``roundtrip``: one no-op task submitted and waited for, 200 times; median and p90 ms.
* ``chain``: 1,000 tasks, each taking the previous one's future; seconds.
* ``fan``: 5,000 independent tasks and one task taking all their futures via
  ``inputs=``; seconds.
* ``memory``: M tasks in batches of 1,000 whose futures are dropped; main-process
  RSS sampled every 10,000 tasks; bytes retained per finished task.
* ``startup``: seconds from ``load()`` to the first result, and for leaving the
  ``with`` block after it.
* ``echo``: a 1 MB ``bytes`` argument returned by the app, 20 times in a row;
  MB/s each way.

Each benchmark runs under its own ``with plait.load(config):`` in a temporary run
directory, so one cannot disturb the next. Plugins add benchmarks of their own
(:class:`plait.benchmarks.Benchmark`, ``plait_register_benchmarks``), run by name
with ``--only``; ``plait perf --list`` names them all.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import plait
from plait.config import Config

if TYPE_CHECKING:
    from plait.benchmarks import Benchmark

BENCHMARKS = ("noop", "roundtrip", "chain", "fan", "memory", "startup", "echo")
DEFAULT_BENCHMARKS = ("noop", "roundtrip", "chain", "fan", "startup", "echo")


@plait.python_app
def _noop() -> None:
    return None


@plait.python_app
def _one() -> int:
    return 1


@plait.python_app
def _inc(x: int) -> int:
    return x + 1


@plait.python_app
def _total(inputs: Sequence[int] = ()) -> int:
    return sum(inputs)


@plait.python_app
def _echo(data: bytes) -> bytes:
    return data


ConfigFactory = Callable[[str], Config]


def config_for_executor(name: str) -> ConfigFactory:
    """A factory of Configs with one executor of registered type ``name`` (default options)."""
    from plait.plugins import get_plugins

    cls = get_plugins().lookup("executor", name)

    def make(run_dir: str) -> Config:
        return Config(executors=[cls()], run_dir=run_dir, initialize_logging=True)

    return make


def config_from_file(path: str) -> ConfigFactory:
    """A factory of Configs from a ``.toml`` file, or a ``.py`` file defining
    ``fresh_config()`` or ``config`` (as ``parsl-perf --config`` accepts)."""
    if path.endswith(".toml"):

        def from_toml(run_dir: str) -> Config:
            config = Config.from_toml(path)
            config.run_dir = run_dir
            return config

        return from_toml
    spec = importlib.util.spec_from_file_location("plait_perf_config", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"plait perf: cannot load config file {path}: not a .py or .toml file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def from_py(run_dir: str) -> Config:
        if hasattr(module, "fresh_config"):
            config: Config = module.fresh_config()
        elif hasattr(module, "config"):
            config = module.config
        else:
            raise SystemExit(f"plait perf: {path} defines neither fresh_config() nor config")
        config.run_dir = run_dir
        return config

    return from_py


def _timed(make_config: ConfigFactory, body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="plait-perf-") as tmp, plait.load(make_config(tmp)):
        return body()


def bench_noop(n: int) -> dict[str, Any]:
    """N no-op tasks at once, from a freshly collected heap: the cyclic GC's full
    collections are much of the time while N futures are held, and when they fall
    depends on what earlier work left, so each measurement starts from the same state."""
    gc.collect()
    start = time.perf_counter()
    futures = [_noop() for _ in range(n)]
    for fut in futures:
        fut.result()
    elapsed = time.perf_counter() - start
    return {"noop_tasks_per_s": n / elapsed, "noop_n": n}


def bench_roundtrip(repeats: int = 200, warmup: int = 20) -> dict[str, Any]:
    """One task at a time, submit to result."""
    for _ in range(warmup):
        _noop().result()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _noop().result()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "roundtrip_median_ms": statistics.median(times),
        "roundtrip_p90_ms": times[int(0.9 * (len(times) - 1))],
    }


def bench_chain(length: int = 1000) -> dict[str, Any]:
    """A chain of dependent tasks."""
    start = time.perf_counter()
    fut = _inc(0)
    for _ in range(length - 1):
        fut = _inc(fut)
    assert fut.result() == length
    return {"chain_1000_s": time.perf_counter() - start}


def bench_fan(width: int = 5000) -> dict[str, Any]:
    """Fan out to independent tasks, fan in to one."""
    start = time.perf_counter()
    total = _total(inputs=[_one() for _ in range(width)])
    assert total.result() == width
    return {"fan_5000_s": time.perf_counter() - start}


def bench_echo(size: int = 1 << 20, repeats: int = 20) -> dict[str, Any]:
    """A large argument out and back, one task at a time."""
    data = os.urandom(size)
    _echo(data).result()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        assert len(_echo(data).result()) == size
    elapsed = time.perf_counter() - start
    return {"echo_1mb_mb_per_s": size * repeats / elapsed / 1e6}


def bench_startup(make_config: ConfigFactory) -> dict[str, Any]:
    """``load()`` to the first result, then the ``with`` exit."""
    with tempfile.TemporaryDirectory(prefix="plait-perf-") as tmp:
        start = time.perf_counter()
        with plait.load(make_config(tmp)):
            _noop().result()
            first = time.perf_counter()
        done = time.perf_counter()
    return {"load_to_first_result_s": first - start, "exit_s": done - first}


def rss_bytes() -> int:
    """This process's resident set size."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def bench_memory(m: int, batch: int = 1000, sample_every: int = 10_000) -> dict[str, Any]:
    """RSS while running M tasks whose futures are dropped after each batch."""
    curve: list[list[int]] = []
    done = 0
    while done < m:
        futures = [_noop() for _ in range(min(batch, m - done))]
        for fut in futures:
            fut.result()
        done += len(futures)
        del futures
        if done % sample_every == 0 or done == m:
            curve.append([done, rss_bytes()])
    base_n, base_rss = curve[0]
    end_n, end_rss = curve[-1]
    per_task = (end_rss - base_rss) / (end_n - base_n) if end_n > base_n else 0.0
    return {"memory_bytes_per_task": per_task, "memory_curve": curve, "memory_n": m}


def run(
    make_config: ConfigFactory,
    executor: str,
    only: Sequence[str] = DEFAULT_BENCHMARKS,
    noop_n: int = 20_000,
    mem_n: int = 100_000,
) -> dict[str, Any]:
    """Run the chosen benchmarks; the report has the same shape as ``parsl_side.py``'s."""
    results: dict[str, Any] = {}
    bodies: dict[str, Callable[[], dict[str, Any]]] = {
        "noop": lambda: bench_noop(noop_n),
        "roundtrip": bench_roundtrip,
        "chain": bench_chain,
        "fan": bench_fan,
        "memory": lambda: bench_memory(mem_n),
        "echo": bench_echo,
    }
    for name in only:
        if name == "startup":
            results.update(bench_startup(make_config))
        elif name in bodies:
            results.update(_timed(make_config, bodies[name]))
        else:
            with tempfile.TemporaryDirectory(prefix="plait-perf-") as tmp:
                results.update(_plugin_benchmarks()[name]().run(tmp))
    return {
        "system": "plait",
        "version": plait.__version__,
        "executor": executor,
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "results": results,
    }


def _plugin_benchmarks() -> dict[str, type[Benchmark]]:
    from plait.plugins import get_plugins

    registry = get_plugins().benchmarks
    return {name: registry.get(name) for name in registry.names()}


def format_table(report: dict[str, Any]) -> str:
    """The report as an aligned two-column table."""
    rows = [
        ("no-op throughput", "noop_tasks_per_s", "{:,.0f} tasks/s"),
        ("round trip (median)", "roundtrip_median_ms", "{:.3f} ms"),
        ("round trip (p90)", "roundtrip_p90_ms", "{:.3f} ms"),
        ("chain of 1,000", "chain_1000_s", "{:.3f} s"),
        ("fan-out 5,000 + fan-in", "fan_5000_s", "{:.3f} s"),
        ("memory per finished task", "memory_bytes_per_task", "{:.1f} B"),
        ("load() to first result", "load_to_first_result_s", "{:.3f} s"),
        ("with-block exit", "exit_s", "{:.3f} s"),
        ("1 MB argument echoed", "echo_1mb_mb_per_s", "{:,.0f} MB/s each way"),
    ]
    for benchmark in _plugin_benchmarks().values():
        rows.extend((label, key, fmt) for key, (label, fmt) in benchmark.labels.items())
    results = report["results"]
    lines = [
        f"plait {report['version']} perf, executor {report['executor']}, Python {report['python']}"
    ]
    for label, key, fmt in rows:
        if key in results:
            lines.append(f"  {label:<26} {fmt.format(results[key])}")
    return "\n".join(lines)


def main_perf(
    executor: str | None,
    config: str | None,
    only: str | None,
    noop_n: int,
    mem_n: int,
    as_json: bool,
) -> int:
    """Entry for the CLI: choose the config, run, print."""
    import json

    if config is not None:
        make_config, label = config_from_file(config), os.path.basename(config)
    else:
        name = executor or "threads"
        make_config, label = config_for_executor(name), name
    chosen = tuple(only.split(",")) if only else DEFAULT_BENCHMARKS
    known = (*BENCHMARKS, *_plugin_benchmarks())
    unknown = [b for b in chosen if b not in known]
    if unknown:
        print(
            f"plait perf: unknown benchmark(s) {unknown}; choose from {', '.join(known)} "
            "(plait perf --list says what each measures)",
            file=sys.stderr,
        )
        return 2
    report = run(make_config, label, chosen, noop_n, mem_n)
    print(json.dumps(report) if as_json else format_table(report))
    return 0


def list_benchmarks() -> str:
    """Every benchmark ``--only`` accepts: core's, then the plugins' with a line each."""
    lines = [f"  {name:<16} (core)" for name in BENCHMARKS]
    for name, benchmark in _plugin_benchmarks().items():
        lines.append(f"  {name:<16} {benchmark.description}")
    return "\n".join(lines)
