"""Every hook is documented (where it runs, its parameters), in the tutorial, and tested."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from plait.plugins import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("plait_"))


def test_the_issue_hooks_exist() -> None:
    assert {
        "plait_register_executors",
        "plait_register_providers",
        "plait_register_launchers",
        "plait_register_staging",
        "plait_register_serializers",
        "plait_register_site_configs",
        "plait_workflow_started",
        "plait_workflow_finished",
        "plait_task_state_changed",
        "plait_block_state_changed",
    } <= set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented(name: str) -> None:
    hook = getattr(hookspecs, name)
    doc = inspect.getdoc(hook) or ""
    assert "Runs in: the submitting process" in " ".join(doc.split())
    for param in inspect.signature(hook).parameters:
        assert f":param {param}:" in doc
    assert inspect.signature(hook).return_annotation in ("None", None)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_in_the_plugin_tutorial(name: str) -> None:
    assert f"`{name}`" in (ROOT / "docs" / "writing-a-plugin.md").read_text()


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_tested(name: str) -> None:
    tests = [
        p
        for d in ("packages", "examples", "tests")
        for p in (ROOT / d).rglob("test_*.py")
        if p.name != Path(__file__).name and name in p.read_text()
    ]
    # Registration hooks are exercised by every registry lookup; each must still
    # appear by name in at least one test that implements it.
    assert tests, f"no test implements or names {name}"
