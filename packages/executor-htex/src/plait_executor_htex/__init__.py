"""plait's HighThroughputExecutor: pilot-job workers fed by an interchange over ZeroMQ."""

from plait_executor_htex.errors import (
    InterchangeLost,
    ManagerLost,
    RemoteError,
    VersionMismatch,
    WorkerLost,
)
from plait_executor_htex.executor import HighThroughputExecutor

__all__ = [
    "HighThroughputExecutor",
    "InterchangeLost",
    "ManagerLost",
    "RemoteError",
    "VersionMismatch",
    "WorkerLost",
]
