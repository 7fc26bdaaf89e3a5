"""What every page shares: the document around it, tables, pagination, formatting.

Pages are server-rendered tables plus chart placeholders: a ``<div data-chart
data-src=URL>`` that the page script fills from a JSON endpoint. Elements with
``data-live`` are what the page script swaps in when the database changes (see
``static/plait-web.js``); their ``id`` must be stable. No database access here:
pages are rendered from query results.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from plait_monitoring.web import urls
from plait_monitoring.web.assets import PLOTLY_JS, Assets
from plait_monitoring.web.charts import state_color
from plait_monitoring.web.html import Child, Html, el, join, raw
from plait_monitoring.web.queries import Version, Workflow

#: rows of a paginated table
PER_PAGE = 50
#: the most ids listed in one cell before "and N more"
IDS_SHOWN = 5


@dataclass(frozen=True)
class Pagination:
    """Page ``page`` (from 1) of ``total`` rows, ``per_page`` at a time."""

    page: int
    total: int
    per_page: int = PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def document(
    title: str,
    crumbs: Sequence[tuple[str, str | None]],
    body: Child,
    assets: Assets,
    *,
    version: Version | None = None,
    version_src: str | None = None,
    charts: bool = False,
) -> Html:
    """A whole page. ``crumbs`` are (text, link) after the home link; with
    ``version``, the page script polls ``version_src`` while ``version.live``."""
    scripts = ([PLOTLY_JS] if charts else []) + (["plait-web.js"] if charts or version else [])
    head = el(
        "head",
        raw('<meta charset="utf-8">'),
        el("meta", name="viewport", content="width=device-width, initial-scale=1"),
        el("title", f"{title} · plait monitoring"),
        el("link", rel="icon", href="data:,"),
        el("link", rel="stylesheet", href=assets.url("plait-web.css")),
        [el("script", src=assets.url(name), defer=True) for name in scripts],
    )
    trail: list[Child] = [el("a", "plait monitoring", href=urls.workflows(), class_="home")]
    for text, link in crumbs:
        trail += [
            el("span", raw("&rsaquo;"), class_="sep"),
            el("a", text, href=link) if link else text,
        ]
    page = el(
        "body",
        el("header", el("nav", trail)),
        el("main", body),
        data_version=version.version if version else None,
        data_live="1" if version and version.live else "0",
        data_version_src=version_src,
    )
    return Html("<!doctype html>\n" + el("html", head, page, lang="en"))


def error_page(status: int, message: str, assets: Assets) -> Html:
    """A page that says what went wrong (``message`` is escaped like any text)."""
    return document(
        f"{status}", [], [el("h1", f"{status}"), el("p", message, class_="error")], assets
    )


# -- pieces ------------------------------------------------------------------


def fmt_time(value: datetime.datetime | None) -> str:
    return "" if value is None else value.isoformat(sep=" ", timespec="milliseconds")


def fmt_seconds(seconds: float | None) -> str:
    """``seconds`` for people: 0.042 s, 12.3 s, 4 min 05 s, 2 h 07 min."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def duration(start: datetime.datetime | None, end: datetime.datetime | None) -> str:
    if start is None or end is None:
        return ""
    return fmt_seconds((end - start).total_seconds())


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return ""
    units = ("B", "KB", "MB", "GB", "TB")
    step = 0
    while abs(n) >= 1024 and step < len(units) - 1:
        n, step = n / 1024, step + 1
    return f"{n:.0f} B" if step == 0 else f"{n:.1f} {units[step]}"


def badge(state: str | None) -> Html:
    """A state name on its state's colour."""
    name = state or "unknown"
    return el("span", name, class_="badge", style=f"background:{state_color(name)}")


def table(headers: Sequence[Child], rows: Iterable[Sequence[Child]], **attrs: str) -> Html:
    head = el("thead", el("tr", [el("th", h) for h in headers]))
    body = el("tbody", [el("tr", [el("td", cell) for cell in row]) for row in rows])
    return el("table", head, body, **attrs)


def first_line(text: str | None, limit: int = 200) -> str:
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def pager(p: Pagination, link: Callable[[int], str], what: str) -> Html:
    """Which rows a table shows ("runs 51 to 100 of 230"), with previous/next links."""
    if p.total == 0:
        return Html("")
    if p.offset >= p.total:
        return el(
            "p",
            f"Page {p.page} is past the end; ",
            el("a", "last page", href=link(p.pages)),
            class_="pager",
        )
    last = min(p.offset + p.per_page, p.total)
    parts: list[Child] = [f"{what} {p.offset + 1:,} to {last:,} of {p.total:,}"]
    if p.pages > 1:
        if p.page > 1:
            parts.append(el("a", raw("&lsaquo; previous"), href=link(p.page - 1), rel="prev"))
        parts.append(f"page {p.page} of {p.pages}")
        if p.page < p.pages:
            parts.append(el("a", raw("next &rsaquo;"), href=link(p.page + 1), rel="next"))
    return el("p", [el("span", part) for part in parts], class_="pager")


def task_links(run_id: str, ids: Sequence[int], limit: int = IDS_SHOWN) -> Html:
    shown = [el("a", str(i), href=urls.task(run_id, i)) for i in ids[:limit]]
    more = f" and {len(ids) - limit:,} more" if len(ids) > limit else ""
    return join([join(_between(shown, ", ")), more])


def _between(items: Sequence[Html], separator: str) -> list[Child]:
    out: list[Child] = []
    for i, item in enumerate(items):
        if i:
            out.append(separator)
        out.append(item)
    return out


def chart(chart_id: str, src: str, label: str) -> Html:
    """A chart placeholder the page script draws from ``src``, with a note line under it."""
    return join(
        [
            el("div", id=chart_id, class_="chart", data_chart=True, data_src=src, aria_label=label),
            el("p", class_="note", data_note_for=chart_id),
        ]
    )


def run_status(wf: Workflow) -> Html:
    if wf.completed is None:
        return el(
            "span", "running", class_="badge running", title="or ended without closing its hub"
        )
    return el("span", f"ended after {duration(wf.began, wf.completed)}", class_="muted")
