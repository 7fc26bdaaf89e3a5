"""The monitoring web UI: ``plait monitoring serve``.

Pages over a monitoring database (SQLite or PostgreSQL): the workflows, one
workflow (task states, Gantt chart of tries, tasks over time, the DAG,
failures with their root causes, blocks and nodes), one task (tries, errors,
resource use). They refresh while the workflow runs, draw their charts with
the plotly.js that the plotly package bundles (no internet needed), and are
served by the standard library's HTTP server.
"""

from plait_monitoring.web.server import MonitoringWebServer, serve

__all__ = ["MonitoringWebServer", "serve"]
