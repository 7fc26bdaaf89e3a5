"""plait-monitoring: records what a workflow did, as it runs, in SQLite or PostgreSQL.

``Config(monitoring=MonitoringHub())`` records every task, try, state change and
block of the run in Parsl's tables (``workflow``, ``task``, ``try``, ``status``,
``block``, ``node``, ``resource``), by default in ``<run_dir>/monitoring.db``;
``plait monitoring summary`` reads them back.
"""

from plait_monitoring.errors import MonitoringError, SchemaError
from plait_monitoring.hub import MonitoringHub

__all__ = ["MonitoringError", "MonitoringHub", "SchemaError"]
