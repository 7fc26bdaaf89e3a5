"""The example site package: found through its entry point, and a workflow runs through it
on the private Slurm cluster."""

from __future__ import annotations

from pathlib import Path

import importlib_metadata

import plait
from plait.perf import _inc
from plait.plugins import Plugins
from plait_provider_slurm.testing import SlurmCluster, slurm_cluster, slurm_conf

__all__ = ["slurm_cluster", "slurm_conf"]


def test_site_config_is_registered_through_the_entry_point() -> None:
    plugins = Plugins()
    site = plugins.site_configs.site("example-cluster")
    assert site.factory.__module__ == "plait_site_example.sites"
    assert plugins.site_configs.source("example-cluster").distribution == "plait-site-example"
    names = {ep.name for ep in importlib_metadata.entry_points(group="plait")}
    assert "example" in names


def test_workflow_runs_on_the_cluster_by_site_name(
    slurm_conf: SlurmCluster, tmp_path: Path
) -> None:
    with plait.load(
        "example-cluster",
        heartbeat_period=0.5,
        heartbeat_threshold=5,
        run_dir=str(tmp_path / "runinfo"),
    ) as dfk:
        executor = dfk.executors["example-cluster"]
        assert type(executor.provider).__name__ == "SlurmProvider"  # type: ignore[attr-defined]
        assert [_inc(i).result(timeout=120) for i in range(3)] == [1, 2, 3]
        jobs = [job for job in executor.blocks.values() if job]  # type: ignore[attr-defined]
        assert jobs
    config = plait.Config.from_dict(
        {"site": "example-cluster", "site_options": {"max_blocks": 3}, "retries": 2}
    )
    assert config.retries == 2 and config.executors[0].provider.max_blocks == 3  # type: ignore[attr-defined]
