"""docs/writing-a-plugin.md quotes this package's files verbatim; keep them in step."""

from __future__ import annotations

from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]
GUIDE = PACKAGE.parents[1] / "docs" / "writing-a-plugin.md"
QUOTED = [
    "pyproject.toml",
    "src/plait_provider_toy/plugin.py",
    "src/plait_provider_toy/provider.py",
    "tests/test_toy_contract.py",
]


@pytest.mark.parametrize("relative", QUOTED)
def test_guide_quotes_file_verbatim(relative: str) -> None:
    if not GUIDE.exists():
        pytest.skip("not inside the plait repository")
    text = (PACKAGE / relative).read_text().rstrip("\n")
    assert text in GUIDE.read_text(), (
        f"docs/writing-a-plugin.md no longer quotes {relative} as it is; update the guide"
    )
