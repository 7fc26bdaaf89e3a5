"""The UI's URLs, made in one place so pages, charts and the router agree."""

from __future__ import annotations

from urllib.parse import quote, urlencode


def workflows(page: int = 1) -> str:
    return "/" + (f"?page={page}" if page > 1 else "")


def workflow(run_id: str, **params: str | int | None) -> str:
    return f"/workflow/{quote(run_id, safe='')}" + _query(params)


def tasks(run_id: str, **params: str | int | None) -> str:
    return workflow(run_id) + "/tasks" + _query(params)


def task(run_id: str, task_id: int) -> str:
    return f"{workflow(run_id)}/task/{task_id}"


def api(run_id: str, what: str, **params: str | int | None) -> str:
    """A JSON endpoint of run ``run_id``: ``gantt``, ``timeline`` or ``dag``."""
    return f"/api/workflow/{quote(run_id, safe='')}/{what}" + _query(params)


def task_resources(run_id: str, task_id: int) -> str:
    return f"/api/workflow/{quote(run_id, safe='')}/task/{task_id}/resources"


def version(run_id: str | None = None, task_id: int | None = None) -> str:
    return "/api/version" + _query({"run": run_id, "task": task_id})


def _query(params: dict[str, str | int | None]) -> str:
    kept = {k: v for k, v in params.items() if v is not None and v != ""}
    return f"?{urlencode(kept)}" if kept else ""
