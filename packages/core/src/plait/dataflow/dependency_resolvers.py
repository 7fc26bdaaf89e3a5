"""Parsl's dependency resolver names, for configs that set one.

plait always looks for futures inside lists, tuples, sets, frozensets and dicts
(Parsl's "deep" resolver). Both names are accepted by ``Config`` so a Parsl
config ports unchanged; a future nested in a container is always waited for.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DependencyResolver:
    """A named resolution policy (kept for Parsl compatibility)."""

    name: str


DEEP_DEPENDENCY_RESOLVER = DependencyResolver("deep")
SHALLOW_DEPENDENCY_RESOLVER = DependencyResolver("shallow")
