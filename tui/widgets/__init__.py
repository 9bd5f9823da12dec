"""The dashboard's own widgets: rates with sparklines, and the hub's components' health."""

from .health import HealthPanel
from .rates import RatesPanel

__all__ = ["HealthPanel", "RatesPanel"]
