"""The ``example`` entry point: registers the site's named configurations."""

from __future__ import annotations

from typing import Any

import plait


@plait.hookimpl
def plait_register_site_configs(registry: Any) -> None:
    """``example-cluster``: HTEX on the example Slurm cluster."""
    from plait_site_example.sites import example_cluster

    registry.add_site(
        "example-cluster", example_cluster, "HTEX on the example Slurm cluster (partition debug)"
    )
