"""Workers never scan entry points: hooks run only in the submitting process."""

from __future__ import annotations

import os
from typing import Any

from htex_feature_apps import plugin_scan_state


def test_workers_never_build_the_plugin_manager(htex: Any) -> None:
    htex()
    state = plugin_scan_state().result(timeout=60)
    assert state["pid"] != os.getpid()
    assert state["scanned"] is False
    assert state["importlib_metadata_loaded"] is False
