"""The module the ``toy`` entry point names: it only registers, so importing it is cheap."""

from __future__ import annotations

from typing import Any

import plait


@plait.hookimpl
def plait_register_providers(registry: Any) -> None:
    """Register ``ToyProvider`` under its ``plugin_name``, ``toy``."""
    from plait_provider_toy.provider import ToyProvider

    registry.add(ToyProvider)
