"""Serializers and the wire format that names them.

Every payload starts with a header naming its serializer's registered
``plugin_name``; :func:`unpack` dispatches only to serializers it is given (the
registered ones on the submitting side, an explicit list on workers), so a
payload can never make the receiver import a module it names in its header.
"""

from plait.serialize.base import Serializer
from plait.serialize.facade import pack, pack_apply, unpack, unpack_apply

__all__ = ["Serializer", "pack", "pack_apply", "unpack", "unpack_apply"]
