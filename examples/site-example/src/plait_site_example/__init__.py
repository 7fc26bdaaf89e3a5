"""An example site package: named configurations for the example cluster.

The entry point names :mod:`plait_site_example.plugin`, which imports the site
configs only when the hook runs, so loading the plugin stays cheap.
"""
