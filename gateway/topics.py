"""The topic scheme (DESIGN.md, wire protocol):

{prefix}/{site}/{device}/telemetry   readings, QoS 1
{prefix}/{site}/{device}/event       discrete events (cabinet cycle start/stop)
{prefix}/{site}/{device}/status      retained online/offline, the Last Will sets offline
{prefix}/{site}/alerts/{alert_id}    alerts out, for local displays
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Channel", "DeviceTopic", "TopicScheme"]


class Channel(StrEnum):
    TELEMETRY = "telemetry"
    EVENT = "event"
    STATUS = "status"


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

    def alert_topic(self, site: str, alert_id: str) -> str:
        return f"{self.prefix}/{site}/alerts/{alert_id}"

    def site_filters(self, site: str) -> list[str]:
        """What a gateway serving `site` subscribes to."""
        return [f"{self.prefix}/{site}/+/{channel.value}" for channel in Channel]

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
