"""What a process (and the processes it started) uses now, read with psutil.

Executors call :func:`sample` where tasks run (a threads executor on its own
process, an HTEX worker on itself) every ``resource_interval`` seconds while a
task runs, and hand the dict to the kernel, which tells monitors
(``plait_resource_sampled``). The keys are Parsl's ``resource`` columns without
their ``psutil_process_`` prefix. psutil is imported only when sampling is on
(plait-monitoring depends on it); where it is missing, :func:`sampler` says so
once and sampling stays off.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

#: the keys of a sample, besides ``pid`` and ``hostname``
FIELDS = (
    "memory_percent",
    "children_count",
    "time_user",
    "time_system",
    "memory_virtual",
    "memory_resident",
    "disk_read",
    "disk_write",
    "status",
    "cpu_num",
    "num_ctx_switches_voluntary",
    "num_ctx_switches_involuntary",
)


def sampler(pid: int | None = None) -> Callable[[], dict[str, Any]] | None:
    """A function returning :func:`sample` of process ``pid`` (default: this one), or
    None when psutil is not installed here (logged once)."""
    try:
        import psutil
    except ImportError:
        logger.warning(
            "resource monitoring is on but psutil is not installed on %s: no resource "
            "samples from here (pip install psutil)",
            socket.gethostname(),
        )
        return None
    process = psutil.Process(pid if pid is not None else os.getpid())
    hostname = socket.gethostname()
    return lambda: sample(process, hostname)


def sample(process: Any, hostname: str) -> dict[str, Any]:
    """``process``'s use now, with its children's added in (a bash app's command is a
    child of the process that runs it)."""
    import psutil

    with process.oneshot():
        times = process.cpu_times()
        memory = process.memory_info()
        io = _io(process)
        switches = process.num_ctx_switches()
        values: dict[str, Any] = {
            "pid": process.pid,
            "hostname": hostname,
            "memory_percent": process.memory_percent(),
            "time_user": times.user + times.children_user,
            "time_system": times.system + times.children_system,
            "memory_virtual": memory.vms,
            "memory_resident": memory.rss,
            "disk_read": io[0],
            "disk_write": io[1],
            "status": process.status(),
            "cpu_num": str(process.cpu_num()),
            "num_ctx_switches_voluntary": switches.voluntary,
            "num_ctx_switches_involuntary": switches.involuntary,
        }
    children = []
    try:
        children = process.children(recursive=True)
    except psutil.Error:
        pass
    values["children_count"] = len(children)
    for child in children:
        try:
            with child.oneshot():
                times = child.cpu_times()
                memory = child.memory_info()
                io = _io(child)
        except psutil.Error:
            continue  # it ended meanwhile
        values["time_user"] += times.user
        values["time_system"] += times.system
        values["memory_virtual"] += memory.vms
        values["memory_resident"] += memory.rss
        values["disk_read"] += io[0]
        values["disk_write"] += io[1]
    return values


def _io(process: Any) -> tuple[int, int]:
    """Bytes read and written (0, 0 where the platform or permissions do not tell)."""
    import psutil

    try:
        counters = process.io_counters()
    except (psutil.Error, AttributeError):
        return 0, 0
    return counters.read_bytes, counters.write_bytes
