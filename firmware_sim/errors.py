"""The simulator's errors::

SimulatorError       a request that cannot be served (an unknown device, a kind without a model)
└── LinkDownError         a device's broker connection failed or was lost; its loop retries
"""

from __future__ import annotations

__all__ = ["LinkDownError", "SimulatorError"]


class SimulatorError(Exception):
    def __init__(self, message: str, *, device: str | None = None) -> None:
        self.device = device
        super().__init__(f"{device}: {message}" if device else message)


class LinkDownError(SimulatorError):
    """The broker is unreachable or the connection broke (translated from aiomqtt)."""
