"""`python -m bench.detection_serve`: the detection bench's cohort through the deployed path.

`bench.detection` replays each cohort's readings straight into `AlertService`, the way
`alerts.replay` does. That leaves out what a school runs: the gateway decoding MQTT messages,
the store writer's batches, the judge queue handing devices to the live rules, the real clock.
This bench publishes the same readings over a real Mosquitto into `canteen serve` as fast as
the broker takes them (QoS 1, in the order they arrive, one message per device and instant, as
a probe, a plug and a door contact of one cabinet report them together), waits until every
reading is stored and judged, and compares the alerts the service raised with the replay's:
every change of every alert (fired, escalated, refired, resolved...) at the same event
instant. Offline alerts are left out: the service judges silence by the real clock, the
replay by the run's. So are alerts going pending: one that ends without firing leaves no trace
in the alert book (nobody was told), and one that fires keeps its start as its own.

The service refuses readings older than its plausibility window, so the cohort's calendar is
moved to the latest run of whole weeks after the usual start that ends before today: the
weekdays, the kitchen's quiet days and the plant's draws are those of the usual start.

It prints, per variant, the messages, how fast they were published and judged, and the alert
changes each side raised, those they share and those only one side has; the exit status is 1
when the two disagree.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from bench.alerts_service import health, start_service, stop_service
from bench.detection import START, ZONE
from bench.detection_cold import (
    ColdPlan,
    build_cohort,
    config_document,
    deliveries,
    run_variant,
)
from bench.detection_replay import SITE, Deliveries
from core.rule_settings import RuleSettings
from demo_broker.mosquitto import MosquittoProcess
from firmware_sim.families import families_named

__all__ = ["Change", "Served", "main", "moved_start", "run"]

_WEEK = timedelta(days=7)
_JUDGED_TIMEOUT_S = 600.0
_LEFT_OUT = ("offline",)  # rules
_UNTRACED = ("pending",)  # actions

Change = tuple[str, str, str, datetime]  # device, rule, action, event time (UTC)


@dataclass(slots=True)
class Served:
    variant: str
    messages: int
    readings: int
    publish_s: float
    judged_s: float  # from the first message published to the last reading judged
    served: list[Change]
    replayed: list[Change]

    @property
    def shared(self) -> list[Change]:
        return sorted(set(self.served) & set(self.replayed))

    @property
    def served_only(self) -> list[Change]:
        return sorted(set(self.served) - set(self.replayed))

    @property
    def replayed_only(self) -> list[Change]:
        return sorted(set(self.replayed) - set(self.served))

    def summary(self) -> dict[str, Any]:
        def shown(changes: list[Change]) -> list[list[str]]:
            return [[d, r, a, at.isoformat()] for d, r, a, at in changes]

        return {
            "variant": self.variant,
            "messages": self.messages,
            "readings": self.readings,
            "publish_s": round(self.publish_s, 1),
            "publish_msg_s": round(self.messages / self.publish_s) if self.publish_s else None,
            "judged_s": round(self.judged_s, 1),
            "changes_served": len(self.served),
            "changes_replayed": len(self.replayed),
            "shared": len(self.shared),
            "served_only": shown(self.served_only),
            "replayed_only": shown(self.replayed_only),
        }


def moved_start(usual: date, days: float, today: date) -> date:
    """The latest start whole weeks after `usual` whose run of `days` ends before `today`."""
    end = usual + timedelta(days=days)
    weeks = max(0, ((today - timedelta(days=1)) - end) // _WEEK)
    return usual + weeks * _WEEK


def messages(deliveries: Deliveries) -> tuple[list[tuple[str, bytes]], int]:
    """One canonical telemetry message per device and instant, in the order they arrive, and
    the readings they hold (a metric delivered twice at one instant, a door contact's
    heartbeat on an edge, is one reading, its last copy, as the store keeps it)."""
    device = np.concatenate(deliveries.device)
    metric = np.concatenate(deliveries.metric)
    ts = np.concatenate(deliveries.ts_ms)
    value = np.concatenate(deliveries.value)
    arrive = np.concatenate(deliveries.arrive_ms)
    order = np.lexsort((ts, arrive))
    instants: dict[tuple[str, int], dict[str, float | bool]] = {}
    for i in order.tolist():
        metrics = instants.setdefault((str(device[i]), int(ts[i])), {})
        name = str(metric[i])
        metrics[name] = bool(value[i] >= 0.5) if name == "door_open" else float(value[i])
    seq: dict[str, int] = {}
    out = []
    for (dev, at), metrics in instants.items():
        seq[dev] = seq.get(dev, 0) + 1
        payload = {"ts": at, "seq": seq[dev], "m": metrics}
        out.append((dev, json.dumps(payload, separators=(",", ":")).encode()))
    return out, sum(len(metrics) for metrics in instants.values())


def publish(url_port: int, topics: Sequence[tuple[str, bytes]]) -> float:
    """Publish at QoS 1 as fast as the broker acknowledges; the seconds it took."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="detection-serve")
    client.max_inflight_messages_set(500)
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    began = time.perf_counter()
    last = None
    try:
        for device, payload in topics:
            topic = f"canteen/v1/{SITE}/{device}/telemetry"
            while True:
                last = client.publish(topic, payload, qos=1)
                if last.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
                time.sleep(0.01)  # the client's queue is full: let its loop drain it
        if last is not None:
            last.wait_for_publish(timeout=120)
        return time.perf_counter() - began
    finally:
        client.loop_stop()
        client.disconnect()


def _judged(base: str, readings: int, instants: int, began: float) -> float:
    """Wait until every reading is stored and every instant judged; the seconds since
    `began`. RuntimeError when the service does not get there in time."""
    deadline = time.monotonic() + _JUDGED_TIMEOUT_S
    answer: dict[str, Any] = {}
    while time.monotonic() < deadline:
        answer = health(base, timeout_s=30.0)
        rules = answer.get("rules") or {}
        stored = answer.get("readings_stored", 0)
        if stored >= readings and rules.get("readings_judged", 0) >= instants:
            return time.perf_counter() - began
        time.sleep(0.5)
    raise RuntimeError(
        f"the service did not store and judge every reading in {_JUDGED_TIMEOUT_S:g} s: "
        f"stored {answer.get('readings_stored')} of {readings}, judged "
        f"{(answer.get('rules') or {}).get('readings_judged')} of {instants} instants"
    )


def _served_changes(db: Path) -> list[Change]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            'SELECT a.device, a.rule, h.action, h."at" FROM alert_history h '
            "JOIN alerts a ON a.id = h.alert_id WHERE h.actor = 'rule' ORDER BY h.\"at\""
        ).fetchall()
    return [
        (d, r, a, at.replace(tzinfo=UTC))
        for d, r, a, at in rows
        if r not in _LEFT_OUT and a not in _UNTRACED
    ]


def run(family: str, seed: int, variant: str, plan: ColdPlan, start: date) -> Served:
    found = families_named(family)[0]
    start_s = datetime.combine(start, datetime.min.time(), ZONE).timestamp()
    cohort = build_cohort(found, plan, seed, start_s, RuleSettings().seal_baseline_days)
    delivered = deliveries(cohort, variant, seed)
    sent, readings = messages(delivered)
    _, replayed = run_variant(cohort, variant, seed)
    expected = [
        (d, r, a, at.astimezone(UTC))
        for d, r, a, at in replayed.history
        if r not in _LEFT_OUT and a not in _UNTRACED
    ]
    with tempfile.TemporaryDirectory(prefix="bench-detection-serve-") as folder:
        work = Path(folder)
        broker = MosquittoProcess()
        broker.start()
        try:
            proc, base = start_service(work, broker, config_document(cohort))
            try:
                began = time.perf_counter()
                publish_s = publish(broker.port, sent)
                judged_s = _judged(base, readings, len(sent), began)
            finally:
                stop_service(proc)
        finally:
            broker.stop()
        served = _served_changes(work / "bench.duckdb")
    return Served(variant, len(sent), readings, publish_s, judged_s, served, expected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.detection_serve", description=__doc__)
    parser.add_argument("--family", default="walk-in cold room", help="one family, by name")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=START,
        help="the usual first day, moved on by whole weeks (default: bench.detection's)",
    )
    parser.add_argument("--variants", default="temp,temp+power+door")
    usual = ColdPlan()
    parser.add_argument("--days", type=float, default=usual.days)
    parser.add_argument("--healthy", type=int, default=usual.healthy)
    parser.add_argument("--leaky", type=int, default=usual.leaky_per_severity)
    parser.add_argument("--failures", type=int, default=usual.failures)
    args = parser.parse_args(argv)
    plan = ColdPlan(args.days, args.healthy, args.leaky, args.failures)
    start = moved_start(args.start, plan.days, datetime.now(ZONE).date())
    print(f"{args.family}, seed {args.seed}, from {start} ({plan.days:g} days)", file=sys.stderr)
    results = []
    for variant in args.variants.split(","):
        served = run(args.family, args.seed, variant, plan, start)
        results.append(served.summary())
        s = results[-1]
        print(
            f"{variant}: {s['messages']:,} messages ({s['readings']:,} readings) published in "
            f"{s['publish_s']} s ({s['publish_msg_s']:,} msg/s), all judged {s['judged_s']} s "
            f"after the first; alert changes served {s['changes_served']}, replayed "
            f"{s['changes_replayed']}, shared {s['shared']}"
        )
        for side in ("served_only", "replayed_only"):
            for change in s[side]:
                print(f"  {side.replace('_', ' ')}: {' '.join(change)}")
    print(
        json.dumps(
            {"family": args.family, "seed": args.seed, "start": str(start), "variants": results}
        )
    )
    agree = all(not r["served_only"] and not r["replayed_only"] for r in results)
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
