"""Adapters from foreign wire formats that kitchens already run (Zigbee2MQTT, Tasmota, Shelly
Gen2) to canonical readings and presence, one module per format, mapped to our devices through
the site config (`device.source`). The gateway subscribes to a format's topics only when some
device of the site uses it."""

from gateway.adapters.base import ForeignAdapter, ForeignRoute, MessageKind
from gateway.adapters.router import ADAPTERS, ForeignRouter
from gateway.adapters.shelly import ShellyGen2Adapter
from gateway.adapters.tasmota import TasmotaAdapter
from gateway.adapters.zigbee2mqtt import Zigbee2MqttAdapter

__all__ = [
    "ADAPTERS",
    "ForeignAdapter",
    "ForeignRoute",
    "ForeignRouter",
    "MessageKind",
    "ShellyGen2Adapter",
    "TasmotaAdapter",
    "Zigbee2MqttAdapter",
]
