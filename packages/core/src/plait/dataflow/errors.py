"""Dataflow errors at their Parsl path (``parsl.dataflow.errors``)."""

from plait.errors import (
    BadCheckpoint,
    DataFlowException,
    DependencyError,
    JoinError,
    PropagatedException,
)

__all__ = [
    "BadCheckpoint",
    "DataFlowException",
    "DependencyError",
    "JoinError",
    "PropagatedException",
]
