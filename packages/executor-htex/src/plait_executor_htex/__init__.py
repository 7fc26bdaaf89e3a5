"""plait's HighThroughputExecutor: pilot-job workers fed by an interchange over ZeroMQ."""

from plait_executor_htex.errors import InterchangeLost, ManagerLost, VersionMismatch, WorkerLost
from plait_executor_htex.executor import HighThroughputExecutor

__all__ = [
    "HighThroughputExecutor",
    "InterchangeLost",
    "ManagerLost",
    "VersionMismatch",
    "WorkerLost",
]
