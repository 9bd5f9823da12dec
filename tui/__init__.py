"""The duty officer's Textual dashboard; reads the store, never secrets."""

from .app import Dashboard

__all__ = ["Dashboard"]
