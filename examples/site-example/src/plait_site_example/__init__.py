"""An example site package: named configurations for the example cluster."""

from plait_site_example.sites import example_cluster

__all__ = ["example_cluster"]
