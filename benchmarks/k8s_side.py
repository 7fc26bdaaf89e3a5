#!/usr/bin/env python3
"""plait's KubernetesProvider against the stand-in cluster: start-up and status polls.

Starts the test harness's stand-in cluster (``plait_provider_kubernetes.testing``: the
kmock-based API server emulator and the pod runner playing the kubelet, on 127.0.0.1)
and measures:

startup  for ``--rounds`` rounds, HTEX on ``KubernetesProvider`` (one pod, one worker):
         ``load()`` to the first no-op result, the provider's pod create to that result,
         and the ``with`` exit; between rounds the run's pods must be gone.
poll     ``--pods`` pods of ``sleep`` (all Running), then ``--polls`` status polls of the
         provider, each forced past its cache: the time of one poll and how many list
         calls it made (must be one), the bare list request through the official client
         for the same pods, and, for comparison, one ``read_namespaced_pod`` per pod
         with the client's models (what Parsl's provider does every poll).

Everything is stopped at the end, also on error or Ctrl-C. Raw numbers go to
``results/k8s-side.json``; a Markdown table is printed. Numbers are the emulator's:
a real API server adds its network and etcd latency to every request, which only
widens the gap between one list call and one request per pod::

    uv run python benchmarks/k8s_side.py [--rounds 5] [--pods 100] [--polls 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from side_by_side import cpu_model, plait_commit  # this directory is on sys.path

import plait
from plait import Config
from plait.testing import wait_until
from plait_executor_htex import HighThroughputExecutor
from plait_provider_kubernetes import KubernetesProvider
from plait_provider_kubernetes.testing import (
    TEST_NAMESPACE,
    KubeCluster,
    no_proxy_for_loopback,
    pod_processes,
)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "k8s-side.json"


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max of some timings."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def noop() -> None:
    return None


def startup_round(cluster: KubeCluster, run_dir: str) -> dict[str, float]:
    """One ``with plait.load()``: HTEX on one pod, one no-op task."""
    provider = KubernetesProvider(
        image="python:3.11",
        namespace=TEST_NAMESPACE,
        kubeconfig=cluster.kubeconfig,
        status_polling_interval=0.5,
        max_cpu=1,
        init_cpu=1,
    )
    created: list[float] = []
    submit = provider.submit

    def timed_submit(command: str, tasks_per_node: int, job_name: str = "plait.job") -> str:
        job = submit(command, tasks_per_node, job_name)
        created.append(time.perf_counter())
        return job

    provider.submit = timed_submit  # type: ignore[method-assign]
    htex = HighThroughputExecutor(
        label="htex-k8s",
        provider=provider,
        max_workers_per_node=1,
        heartbeat_period=2.0,
        heartbeat_threshold=10.0,
    )
    app = plait.python_app(noop, executors=["htex-k8s"])
    config = Config(executors=[htex], run_dir=run_dir, strategy_period=0.5)
    start = time.perf_counter()
    try:
        with plait.load(config):
            app().result(timeout=120)
            first = time.perf_counter()
        done = time.perf_counter()
    finally:
        plait.clear()
    pods = [job for job in htex.blocks.values() if job]
    gone = wait_until(
        lambda: (
            not provider._api.list(provider.selector)
            and not pod_processes(set(pods))
            and time.perf_counter()
        ),
        30,
        0.05,
        what="the run's pods and processes to go",
    )
    return {
        "load_to_first_result_s": first - start,
        "pod_create_to_first_result_s": first - created[0],
        "exit_s": done - first,
        "exit_to_pods_gone_s": gone - done,
    }


def poll_cost(cluster: KubeCluster, pods: int, polls: int) -> dict[str, Any]:
    """One status poll for ``pods`` running pods, against the alternatives."""
    provider = KubernetesProvider(
        image="python:3.11",
        namespace=TEST_NAMESPACE,
        kubeconfig=cluster.kubeconfig,
        max_blocks=pods,
    )
    jobs = [provider.submit("sleep 600", 1, "poll") for _ in range(pods)]
    calls: list[str] = []
    original = provider._api.list

    def counted(selector: str) -> list[dict[str, Any]]:
        calls.append(selector)
        return original(selector)

    provider._api.list = counted  # type: ignore[method-assign]
    try:
        wait_until(
            lambda: all(s.state.name == "RUNNING" for s in provider.status(jobs)),
            120,
            0.2,
            what=f"{pods} pods running",
        )
        timings = []
        for _ in range(polls):
            calls.clear()
            provider._last_poll = float("-inf")
            began = time.perf_counter()
            statuses = provider.status(jobs)
            timings.append(time.perf_counter() - began)
            assert len(calls) == 1 and all(s.state.name == "RUNNING" for s in statuses)
        api = cluster.client()
        try:
            bare, per_pod = [], []
            for _ in range(polls):
                began = time.perf_counter()
                response: Any = api.list_namespaced_pod(
                    TEST_NAMESPACE, label_selector=provider.selector, _preload_content=False
                )
                assert len(json.loads(response.data)["items"]) == pods
                bare.append(time.perf_counter() - began)
            for _ in range(max(3, polls // 4)):
                began = time.perf_counter()
                for job in jobs:
                    api.read_namespaced_pod(job, TEST_NAMESPACE)
                per_pod.append(time.perf_counter() - began)
        finally:
            api.api_client.close()
    finally:
        provider._api.list = original  # type: ignore[method-assign]
        left = provider.delete_all(timeout=60)
    return {
        "pods": pods,
        "list_calls_per_poll": 1,
        "poll_s": spread(timings),
        "bare_list_request_s": spread(bare),
        "read_per_pod_s": spread(per_pod),
        "pods_left_after_delete_all": len(left),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--polls", type=int, default=20)
    args = parser.parse_args()
    cluster = KubeCluster()
    with no_proxy_for_loopback(), tempfile.TemporaryDirectory(prefix="plait-k8s-bench-") as tmp:
        try:
            began = time.perf_counter()
            cluster.start()
            cluster_start = time.perf_counter() - began
            rounds = [
                startup_round(cluster, os.path.join(tmp, f"run{i}")) for i in range(args.rounds)
            ]
            poll = poll_cost(cluster, args.pods, args.polls)
        finally:
            cluster.stop()
    startup = {key: spread([r[key] for r in rounds]) for key in rounds[0]}
    report = {
        "system": "plait",
        "commit": plait_commit(),
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "cpu": cpu_model(), "platform": platform.platform()},
        "cluster": "stand-in: kmock API server emulator + pod runner on 127.0.0.1",
        "cluster_start_s": cluster_start,
        "startup": {"rounds": rounds, **startup},
        "poll": poll,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    ms = 1000.0
    print("| measurement | median | min | max |")
    print("|---|---|---|---|")
    for key, label in (
        ("load_to_first_result_s", "`load()` to first result (s)"),
        ("pod_create_to_first_result_s", "pod create to first result (s)"),
        ("exit_s", "`with` exit (s)"),
        ("exit_to_pods_gone_s", "exit to pods gone from the API (s)"),
    ):
        s = startup[key]
        print(f"| {label} | {s['median']:.2f} | {s['min']:.2f} | {s['max']:.2f} |")
    for key, label in (
        ("poll_s", f"one status poll, {args.pods} pods, 1 list call (ms)"),
        ("bare_list_request_s", f"the bare list request, {args.pods} pods (ms)"),
        ("read_per_pod_s", f"one read per pod, {args.pods} requests (ms)"),
    ):
        s = poll[key]
        print(f"| {label} | {s['median'] * ms:.1f} | {s['min'] * ms:.1f} | {s['max'] * ms:.1f} |")
    print(f"\nwrote {RESULTS.relative_to(HERE.parent)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
