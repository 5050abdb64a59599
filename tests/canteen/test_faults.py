"""Faults a school can see (issue 9): `/api/health` is `degraded` with the reason while the store
fails (a real full disk), while the broker cannot be reached, and while another client takes the
gateway's session; the log says so; and nothing is lost or counted twice once the fault is gone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.model import AlertQuery, RuleId
from alerts.rules.seal_cold import ColdSealRule
from canteen.runtime import Overrides, Service
from core import SystemClock
from demo_broker.mosquitto import MosquittoProcess, free_port
from ingest import DuckDBStore
from tests.conftest import Publisher, site_config, wait_for

SITE = "test-school"


class Running:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(service.run(self.stop), name="service-under-test")

    async def health(self) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.service.url) as api:
            answer = await api.get("/api/health")
        assert answer.status_code == 200
        body: dict[str, Any] = answer.json()
        return body

    async def wait_health(self, what: str, check: Any, timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            body = await self.health()
            if check(body):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {body}")
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


@contextlib.asynccontextmanager
async def serving(config: Any, broker_url: str, db: Path) -> AsyncIterator[Running]:
    service = Service(
        config, SystemClock(), Overrides(broker=broker_url, db=str(db), listen="127.0.0.1:0")
    )
    running = Running(service)
    try:
        await wait_for(lambda: service.api_ready, "API up")
        yield running
    finally:
        await running.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 3 MB file system that fills up (tmpfs; needs root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_full_disk_degrades_health_with_the_store_error_and_loses_nothing(
    mosquitto: MosquittoProcess, topic_prefix: str, small_disk: Path, caplog: Any
) -> None:
    caplog.set_level(logging.WARNING)
    config = site_config(topic_prefix)
    db = small_disk / "canteen.duckdb"
    publisher = Publisher(mosquitto)
    base = int(time.time() * 1000) - 3_600_000
    sent = 0
    async with serving(config, mosquitto.url, db) as running:
        await wait_for(lambda: running.service.gateway.connected, "gateway connected")
        assert (await running.health())["status"] == "ok"
        for i in range(600):  # ~60,000 readings: more than 3 MB of DuckDB's log
            batch = [{"ts": base + i * 100 + k, "m": {"temp_c": 3.0}} for k in range(100)]
            publisher.publish(f"{topic_prefix}/{SITE}/fridge-{i % 3 + 1}/telemetry", batch)
            sent += 100
        await asyncio.to_thread(publisher.flush)

        body = await running.wait_health("the store failing", lambda b: b["faults"])
        assert body["status"] == "degraded"
        assert "No space left on device" in body["faults"][0], body["faults"]
        assert "the store failed" in caplog.text and "No space left on device" in caplog.text
        assert "cannot rollback" not in caplog.text

        # Room again: the held batch is stored, health recovers, nothing is lost or doubled.
        remount = ["mount", "-o", "remount,size=64m", str(small_disk)]
        await asyncio.to_thread(subprocess.run, remount, check=True)
        body = await running.wait_health(
            "recovery", lambda b: not b["faults"] and b["readings_stored"] == sent, 60
        )
        assert body["status"] == "ok"
        assert body["store_retries"] >= 1
        assert body["messages_acknowledged"] == 600
    publisher.close()
    store = DuckDBStore(db)
    assert store.reading_count() == sent
    store.close()


async def test_an_unreachable_broker_is_logged_and_shown_until_it_comes(
    topic_prefix: str, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    config = site_config(topic_prefix)
    async with serving(config, f"mqtt://127.0.0.1:{port}", tmp_path / "s.duckdb") as running:
        body = await running.wait_health("the broker fault", lambda b: b["faults"])
        assert body["status"] == "degraded"
        assert f"broker mqtt://127.0.0.1:{port} unreachable for" in body["faults"][0]
        await wait_for(lambda: "cannot reach the broker" in caplog.text, "the log line")
        with MosquittoProcess(port=port):
            body = await running.wait_health("connection", lambda b: not b["faults"], 40)
            assert body["status"] == "ok" and body["broker_connected"]


class Intruder:
    """A client that reuses the gateway's client id over and over, as a misconfigured device
    would (anonymous, no credentials)."""

    def __init__(self, port: int, client_id: str) -> None:
        self._port, self._client_id = port, client_id
        self.stop = threading.Event()
        self.connects = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            client = paho.Client(
                callback_api_version=CallbackAPIVersion.VERSION2,
                client_id=self._client_id,
                clean_session=False,
            )
            with contextlib.suppress(OSError):
                client.connect("127.0.0.1", self._port)
                client.loop_start()
                self.connects += 1
                self.stop.wait(1.5)
                client.disconnect()
                client.loop_stop()
            self.stop.wait(0.3)

    def close(self) -> None:
        self.stop.set()
        self._thread.join(10)


async def test_another_client_with_the_gateway_id_is_named_in_log_and_health(
    mosquitto: MosquittoProcess, topic_prefix: str, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.WARNING)
    client_id = f"gw-{uuid.uuid4().hex[:8]}"
    config = site_config(topic_prefix)
    config = config.model_copy(
        update={"mqtt": config.mqtt.model_copy(update={"client_id": client_id})}
    )
    async with serving(config, mosquitto.url, tmp_path / "t.duckdb") as running:
        await wait_for(lambda: running.service.gateway.connected, "gateway connected")
        intruder = Intruder(mosquitto.port, client_id)
        try:
            body = await running.wait_health(
                "the takeover fault",
                lambda b: any("another client" in f for f in b["faults"]),
                60,
            )
        finally:
            intruder.close()
        assert body["status"] == "degraded"
        assert f"another client is using client id {client_id!r}" in " ".join(body["faults"])
        assert f"another client is using client id {client_id!r}" in caplog.text
        await wait_for(lambda: running.service.gateway.connected, "gateway back")


async def test_a_rule_that_fails_on_a_reading_degrades_health_and_stops_nothing(
    mosquitto: MosquittoProcess, topic_prefix: str, tmp_path: Path
) -> None:
    """One fridge's seal rule made to fail on every reading (no shipped rule is known to):
    the service keeps storing and judging (the same fridge's over-temperature alarm fires,
    the other fridges are judged), and `/api/health` names the failing rule."""
    config = site_config(topic_prefix)
    publisher = Publisher(mosquitto)
    async with serving(config, mosquitto.url, tmp_path / "r.duckdb") as running:
        await wait_for(lambda: running.service.gateway.connected, "gateway connected")
        await running.service.alerts.until_live()
        rules = running.service.alerts.engine.devices["fridge-1"]
        seal = next(r for r in rules.rules if isinstance(r, ColdSealRule))

        def failing(sample: Any, out: Any) -> None:
            raise KeyError("pull_down")

        seal.observe = failing  # type: ignore[method-assign]
        base = int(time.time() * 1000) - 3_600_000
        for device, temp in (("fridge-1", 9.0), ("fridge-2", 4.0)):
            batch = [{"ts": base + k * 60_000, "m": {"temp_c": temp}} for k in range(60)]
            publisher.publish(f"{topic_prefix}/{SITE}/{device}/telemetry", batch)
        await asyncio.to_thread(publisher.flush)
        body = await running.wait_health(
            "the rule fault", lambda b: b["faults"] and b["readings_stored"] == 120
        )
        assert body["status"] == "degraded"
        assert "rule seal_degradation of device fridge-1 failed" in body["faults"][0]
        fault = body["rules"]["faults"]["fridge-1"]["seal_degradation"]
        assert fault["count"] == 60 and fault["error"] == "KeyError: 'pull_down'"
        assert not running.task.done(), "the service is still running"

        def firing() -> bool:
            query = AlertQuery(SITE, device="fridge-1", rule=RuleId.OVER_TEMPERATURE)
            return bool(running.service.alerts.book.find(query))

        await wait_for(firing, "the same fridge's over-temperature alarm")
    publisher.close()
