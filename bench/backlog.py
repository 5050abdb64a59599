"""The broker side of the ingest benchmark: persistent sessions registered up front and a
backlog of canonical telemetry published into them while every subscriber is offline."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

if TYPE_CHECKING:
    from core.config import SiteConfig

HOST = "127.0.0.1"
SITE = "bench-school"
TOPIC_PREFIX = "canteen/v1"
GATEWAY_CLIENT_ID = "bench-gateway"
SESSION_TIMEOUT_S = 10.0  # CONNACK, SUBACK


class BenchError(RuntimeError):
    """The benchmark could not produce a trustworthy figure; the message says why."""


@dataclass(frozen=True, slots=True)
class Plan:
    """One run's parameters, as each phase and child process gets them."""

    port: int
    devices: int
    messages: int
    filters: tuple[str, ...]  # the gateway's subscriptions, which every session copies
    timeout_s: float  # per phase
    db_path: str
    profile: str = ""  # a cProfile output path for the pipeline child, or ""


def paho_client(client_id: str, *, clean_session: bool) -> paho.Client:
    return paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=paho.MQTTv311,
    )


def start_client(client: paho.Client, port: int, timeout_s: float) -> None:
    """Connect, run paho's network thread and wait for an accepted CONNACK."""
    accepted = threading.Event()
    refused: list[str] = []

    def on_connect(_c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            refused.append(str(reason))
        accepted.set()

    client.on_connect = on_connect
    try:
        client.connect(HOST, port)
    except OSError as exc:
        raise BenchError(f"cannot connect to mqtt://{HOST}:{port}: {exc}") from exc
    client.loop_start()
    if not accepted.wait(timeout_s) or refused:
        client.loop_stop()
        why = refused[0] if refused else f"no CONNACK within {timeout_s:.0f} s"
        raise BenchError(f"mqtt://{HOST}:{port} did not accept the connection: {why}")


def stop_client(client: paho.Client) -> None:
    client.disconnect()
    client.loop_stop()


def register_sessions(plan: Plan, client_ids: Sequence[str]) -> None:
    """Create each persistent session with its subscriptions, then leave it offline."""
    for client_id in client_ids:
        _register_session(plan, client_id)


def _register_session(plan: Plan, client_id: str) -> None:
    client = paho_client(client_id, clean_session=False)
    granted = threading.Event()
    refused: list[str] = []

    def on_subscribe(_c: paho.Client, _u: Any, _mid: int, codes: list[Any], _p: Any) -> None:
        refused.extend(str(code) for code in codes if code.is_failure)
        granted.set()

    client.on_subscribe = on_subscribe
    start_client(client, plan.port, SESSION_TIMEOUT_S)
    client.subscribe([(topic, 1) for topic in plan.filters])
    answered = granted.wait(SESSION_TIMEOUT_S)
    stop_client(client)
    if not answered or refused:
        why = f"refused: {refused}" if refused else f"no SUBACK within {SESSION_TIMEOUT_S:.0f} s"
        raise BenchError(f"session {client_id!r}: subscription {why}")


class _Publisher:
    """One paho client publishing for a share of the devices; counts its PUBACKs."""

    def __init__(self, index: int, port: int, timeout_s: float) -> None:
        self.client = paho_client(f"bench-publisher-{index}", clean_session=True)
        self.client.max_inflight_messages_set(1000)
        self.client.on_publish = self._on_publish
        self.sent = 0
        self.acked = 0  # written by paho's thread only
        start_client(self.client, port, timeout_s)

    def _on_publish(self, _c: paho.Client, _u: Any, _mid: int, _r: Any, _p: Any) -> None:
        self.acked += 1

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise BenchError(f"publish to {topic} failed: {paho.error_string(info.rc)}")
        self.sent += 1


def telemetry_payload(ts_ms: int, seq: int) -> bytes:
    return (
        f'{{"ts": {ts_ms}, "seq": {seq}, '
        f'"m": {{"temp_c": 3.4, "door_open": false, "power_w": 120.5}}}}'
    ).encode()


def publish_backlog(plan: Plan, publishers: int) -> float:
    """Publish M messages round-robin over the devices; returns seconds until all PUBACKed."""
    devices = plan.devices
    clients = [_Publisher(i, plan.port, SESSION_TIMEOUT_S) for i in range(publishers)]
    topics = [f"{TOPIC_PREFIX}/{SITE}/{device_id(d)}/telemetry" for d in range(devices)]
    last_ts = [0] * devices
    started = time.perf_counter()
    try:
        for i in range(plan.messages):
            device, seq = i % devices, i // devices
            # Event time now, but unique per device: a repeated (device, metric, ts) would
            # overwrite a stored reading (idempotent writes) and the count check would fail.
            ts = max(time.time_ns() // 1_000_000, last_ts[device] + 1)
            last_ts[device] = ts
            clients[device % publishers].publish(topics[device], telemetry_payload(ts, seq))
        _wait_for_pubacks(clients, started + plan.timeout_s)
        return time.perf_counter() - started
    finally:
        for publisher in clients:
            stop_client(publisher.client)


def _wait_for_pubacks(clients: Sequence[_Publisher], deadline: float) -> None:
    while any(p.acked < p.sent for p in clients):
        if time.perf_counter() > deadline:
            acked, sent = sum(p.acked for p in clients), sum(p.sent for p in clients)
            raise BenchError(f"the broker acknowledged {acked} of {sent} published messages")
        time.sleep(0.02)


def device_id(index: int) -> str:
    return f"dev-{index:04d}"


def site_config(devices: int) -> SiteConfig:
    """A site with one canteen building and N fridges, as the gateway under test sees it."""
    from core.config import SiteConfig

    return SiteConfig.model_validate(
        {
            "site": {"id": SITE, "name": "Bench school"},
            "mqtt": {"client_id": GATEWAY_CLIENT_ID, "topic_prefix": TOPIC_PREFIX},
            "buildings": [{"id": "canteen", "name": "Canteen", "kind": "canteen"}],
            "devices": [
                {"id": device_id(i), "kind": "fridge", "building": "canteen"}
                for i in range(devices)
            ],
        }
    )
