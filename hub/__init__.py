"""The hub: the domain — admission, intake pipeline, receipts, deadlines, delivery, CLI, composition root."""

from .app import Hub
from .clock import Clock, FrozenClock, SystemClock
from .settings import Settings, load

__all__ = ["Clock", "FrozenClock", "Hub", "Settings", "SystemClock", "load"]
