"""Apps defined in the user's script (``__main__``), the way most workflows are written.

Workers cannot import a script, so its apps travel by value. Each test runs a
real script in its own interpreter, as a user does, on real HTEX workers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from htex_helpers import CLEANUP_LIMIT, HB_PERIOD, HB_THRESHOLD, TASK_TIMEOUT

SCRIPT = """
import sys
import plait
from plait import python_app
from plait.config import Config
from plait_executor_htex import HighThroughputExecutor

OFFSET = 100
TABLE = [1, 2, 3]


def helper(x):
    return x + OFFSET


def plain(x):  # made an app below by a call, not a decorator
    return helper(x)


@python_app
def decorated(i):
    return TABLE[i]


class Point:
    def __init__(self, x):
        self.x = x


@python_app
def move(p):
    return Point(p.x + 1)


config = Config(
    executors=[HighThroughputExecutor(heartbeat_period={hb}, heartbeat_threshold={threshold})],
    run_dir=sys.argv[1],
)
with plait.load(config):
    as_call = python_app(plain)
    print("call", as_call(1).result(timeout={timeout}))
    print("decorated", [f.result(timeout={timeout}) for f in [decorated(i) for i in range(3)]])
    TABLE[0] = 42  # changed in place between submissions: the next task sees it
    OFFSET = 1000  # rebound: so does this
    print("changed", decorated(0).result(timeout={timeout}), as_call(1).result(timeout={timeout}))
    print("class", move(Point(1)).result(timeout={timeout}).x)
"""


@pytest.mark.timeout(120)
def test_script_apps_run_and_see_the_script_as_it_is_now(tmp_path: Path) -> None:
    script = tmp_path / "workflow.py"
    script.write_text(SCRIPT.format(hb=HB_PERIOD, threshold=HB_THRESHOLD, timeout=TASK_TIMEOUT))
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "runinfo")],
        capture_output=True,
        text=True,
        timeout=3 * TASK_TIMEOUT + CLEANUP_LIMIT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "call 101",
        "decorated [1, 2, 3]",
        "changed 42 1001",
        "class 2",
    ]
