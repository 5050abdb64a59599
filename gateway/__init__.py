"""MQTT in: payload decoding and validation, adapters from foreign formats (Zigbee2MQTT, Tasmota,
Shelly Gen2), presence from status topics and bridges' Last Wills, and the dead-letter path. It
hands columnar reading batches to a sink and acknowledges messages to the broker only after the
sink has stored them; it does not know which store that is. The topic scheme it reads is a wire
contract shared with the simulator: `core.topics`.

The broker session (`BrokerLink`) and the service built on it (`Gateway`) are loaded on first
use, so a program that only decodes payloads (a replay, a test, a benchmark) does not load them.
"""

import importlib
import typing

from gateway.bridges import BridgeRoster
from gateway.codec import TimeWindow, decode_event, decode_status, decode_telemetry
from gateway.errors import BrokerError, GatewayError, PayloadError

if typing.TYPE_CHECKING:
    from gateway.link import BrokerLink, Inbound
    from gateway.service import Gateway, GatewaySink, GatewayStats

__all__ = [
    "BridgeRoster",
    "BrokerError",
    "BrokerLink",
    "Gateway",
    "GatewayError",
    "GatewaySink",
    "GatewayStats",
    "Inbound",
    "PayloadError",
    "TimeWindow",
    "decode_event",
    "decode_status",
    "decode_telemetry",
]

# Exported name -> the module that defines it, for the names that need paho (PEP 562).
_ON_FIRST_USE = {
    "BrokerLink": "gateway.link",
    "Inbound": "gateway.link",
    "Gateway": "gateway.service",
    "GatewaySink": "gateway.service",
    "GatewayStats": "gateway.service",
}


def __getattr__(name: str) -> object:
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
