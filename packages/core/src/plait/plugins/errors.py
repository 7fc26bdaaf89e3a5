"""Errors of the plugin system: each names what is installed and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from plait.errors import PlaitError


class PluginError(PlaitError):
    """Base class of plugin-system errors."""


#: first-party names that a distribution of another name provides
FIRST_PARTY_EXTRAS: dict[tuple[str, str], str] = {
    ("monitoring", "progress"): "plait-monitoring",
    ("launcher", "srun"): "plait-provider-slurm",
    ("launcher", "srun-mpi"): "plait-provider-slurm",
    ("launcher", "mpiexec"): "plait-executor-mpi",
    ("launcher", "mpirun"): "plait-executor-mpi",
    ("launcher", "aprun"): "plait-executor-mpi",
    ("launcher", "jsrun"): "plait-executor-mpi",
}


def distribution_name(kind: str, name: str) -> str:
    """The distribution that would provide ``name``: the first-party one that does
    (:data:`FIRST_PARTY_EXTRAS`), else by the naming rule ``plait-<kind>-<name>``, or
    ``plait-<kind>`` for a plugin named after its kind (``plait-monitoring``
    provides monitoring ``monitoring``)."""
    known = FIRST_PARTY_EXTRAS.get((kind, name))
    if known is not None:
        return known
    return f"plait-{kind}" if name == kind else f"plait-{kind}-{name}"


def install_hint(kind: str, name: str) -> str:
    """The command that would install the distribution providing ``name``."""
    return f"pip install {distribution_name(kind, name)}"


class UnknownPluginError(PluginError, LookupError):
    """No installed plugin provides a name that was asked for.

    :param kind: the registry kind (``"executor"``, ``"provider"``, ...).
    :param name: the name asked for.
    :param installed: the names that are available.
    :param notes: extra lines, e.g. plugins that failed to load or are disabled.
    """

    def __init__(
        self, kind: str, name: str, installed: Iterable[str], notes: Iterable[str] = ()
    ) -> None:
        self.kind = kind
        self.name = name
        self.installed = sorted(installed)
        self.closest = next(iter(difflib.get_close_matches(name, self.installed, n=1)), None)
        self.notes = list(notes)
        super().__init__(kind, name)

    def __str__(self) -> str:
        listed = ", ".join(self.installed) if self.installed else "none"
        text = f"unknown {self.kind} {self.name!r}; installed {self.kind}s: {listed}."
        if self.closest:
            text += f" Did you mean {self.closest!r}?"
        text += (
            " If it comes from a separate package, install it "
            f"({install_hint(self.kind, self.name)})"
            " and check `plait plugins`."
        )
        for note in self.notes:
            text += f"\n  note: {note}"
        return text


class DuplicatePluginError(PluginError):
    """Two plugins registered the same name for one kind."""

    def __init__(self, kind: str, name: str, first: str, second: str) -> None:
        self.kind = kind
        self.name = name
        self.first = first
        self.second = second
        super().__init__(
            f"{kind} name {name!r} is registered twice: by {first} and by {second}. "
            "Uninstall one of them, or disable one with PLAIT_DISABLE_PLUGINS=<entry point name>."
        )


class PluginLoadError(PluginError):
    """A plugin could not be imported or failed while registering.

    The plugin is left out; every other plugin keeps working. The original
    exception is chained as ``__cause__``.

    :param plugin: the entry point name.
    :param distribution: the distribution that declared it.
    :param version: that distribution's version.
    :param error: the exception raised.
    """

    def __init__(self, plugin: str, distribution: str, version: str, error: BaseException) -> None:
        self.plugin = plugin
        self.distribution = distribution
        self.version = version
        self.error = error
        super().__init__(
            f"plugin {plugin!r} from {distribution} {version} failed to load: "
            f"{type(error).__name__}: {error}. Fix or upgrade {distribution}, or run without it: "
            f"PLAIT_DISABLE_PLUGINS={plugin}"
        )
        self.__cause__ = error
