"""The shortest path through the kernel: an app call returns a future with the result."""

import plait


@plait.python_app
def double(x: int) -> int:
    return 2 * x


def test_app_call_returns_result(dfk) -> None:  # type: ignore[no-untyped-def]
    assert double(21).result(timeout=10) == 42
