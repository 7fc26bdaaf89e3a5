"""Building HTML so that every value from the database is escaped by construction.

Pages are written as nested :func:`el` calls. Plain strings (and anything that
is not :class:`Html`) are escaped where they are inserted, as text or as
attribute values; only :class:`Html` (what :func:`el` and :func:`raw` return)
passes through unchanged. So a workflow named ``<script>`` shows as text, and
no page code has to remember to escape.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import TypeAlias


class Html(str):
    """Markup that is already safe to insert as is."""

    __slots__ = ()


#: what may stand as an element's child: text, markup, numbers, nothing, or several of them
Child: TypeAlias = "Html | str | int | float | Iterable[Child] | None"
#: an attribute value: text, a number, True (present without a value), or False/None (absent)
AttrValue: TypeAlias = "str | int | float | bool | None"

_VOID = frozenset({"br", "hr", "img", "input", "link", "meta", "col"})


def raw(markup: str) -> Html:
    """``markup`` trusted as is: only for constant strings written in this package."""
    return Html(markup)


def text(value: object) -> Html:
    """``value`` as escaped text."""
    if isinstance(value, Html):
        return value
    return Html(escape(str(value), quote=False))


def el(tag: str, *children: Child, **attrs: AttrValue) -> Html:
    """The element ``<tag attrs>children</tag>``.

    Attribute names are Python names: a trailing ``_`` is dropped (``class_``)
    and ``_`` becomes ``-`` (``data_src`` -> ``data-src``).
    """
    parts = [f"<{tag}"]
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        key = name.rstrip("_").replace("_", "-")
        if value is True:
            parts.append(f" {key}")
        else:
            parts.append(f' {key}="{escape(str(value), quote=True)}"')
    parts.append(">")
    if tag in _VOID:
        return Html("".join(parts))
    parts.extend(_children(children))
    parts.append(f"</{tag}>")
    return Html("".join(parts))


def join(children: Iterable[Child]) -> Html:
    """``children`` side by side, escaped as :func:`el` escapes them."""
    return Html("".join(_children(children)))


def _children(children: Iterable[Child]) -> Iterable[str]:
    for child in children:
        if child is None:
            continue
        if isinstance(child, str | int | float):
            yield text(child)
        else:
            yield from _children(child)
