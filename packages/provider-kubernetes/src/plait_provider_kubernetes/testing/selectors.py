"""Label and field selectors as kube-apiserver reads them, for the emulator.

Label selectors: comma-separated requirements ``key``, ``!key``, ``key=value``,
``key==value``, ``key!=value``, ``key in (a,b)``, ``key notin (a,b)``. Field selectors
for pods: ``metadata.name``, ``metadata.namespace``, ``spec.nodeName``,
``spec.restartPolicy`` and ``status.phase`` with ``=``, ``==`` or ``!=``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Matcher = Callable[[Mapping[str, Any]], bool]

_SET = re.compile(r"^(?P<key>[^\s!=(),]+)\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$")
_EQUALITY = re.compile(r"^(?P<key>[^\s!=(),]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)$")
_EXISTS = re.compile(r"^(?P<neg>!?)\s*(?P<key>[^\s!=(),]+)$")
_FIELDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "metadata.name": lambda pod: str((pod.get("metadata") or {}).get("name") or ""),
    "metadata.namespace": lambda pod: str((pod.get("metadata") or {}).get("namespace") or ""),
    "spec.nodeName": lambda pod: str((pod.get("spec") or {}).get("nodeName") or ""),
    "spec.restartPolicy": lambda pod: str((pod.get("spec") or {}).get("restartPolicy") or ""),
    "status.phase": lambda pod: str((pod.get("status") or {}).get("phase") or ""),
}


class SelectorError(ValueError):
    """A selector the API server would refuse (400 BadRequest)."""


def _requirements(selector: str) -> list[str]:
    """Split on the commas outside parentheses."""
    parts: list[str] = []
    depth, current = 0, ""
    for char in selector:
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    parts.append(current.strip())
    return [part for part in parts if part]


def _label_test(requirement: str) -> Callable[[Mapping[str, str]], bool]:
    """One requirement of a label selector as a test of a label dict."""
    if match := _SET.match(requirement):
        key, values = match["key"], {v.strip() for v in match["values"].split(",")}
        wanted = match["op"] == "in"
        return lambda labels: (labels.get(key) in values) == wanted
    if match := _EQUALITY.match(requirement):
        key, value, equal = match["key"], match["value"], match["op"] != "!="
        return lambda labels: (labels.get(key) == value) == equal
    if match := _EXISTS.match(requirement):
        key, present = match["key"], not match["neg"]
        return lambda labels: (key in labels) == present
    raise SelectorError(f"unable to parse requirement: {requirement!r}")


def label_matcher(selector: str) -> Matcher:
    """A test of an object's ``metadata.labels`` against ``selector``.

    :raises SelectorError: the API server's words for a selector it cannot parse.
    """
    tests = [_label_test(requirement) for requirement in _requirements(selector)]

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(test(labels) for test in tests)

    return matches


def _field_test(requirement: str) -> Matcher:
    """One requirement of a field selector as a test of a pod."""
    match = _EQUALITY.match(requirement)
    if match is None:
        raise SelectorError(f"invalid selector: {requirement!r}; can't understand it")
    getter = _FIELDS.get(match["key"])
    if getter is None:
        raise SelectorError(f'"{match["key"]}" is not a known field selector for pods')
    value, equal = match["value"], match["op"] != "!="
    return lambda pod: (getter(pod) == value) == equal


def field_matcher(selector: str) -> Matcher:
    """A test of a pod's fields against ``selector``.

    :raises SelectorError: a requirement that is not ``field=value`` or a field the API
        does not index for pods.
    """
    tests = [_field_test(requirement) for requirement in _requirements(selector)]
    return lambda pod: all(test(pod) for test in tests)
