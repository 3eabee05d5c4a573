"""hedge-monitor: live risk monitor for crypto holdings hedged with futures."""

__version__ = "0.1.0"
