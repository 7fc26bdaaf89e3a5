"""``DataFuture`` at its Parsl path (``parsl.app.futures``)."""

from plait.dataflow.futures import DataFuture

__all__ = ["DataFuture"]
