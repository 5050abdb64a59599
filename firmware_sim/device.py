"""One simulated device: its model, the wire format it speaks and what it has done.

A device does not own a task or a connection: the connection that carries it (its own, or a
bridge's) asks it for a reading when its schedule says so. Reading and delivering are separate
because real firmware is: the sensor keeps sampling while the network is down and the device or
its bridge sends the buffer when the broker is back, so a broker outage means late delivery, not
a gap. `seq` counts readings taken, so a gap in `seq` at the gateway means readings were lost
(a full buffer, or taken while the device was cut off by an offline fault).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from core.model import Device
from firmware_sim.models import DeviceModel
from firmware_sim.wire import DeviceWire, Message

__all__ = ["DeviceCounters", "SimulatedDevice"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DeviceCounters:
    published: int = 0  # telemetry and event messages the broker acknowledged
    connects: int = 0  # times the connection carrying the device came up
    lost: int = 0  # messages dropped from a full outbox
    sample_errors: int = 0
    offline_readings: int = 0  # taken while cut off by an offline fault, never sent
    unencodable: int = 0  # readings and events the device's wire format has no message for


class SimulatedDevice:
    """A device of the site config with its model; `sample` reads it at an instant."""

    __slots__ = ("counters", "device", "dropped", "model", "reachable", "seq", "wire")

    def __init__(
        self, device: Device, model: DeviceModel, wire: DeviceWire, counters: DeviceCounters
    ) -> None:
        self.device = device
        self.model = model
        self.wire = wire
        self.counters = counters
        self.seq = 0
        self.reachable = True  # as last published: False while an offline fault cuts it off
        self.dropped = False  # stopped for good (Fleet.drop)

    def is_reachable(self, at: datetime) -> bool:
        try:
            return self.model.reachable(at)
        except Exception:
            self._model_failed("could not say whether it is reachable")
            return True

    def sample(self, at: datetime, at_ms: int) -> list[Message] | None:
        """Read the model at `at` (= `at_ms`): its events then its telemetry, as messages in its
        wire format. None if the model failed (logged once, counted every time)."""
        try:
            metrics = self.model.step_to(at)
            events = self.model.take_events()
        except Exception:
            self._model_failed("failed to produce a reading")
            return None
        messages: list[Message] = []
        for event in events:
            self._add(messages, self.wire.event(event))
        self._add(messages, self.wire.telemetry(at, at_ms, self.seq, metrics))
        self.seq += 1
        return messages

    def _add(self, messages: list[Message], message: Message | None) -> None:
        if message is None:
            self.counters.unencodable += 1
        else:
            messages.append(message)

    def _model_failed(self, what: str) -> None:
        # A model bug must not stop the device or the fleet: log it once, count every one.
        if self.counters.sample_errors == 0:
            log.exception("%s: the model %s", self.device.id, what)
        self.counters.sample_errors += 1
