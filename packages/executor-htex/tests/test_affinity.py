"""CPU affinity and accelerator assignment: the pure rules, and what workers really see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from htex_feature_apps import rendezvous_env
from htex_helpers import make_htex

from plait_executor_htex.affinity import cpu_sets, parse_accelerators, worker_environment

CPUS = list(range(8))


@pytest.mark.parametrize(
    ("mode", "workers", "expected"),
    [
        ("none", 2, [None, None]),
        ("block", 2, [[0, 1, 2, 3], [4, 5, 6, 7]]),
        ("block-reverse", 2, [[7, 6, 5, 4], [3, 2, 1, 0]]),
        ("alternating", 2, [[0, 2, 4, 6], [1, 3, 5, 7]]),
        ("block", 3, [[0, 1], [2, 3], [4, 5]]),
        ("list:0,1:6,7", 2, [[0, 1], [6, 7]]),
    ],
)
def test_cpu_sets(mode: str, workers: int, expected: list[Any]) -> None:
    assert cpu_sets(mode, workers, CPUS) == expected


def test_bad_affinity_names_the_choices() -> None:
    with pytest.raises(ValueError, match="block-reverse"):
        cpu_sets("blocky", 2, CPUS)
    with pytest.raises(ValueError, match="one set per worker"):
        cpu_sets("list:0", 2, CPUS)


def test_accelerators_by_count_list_and_sharing() -> None:
    assert parse_accelerators(2) == ["0", "1"]
    assert parse_accelerators(["0", "0", "1"]) == ["0", "0", "1"]
    assert parse_accelerators("a,b") == ["a", "b"]
    env = worker_environment(1, ["0", "0"], [3])
    assert (
        env["CUDA_VISIBLE_DEVICES"] == env["ROCR_VISIBLE_DEVICES"] == env["ZE_AFFINITY_MASK"] == "0"
    )
    assert env["OMP_NUM_THREADS"] == "1" and env["GOMP_CPU_AFFINITY"] == "3"


NAMES = ["CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "PARSL_WORKER_RANK", "OMP_NUM_THREADS"]


def test_workers_share_one_gpu_and_are_pinned(htex: Any, tmp_path: Path) -> None:
    executor = make_htex(available_accelerators=["0", "0"], cpu_affinity="block")
    htex(executor)
    meeting = tmp_path / "meet"
    meeting.mkdir()
    futures = [rendezvous_env(str(meeting), 2, NAMES) for _ in range(2)]
    seen = [f.result(timeout=60) for f in futures]
    assert {s["CUDA_VISIBLE_DEVICES"] for s in seen} == {"0"}
    assert {s["ROCR_VISIBLE_DEVICES"] for s in seen} == {"0"}
    assert sorted(s["PARSL_WORKER_RANK"] for s in seen) == ["0", "1"]
    cpus = [tuple(s["cpus"]) for s in seen]
    assert len(set(cpus)) == 2 and all(len(c) == 1 for c in cpus)  # 2 CPUs here, one each
    assert {s["OMP_NUM_THREADS"] for s in seen} == {"1"}


def test_accelerators_cap_the_workers_per_node() -> None:
    assert make_htex(max_workers_per_node=None, available_accelerators=1).workers_per_node == 1


def test_memory_per_worker_limits_workers_on_the_local_machine() -> None:
    from plait.providers import LocalProvider

    provider = LocalProvider()
    assert provider.mem_per_node is not None and provider.mem_per_node > 0
    assert provider.cores_per_node >= 1
    one_worker = provider.mem_per_node * 0.75  # GB: only one fits
    executor = make_htex(max_workers_per_node=None, mem_per_worker=one_worker, provider=provider)
    assert executor.workers_per_node == 1
    roomy = make_htex(max_workers_per_node=None, mem_per_worker=0.001, provider=LocalProvider())
    assert roomy.workers_per_node == provider.cores_per_node
