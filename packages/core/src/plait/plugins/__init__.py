"""The plugin contract: pluggy hooks under the project name ``plait``.

A plugin is any module or object registered with plait's plugin manager,
normally through an entry point in the ``plait`` group::

    [project.entry-points.plait]
    toy = "plait_provider_toy.plugin"

and implementing hooks from :mod:`plait.plugins.hookspecs`, marked with
:data:`hookimpl`. Core itself registers its threads executor, local provider,
launchers, serializers and staging through the same hooks
(:mod:`plait.plugins.builtin`).

Nothing outside :mod:`plait.plugins.manager` calls ``pm.hook`` directly: core
talks to plugins through the typed facade returned by :func:`get_plugins`.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "plait"
ENTRY_POINT_GROUP = "plait"

#: Mark a function as an implementation of a plait hook.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
#: Mark a function as a hook specification (used by :mod:`plait.plugins.hookspecs`).
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

from plait.plugins.errors import (  # noqa: E402
    DuplicatePluginError,
    PluginError,
    PluginLoadError,
    UnknownPluginError,
)
from plait.plugins.manager import PluginInfo, Plugins, get_plugins, use_plugins  # noqa: E402
from plait.plugins.registry import Registry, SiteConfigRegistry  # noqa: E402

__all__ = [
    "ENTRY_POINT_GROUP",
    "PROJECT_NAME",
    "DuplicatePluginError",
    "PluginError",
    "PluginInfo",
    "PluginLoadError",
    "Plugins",
    "Registry",
    "SiteConfigRegistry",
    "UnknownPluginError",
    "get_plugins",
    "hookimpl",
    "hookspec",
    "use_plugins",
]
