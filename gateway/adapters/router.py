"""`ForeignRouter`: the adapters a site needs, and the route of a foreign topic.

Only formats some device of the config uses get an adapter, so a site of canonical devices
subscribes to nothing foreign. The site config maps each foreign id to our device
(`device.source`, with the fields it maps beyond the format's usual ones); the router builds
that index once.
"""

from __future__ import annotations

from core.config import SiteConfig
from core.model import WireFormat
from gateway.adapters.base import ForeignAdapter, ForeignRoute
from gateway.adapters.shelly import ShellyGen2Adapter
from gateway.adapters.tasmota import TasmotaAdapter
from gateway.adapters.zigbee2mqtt import Zigbee2MqttAdapter

__all__ = ["ADAPTERS", "ForeignRouter"]

# In the order topics are offered to them: the most specific topic layout first.
ADAPTERS: dict[WireFormat, type[ForeignAdapter]] = {
    WireFormat.ZIGBEE2MQTT: Zigbee2MqttAdapter,
    WireFormat.TASMOTA: TasmotaAdapter,
    WireFormat.SHELLY_GEN2: ShellyGen2Adapter,
}


class ForeignRouter:
    def __init__(self, config: SiteConfig) -> None:
        sources: dict[WireFormat, dict[str, str]] = {}
        fields: dict[WireFormat, dict[str, dict[str, str]]] = {}
        for device in config.devices:
            source = device.source
            if source.format is not WireFormat.CANONICAL and source.id is not None:
                sources.setdefault(source.format, {})[source.id] = device.id
                fields.setdefault(source.format, {})[device.id] = dict(source.fields)
        site, zone = config.site.id, config.site.zone
        self.adapters = [
            adapter(site, zone, sources[fmt], fields[fmt])
            for fmt, adapter in ADAPTERS.items()
            if fmt in sources
        ]

    def filters(self) -> list[str]:
        return [f for adapter in self.adapters for f in adapter.filters()]

    def route(self, topic: str) -> ForeignRoute | None:
        """Where a foreign topic goes; None if no adapter of this site knows its layout.
        Raises `PayloadError` (unknown_device) for a foreign id the config does not map."""
        for adapter in self.adapters:
            route = adapter.route(topic)
            if route is not None:
                return route
        return None
