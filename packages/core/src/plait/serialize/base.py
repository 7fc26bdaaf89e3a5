"""The serializer contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar


class Serializer(ABC):
    """Turns objects into bytes and back.

    :cvar plugin_name: the registry name, written in every payload's header.
    """

    plugin_name: ClassVar[str]

    @abstractmethod
    def serialize(self, obj: Any) -> bytes:
        """``obj`` as bytes; raise any exception if it cannot be serialized."""

    @abstractmethod
    def deserialize(self, data: bytes | memoryview) -> Any:
        """The object ``data`` was made from (a view of the received bytes)."""

    def accepts(self, obj: Any) -> bool:
        """Whether this serializer wants to try ``obj`` (used to pick one per object)."""
        return True
