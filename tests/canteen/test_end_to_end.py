"""One path through everything: the simulated school publishes to a real Mosquitto, the service
validates and stores, and the HTTP API returns the readings. Time is simulated, so twenty
minutes of plant behaviour run in seconds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from canteen.runtime import Overrides, Service
from core import ManualClock, load_config
from core.records import Role
from demo_broker.mosquitto import MosquittoProcess
from firmware_sim import Fleet
from tests.conftest import EXAMPLES, wait_for
from tests.dashboard_api.accounts import bearer

# 11:30 in Asia/Shanghai, just before lunch: cabinets and fridges are busy.
START = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)


async def test_simulated_school_to_api(
    mosquitto: MosquittoProcess, tmp_path: Path, topic_prefix: str
) -> None:
    base = load_config(EXAMPLES / "demo-school.yaml")
    config = base.model_copy(
        update={
            "mqtt": base.mqtt.model_copy(
                update={"topic_prefix": topic_prefix, "client_id": "e2e-gateway"}
            )
        }
    )
    clock = ManualClock(START)
    service = Service(
        config,
        clock,
        Overrides(broker=mosquitto.url, db=str(tmp_path / "e2e.duckdb"), listen="127.0.0.1:0"),
    )
    fleet = Fleet(config, clock, mosquitto.url, seed=7)
    stop = asyncio.Event()
    serving = asyncio.create_task(service.run(stop))
    simulating = asyncio.create_task(fleet.run())
    try:
        await wait_for(lambda: service.gateway.connected and service.api_ready, "service up")
        await wait_for(
            lambda: fleet.stats.total >= len(config.devices), "every device's first reading"
        )
        for _ in range(40):  # 20 simulated minutes in 30 s steps
            await clock.advance(30)
            await asyncio.sleep(0.01)
        # The fleet may still be publishing the last steps' readings: "acknowledged as many
        # as published so far" alone can hold before the last ones are out (the gateway acks
        # as fast as the fleet publishes), so wait for fridge-1's reading at the window's end.
        window_end = START + timedelta(minutes=19, seconds=30)

        def fridge_caught_up() -> bool:
            latest = service.store.latest(config.site.id, "fridge-1")
            return any(v.metric == "temp_c" and v.ts >= window_end for v in latest)

        await wait_for(fridge_caught_up, "fridge-1's last reading of the window stored")
        await wait_for(
            lambda: service.gateway.stats.acked >= fleet.stats.total, "everything stored"
        )

        token = service.auth.create_token("e2e-check", Role.VIEWER)
        async with httpx.AsyncClient(base_url=service.url, headers=bearer(token)) as api:
            devices = (await api.get("/api/devices")).json()
            assert {d["id"] for d in devices} == {d.id for d in config.devices}
            assert all(d["online"] for d in devices), devices

            latest = (await api.get("/api/devices/fridge-1/latest")).json()
            values = {v["metric"]: v["value"] for v in latest["values"]}
            assert 0.0 <= values["temp_c"] <= 8.0
            assert isinstance(values["door_open"], bool)

            series = (
                await api.get(
                    "/api/devices/fridge-1/series",
                    params={
                        "metric": "temp_c",
                        "start": (START).isoformat(),
                        "end": (START + timedelta(minutes=20)).isoformat(),
                        "step": "5m",
                    },
                )
            ).json()
            assert [p["t"] for p in series["points"]] == [
                "2026-11-24T11:30:00+08:00",
                "2026-11-24T11:35:00+08:00",
                "2026-11-24T11:40:00+08:00",
                "2026-11-24T11:45:00+08:00",
            ]
            assert all(p["count"] == 10 for p in series["points"])  # every 30 s reading

            meter = (await api.get("/api/devices/elec-canteen/latest")).json()
            assert {v["metric"] for v in meter["values"]} >= {"energy_kwh", "power_w"}

            health = (await api.get("/api/health")).json()
            assert health["status"] == "ok" and health["dead_letters"] == 0
            # The rules judged what was stored, and say how late (alerts.pace).
            rules = health["rules"]
            assert rules["live"] and 0 < rules["readings_judged"] <= health["readings_stored"]
            assert rules["age_ms"]["p50"] is not None and rules["judge_us_per_reading"] > 0
    finally:
        simulating.cancel()
        await asyncio.gather(simulating, return_exceptions=True)
        stop.set()
        await serving
