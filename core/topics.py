"""The topic scheme (DESIGN.md, wire protocol), a contract the simulator and the gateway share:

{prefix}/{site}/{device}/telemetry   readings, QoS 1
{prefix}/{site}/{device}/event       discrete events (cabinet cycle start/stop)
{prefix}/{site}/{device}/status      retained online/offline, the Last Will sets offline
{prefix}/{site}/bridges/{bridge}/status    a bridge's own retained online/offline (its Last Will)
{prefix}/{site}/bridges/{bridge}/devices   retained JSON list of the device ids it carries

A bridge is one MQTT connection carrying many devices, as a Zigbee coordinator or a LoRa gateway
does. MQTT gives a connection one will, so the broker can only announce the bridge's death; the
gateway turns that into `offline` for every device the bridge listed (`gateway/bridges.py`).
Bridge topics have one level more than device topics, so no device id can collide with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["BridgeChannel", "BridgeTopic", "Channel", "DeviceTopic", "TopicScheme"]

BRIDGES = "bridges"


class Channel(StrEnum):
    TELEMETRY = "telemetry"
    EVENT = "event"
    STATUS = "status"


class BridgeChannel(StrEnum):
    STATUS = "status"
    DEVICES = "devices"


@dataclass(frozen=True, slots=True)
class BridgeTopic:
    site: str
    bridge: str
    channel: BridgeChannel


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    site: str
    device: str
    channel: Channel


@dataclass(frozen=True, slots=True)
class TopicScheme:
    prefix: str = "canteen/v1"

    def device_topic(self, site: str, device: str, channel: Channel) -> str:
        return f"{self.prefix}/{site}/{device}/{channel.value}"

    def bridge_topic(self, site: str, bridge: str, channel: BridgeChannel) -> str:
        return f"{self.prefix}/{site}/{BRIDGES}/{bridge}/{channel.value}"

    def site_filters(self, site: str) -> list[str]:
        """What a gateway serving `site` subscribes to. Bridge topics come last: on a
        (re)subscription the broker sends retained messages filter by filter, so a bridge's
        `offline` is seen after the stale `online` its members kept, and wins."""
        devices = [f"{self.prefix}/{site}/+/{channel.value}" for channel in Channel]
        return [*devices, f"{self.prefix}/{site}/{BRIDGES}/+/+"]

    def parse_bridge(self, topic: str) -> BridgeTopic | None:
        """The site, bridge and channel of a bridge topic; None for anything else."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head) :].split("/")
        if len(parts) != 4 or parts[1] != BRIDGES or not parts[0] or not parts[2]:
            return None
        try:
            channel = BridgeChannel(parts[3])
        except ValueError:
            return None
        return BridgeTopic(parts[0], parts[2], channel)

    def parse(self, topic: str) -> DeviceTopic | None:
        """The site, device and channel of a device topic; None for anything else."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head) :].split("/")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            return None
        try:
            channel = Channel(parts[2])
        except ValueError:
            return None
        return DeviceTopic(parts[0], parts[1], channel)
