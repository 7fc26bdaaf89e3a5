"""Per-worker CPU affinity and accelerator assignment (pure functions).

The manager asks :func:`worker_environment` for each worker it starts and applies
the result: environment variables, and a CPU set for ``os.sched_setaffinity``.
"""

from __future__ import annotations

from collections.abc import Sequence

AFFINITY_MODES = ("none", "block", "alternating", "block-reverse")


def parse_accelerators(value: int | str | Sequence[str]) -> list[str]:
    """``available_accelerators`` as a list of device names: a count ``n`` means
    ``["0", ..., "n-1"]``; a list may name one device several times (workers share it)."""
    if isinstance(value, int):
        return [str(i) for i in range(value)]
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return [str(v) for v in value]


def cpu_sets(mode: str, workers: int, cpus: Sequence[int]) -> list[list[int] | None]:
    """The CPUs each of ``workers`` workers is pinned to under ``mode``.

    ``none``: no pinning. ``block``: consecutive CPUs, ``len(cpus) // workers`` each.
    ``block-reverse``: the same from the last CPU down. ``alternating``: worker i
    gets CPUs i, i + workers, i + 2 * workers, ... ``list:0,1:2,3``: explicit sets
    separated by ``:``, one per worker.

    :raises ValueError: an unknown mode, or an explicit list with too few sets.
    """
    if mode == "none":
        return [None] * workers
    if mode.startswith("list:"):
        sets = [[int(c) for c in part.split(",") if c] for part in mode[5:].split(":")]
        if len(sets) < workers:
            raise ValueError(
                f"cpu_affinity {mode!r} lists {len(sets)} CPU sets for {workers} workers; "
                "give one set per worker"
            )
        return list(sets[:workers])
    if mode not in AFFINITY_MODES:
        raise ValueError(
            f"cpu_affinity {mode!r} is not one of {', '.join(AFFINITY_MODES)} or 'list:...'"
        )
    ordered = list(cpus)
    if mode == "alternating":
        return [ordered[i::workers] or None for i in range(workers)]
    if mode == "block-reverse":
        ordered = ordered[::-1]
    per = max(1, len(ordered) // max(1, workers))
    return [ordered[i * per : (i + 1) * per] or None for i in range(workers)]


def worker_environment(
    index: int, accelerators: Sequence[str], cpu_set: list[int] | None
) -> dict[str, str]:
    """Environment variables for worker ``index``: its accelerator and its thread count."""
    env: dict[str, str] = {}
    if accelerators:
        device = accelerators[index % len(accelerators)]
        for name in ("CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "ZE_AFFINITY_MASK"):
            env[name] = device
        env["ZE_ENABLE_PCI_ID_DEVICE_ORDER"] = "1"
    if cpu_set:
        cpus = ",".join(str(c) for c in cpu_set)
        env["OMP_NUM_THREADS"] = str(len(cpu_set))
        env["GOMP_CPU_AFFINITY"] = cpus
        env["KMP_AFFINITY"] = f"explicit,proclist=[{cpus}]"
    return env
