"""`Bridge`: one MQTT connection carrying many devices, as a Zigbee coordinator or a LoRa
gateway does.

Topics (core/topics.py):

    {prefix}/{site}/bridges/{bridge}/status    retained online/offline; the bridge's Last Will
    {prefix}/{site}/bridges/{bridge}/devices   retained JSON list of the device ids it carries

Each member keeps its own telemetry and retained presence topics (in its wire format); the
bridge publishes them for it. After every (re)connect the bridge publishes its `online`, its
member list and each member's current presence. A member cut off by an offline fault gets its
`offline` from the bridge (the radio link is gone, the bridge still talks to the broker) and its
`online` again when the fault ends. When the bridge itself dies, the broker publishes only the
bridge's will: MQTT gives a connection one will, so the members' retained presence still says
`online`; the gateway reads the member list and marks every member offline
(`gateway/bridges.py`), as Home Assistant does with a Zigbee2MQTT bridge's state. A clean stop
publishes every member's `offline` first, then the bridge's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from core.clock import Clock
from core.topics import BridgeChannel, TopicScheme
from firmware_sim.device import SimulatedDevice
from firmware_sim.link import BrokerAddress, DeviceLink
from firmware_sim.schedule import LagStats
from firmware_sim.uplink import Uplink
from firmware_sim.wire import Message, Presence

__all__ = ["BRIDGE_OUTBOX_LIMIT", "Bridge"]

# What a bridge keeps while the broker is away, across all its members: about 100 minutes of a
# 500-device bridge at 30 s, ~10 MB of payloads (assumed store-and-forward buffer of a gateway).
BRIDGE_OUTBOX_LIMIT = 100_000


class Bridge(Uplink):
    def __init__(
        self,
        bridge_id: str,
        members: Sequence[SimulatedDevice],
        topics: TopicScheme,
        site: str,
        clock: Clock,
        address: BrokerAddress,
        *,
        lag: LagStats,
        stagger: bool = False,
    ) -> None:
        status = topics.bridge_topic(site, bridge_id, BridgeChannel.STATUS)
        super().__init__(
            bridge_id,
            f"sim-{site}-bridge-{bridge_id}",
            members,
            clock,
            address,
            Presence(status, b"online", b"offline"),
            lag=lag,
            outbox_limit=BRIDGE_OUTBOX_LIMIT,
            stagger=stagger,
        )
        self._members_topic = topics.bridge_topic(site, bridge_id, BridgeChannel.DEVICES)
        ids = [sim.device.id for sim in members]
        self._members_payload = json.dumps(ids, separators=(",", ":")).encode()

    def drop_device(self, index: int) -> None:
        """The device vanishes (a dead battery): the bridge reports it offline, for good."""
        sim = self.devices[index]
        if sim.dropped:
            return
        sim.dropped = True
        self._schedule.remove(index)
        self._queue_presence(index, False)

    async def _announce(self, link: DeviceLink) -> None:
        await link.publish(self._members_topic, self._members_payload, retain=True)
        for sim in self.devices:
            if not sim.dropped:
                presence = sim.wire.presence
                online = sim.reachable
                await link.publish(
                    presence.topic, presence.online if online else presence.offline, retain=True
                )

    def _last_words(self) -> list[Message]:
        return [
            (sim.wire.presence.topic, sim.wire.presence.offline)
            for sim in self.devices
            if not sim.dropped
        ]

    def _reachability_changed(self, index: int, reachable: bool) -> None:
        # Before the first connection the announcement will carry it; after, the outbox does.
        if not self.devices[index].dropped and self.online.is_set():
            self._queue_presence(index, reachable)
