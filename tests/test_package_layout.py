"""Every distribution in the monorepo has the same shape and follows the naming rule.

packages/core -> dist plait -> import plait; packages/<kind>-<name> -> dist
plait-<kind>-<name> -> import plait_<kind>_<name> -> entry point <name> in group plait;
a plugin named after its kind (packages/monitoring) has entry point <kind>.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
PLUGIN_PACKAGES = [
    *PACKAGES,
    ROOT / "examples" / "plait-provider-toy",
    ROOT / "examples" / "site-example",
]


def expected_names(directory: Path) -> tuple[str, str, str | None]:
    """(distribution, import package, entry point name) the rule gives a directory."""
    if directory.name == "core":
        return "plait", "plait", None
    dist = directory.name if directory.name.startswith("plait-") else f"plait-{directory.name}"
    kind, _, name = dist.removeprefix("plait-").partition("-")
    return dist, dist.replace("-", "_"), name or kind


@pytest.mark.parametrize("directory", PLUGIN_PACKAGES, ids=lambda p: p.name)
def test_package_shape(directory: Path) -> None:
    meta = tomllib.loads((directory / "pyproject.toml").read_text())
    dist, module, entry_point = expected_names(directory)
    assert meta["build-system"]["build-backend"] == "hatchling.build"
    assert meta["project"]["name"] == dist
    assert (directory / "src" / module / "py.typed").exists()
    assert (directory / "README.md").exists()
    assert (directory / "tests").is_dir()
    entry_points = meta["project"].get("entry-points", {}).get("plait", {})
    if entry_point is None:
        assert not entry_points, "core registers its built-ins directly, not by entry point"
    else:
        assert entry_points == {entry_point: f"{module}.plugin"}
        assert "plait" in meta["project"]["dependencies"][0]


def test_workspace_members_are_the_packages() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["tool"]["uv"]["workspace"]["members"] == ["packages/*"]
    assert "project" not in meta, "the workspace root is not published"


def test_core_never_imports_a_plugin_package() -> None:
    src = ROOT / "packages" / "core" / "src" / "plait"
    offenders = []
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith("plait_")]
    assert offenders == []
