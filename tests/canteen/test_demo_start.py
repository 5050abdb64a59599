"""`make demo` started just after a meal's disinfection window: the simulator fills in the
hours before at the demo's catch-up speed while the service already runs on the real clock.
The cabinets' cycles after lunch are in that history, so nothing may be judged before it has
arrived: no missed disinfection, no unverified sample, no offline device.

The wiring is the demo's (`canteen.demo`: a `Service` on the real clock, a `Fleet` on a
catch-up clock at `CATCH_UP_SPEED`); only the present is moved to a chosen instant, so the
meal windows fall where the test needs them whatever the time of day it runs.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from alerts.model import AlertQuery, AlertState, DisinfectionStatus, RuleId
from canteen.demo import CATCH_UP_SPEED
from canteen.runtime import Overrides, Service
from core import load_config
from core.config import SiteConfig
from demo_broker.mosquitto import MosquittoProcess
from firmware_sim import Fleet
from tests.conftest import EXAMPLES, wait_for

SCHOOL_DAY = date(2026, 11, 23)  # a Monday in the autumn term: every meal is served
# Lunch ends 12:40 local (04:40 UTC); its window closes 90 min later, at 14:10, and the verdict
# is due 5 min after that. The demo is started at 14:20, after the verdict fell due.
STARTED = datetime(2026, 11, 23, 6, 20, tzinfo=UTC)
# Three hours of history, from 11:20 local: lunch and its cycles are in it, breakfast (before
# the first reading) is not judged.
HISTORY = timedelta(hours=3)
NO_FALSE_ALARM = (RuleId.DISINFECTION, RuleId.SAMPLE_RETENTION, RuleId.OFFLINE, RuleId.SITE_OFFLINE)


class ShiftedClock:
    """Real time, as if it were `start` when the clock was made (the service's SystemClock)."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._mono0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._mono0)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class CatchUpTo:
    """The demo's CatchUpClock with `present` as the present: `speed` times real time from
    `start`, then following `present` once caught up."""

    def __init__(self, start: datetime, speed: float, present: ShiftedClock) -> None:
        self._start = start
        self._speed = speed
        self._present = present
        self._mono0 = time.monotonic()

    def _simulated(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._mono0) * self._speed)

    def now(self) -> datetime:
        return min(self._simulated(), self._present.now())

    async def sleep(self, seconds: float) -> None:
        caught_up = self._simulated() >= self._present.now()
        await asyncio.sleep(max(0.0, seconds) / (1.0 if caught_up else self._speed))


def demo_school(topic_prefix: str) -> SiteConfig:
    base = load_config(EXAMPLES / "demo-school.yaml")
    mqtt = base.mqtt.model_copy(update={"topic_prefix": topic_prefix, "client_id": "demo-start"})
    return base.model_copy(update={"mqtt": mqtt})


async def test_a_demo_started_after_a_meal_window_raises_no_false_alert(
    mosquitto: MosquittoProcess, tmp_path: Path, topic_prefix: str
) -> None:
    config = demo_school(topic_prefix)
    present = ShiftedClock(STARTED)
    overrides = Overrides(
        broker=mosquitto.url, db=str(tmp_path / "demo.duckdb"), listen="127.0.0.1:0"
    )
    service = Service(config, present, overrides)
    fleet = Fleet(config, CatchUpTo(STARTED - HISTORY, CATCH_UP_SPEED, present), mosquitto.url)
    cabinets = [d.id for d in config.devices if d.kind.value == "disinfection_cabinet"]
    registers = service.alerts.registers

    def lunch_judged() -> bool:
        records = registers.disinfection_records(config.site.id, SCHOOL_DAY, SCHOOL_DAY, None)
        return {r.device for r in records if r.meal == "lunch"} == set(cabinets)

    stop = asyncio.Event()
    serving = asyncio.create_task(service.run(stop))
    simulating = asyncio.create_task(fleet.run())
    try:
        catch_up_s = HISTORY.total_seconds() / CATCH_UP_SPEED
        await wait_for(lunch_judged, "lunch judged for both cabinets", catch_up_s + 60)
        await asyncio.sleep(2.0)  # a few more batches and ticks on the real clock
        records = registers.disinfection_records(config.site.id, SCHOOL_DAY, SCHOOL_DAY, None)
        query = AlertQuery(config.site.id, states=tuple(AlertState), limit=1000)
        alerts = [a for a in service.alerts.book.find(query) if a.rule in NO_FALSE_ALARM]
    finally:
        simulating.cancel()
        await asyncio.gather(simulating, return_exceptions=True)
        stop.set()
        await serving
    lunch = {r.device: r for r in records if r.meal == "lunch"}
    assert {d: r.status for d, r in lunch.items()} == dict.fromkeys(
        cabinets, DisinfectionStatus.COMPLIANT
    ), {d: r.reason.en for d, r in lunch.items()}
    assert all(r.max_temp_c is not None and r.hold_min and r.hold_min >= 10 for r in lunch.values())
    assert [(a.device, a.rule.value, a.message.en) for a in alerts] == []
