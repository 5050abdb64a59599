"""MQTT brokers for demos and tests, kept apart from the service's wiring (DESIGN.md: a demo
convenience, not a product component).

`EmbeddedBroker` is an in-process MQTT 3.1.1 broker on asyncio, so `canteen demo` runs where
mosquitto is not installed. It listens on loopback only (it has no authentication) and keeps
its memory bounded: a maximum number of sessions, and per session a bounded in-flight window and
a bounded queue (by count and bytes, oldest dropped); unacknowledged QoS 1 messages are re-sent
with DUP when a persistent session reconnects. `embedded` holds the connections, `routing` the
sessions and the subscription index, `packets` the wire format.

`MosquittoProcess` starts the system's mosquitto on a free loopback port with a generated
config (persistent sessions, autosave bounding what a crash can lose), for the demo and the
tests that need a real broker.
"""

from demo_broker.embedded import EmbeddedBroker
from demo_broker.mosquitto import (
    AUTOSAVE_INTERVAL_S,
    UNSAVED_WINDOW_S,
    MosquittoProcess,
    find_mosquitto,
    free_port,
    mosquitto_config,
)

__all__ = [
    "AUTOSAVE_INTERVAL_S",
    "UNSAVED_WINDOW_S",
    "EmbeddedBroker",
    "MosquittoProcess",
    "find_mosquitto",
    "free_port",
    "mosquitto_config",
]
