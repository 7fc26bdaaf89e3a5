"""A workflow run as its own process by the tests: ``python record_workflow.py DB RUNS N``
runs N tasks recorded into database DB, and prints its run id."""

from __future__ import annotations

import sys

import plait
from plait import Config, ThreadPoolExecutor
from plait_monitoring import MonitoringHub


@plait.python_app
def square(x: int) -> int:
    return x * x


def main(db_url: str, runs_root: str, n: int) -> None:
    hub = MonitoringHub(db_url=db_url, workflow_name="concurrent")
    config = Config(
        executors=[ThreadPoolExecutor(max_threads=4)], run_dir=runs_root, monitoring=hub
    )
    with plait.load(config) as dfk:
        assert sum(f.result() for f in [square(i) for i in range(n)]) == sum(
            i * i for i in range(n)
        )
        print(dfk.run_id)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
