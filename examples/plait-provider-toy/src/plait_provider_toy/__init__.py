"""An example plait provider plugin."""

from plait_provider_toy.provider import ToyProvider

__all__ = ["ToyProvider"]
