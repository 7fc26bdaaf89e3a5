"""Registries of named plugin classes, one per kind.

A registration hook receives a :class:`Registry` and calls :meth:`Registry.add`
with classes that carry their selection name in a ``plugin_name`` class
attribute (hatchling's pattern). The registry records which plugin added each
name, so duplicates and unknown names produce errors that name distributions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from plait.plugins.errors import DuplicatePluginError, UnknownPluginError

if TYPE_CHECKING:
    from plait.config import Config

T = TypeVar("T")

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class Source:
    """Where a registered name came from."""

    plugin: str
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version} (plugin {self.plugin!r})"


_UNKNOWN_SOURCE = Source("?", "?", "?")


class Registry(Generic[T]):
    """Named classes of one kind, e.g. every executor class that is installed.

    :param kind: the kind's singular name, used in messages (``"executor"``).
    :param base: every class added must subclass this.
    """

    def __init__(self, kind: str, base: type[T]) -> None:
        self.kind = kind
        self.base = base
        self._classes: dict[str, type[T]] = {}
        self._sources: dict[str, Source] = {}
        self._current = _UNKNOWN_SOURCE
        self.notes: list[str] = []

    def add(self, cls: type[T]) -> None:
        """Register ``cls`` under its ``plugin_name`` class attribute.

        :raises TypeError: ``cls`` is not a subclass of the kind's base class or has
            no valid ``plugin_name``.
        :raises DuplicatePluginError: another plugin registered the same name.
        """
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(
                f"{self._current}: {cls!r} registered as a {self.kind} is not a subclass of "
                f"{self.base.__module__}.{self.base.__qualname__}"
            )
        name = getattr(cls, "plugin_name", None)
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise TypeError(
                f"{self._current}: {cls.__qualname__} needs a class attribute plugin_name, "
                f"a lowercase name such as 'my-{self.kind}' (got {name!r})"
            )
        if name in self._classes and self._classes[name] is not cls:
            raise DuplicatePluginError(
                self.kind,
                name,
                f"{self._sources[name]} -> {_qualified(self._classes[name])}",
                f"{self._current} -> {_qualified(cls)}",
            )
        self._classes[name] = cls
        self._sources[name] = self._current

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``.

        :raises UnknownPluginError: nothing is registered under ``name``; the
            message lists what is, the closest match and the package to install.
        """
        try:
            return self._classes[name]
        except KeyError:
            raise UnknownPluginError(self.kind, name, self._classes, self.notes) from None

    def source(self, name: str) -> Source:
        """Which plugin registered ``name``."""
        return self._sources[name]

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._classes)

    def items(self) -> Iterator[tuple[str, type[T]]]:
        """``(name, class)`` pairs, sorted by name."""
        for name in self.names():
            yield name, self._classes[name]

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __len__(self) -> int:
        return len(self._classes)

    def _set_source(self, source: Source) -> None:
        self._current = source


@dataclass(frozen=True)
class SiteConfig:
    """A named configuration shipped by a plugin (an HPC centre's site package).

    :param name: the name users select it by, e.g. ``"perlmutter-cpu"``.
    :param factory: builds a fresh :class:`~plait.config.Config`; keyword
        arguments (account, walltime, ...) are passed through.
    :param description: one line for ``plait plugins``.
    """

    name: str
    factory: Callable[..., Config]
    description: str = ""
    plugin_name = "site-config"


class SiteConfigRegistry(Registry[SiteConfig]):
    """Named site configurations; entries are :class:`SiteConfig` objects, not classes."""

    def __init__(self) -> None:
        super().__init__("site-config", SiteConfig)
        self._sites: dict[str, SiteConfig] = {}

    def add_site(self, name: str, factory: Callable[..., Config], description: str = "") -> None:
        """Register ``factory`` as the site configuration ``name``."""
        if not _NAME_RE.match(name):
            raise TypeError(f"{self._current}: site config name {name!r} must be lowercase")
        if name in self._sites:
            raise DuplicatePluginError(
                self.kind, name, str(self._sources[name]), str(self._current)
            )
        self._sites[name] = SiteConfig(name, factory, description)
        self._sources[name] = self._current
        self._classes[name] = SiteConfig

    def site(self, name: str) -> SiteConfig:
        """The site configuration registered as ``name``."""
        self.get(name)
        return self._sites[name]

    def build(self, name: str, **options: Any) -> Config:
        """A fresh Config from the site configuration ``name``."""
        return self.site(name).factory(**options)


def _qualified(cls: type[Any]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
