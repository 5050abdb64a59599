"""No single message can stop or wedge ingest (issue 9), against a real Mosquitto: each hostile
payload that once crashed the gateway or wedged it on a retried batch is dead-lettered with a
reason and acknowledged, the good messages around it are stored, and a restart redelivers
nothing. A store that refuses one message's data costs that message only."""

from __future__ import annotations

import asyncio
from pathlib import Path

import duckdb
import pytest

from demo_broker.mosquitto import MosquittoProcess
from ingest.duckdb_schema import READINGS
from ingest.migrations import Migration, migrate
from tests.conftest import Publisher, site_config, wait_for
from tests.gateway.test_gateway_broker import SITE, RunningGateway, now_ms

DEEP = 10_000
HUGE_INT = "1" + "0" * 400


def poison_cases(prefix: str, ts: int) -> list[tuple[str, str, bytes]]:
    """(reason code, topic, payload): the inputs that stopped or wedged ingest before."""
    telemetry = f"{prefix}/{SITE}/fridge-1/telemetry"
    event = f"{prefix}/{SITE}/fridge-2/event"
    return [
        ("too_deep", telemetry, b"[" * DEEP),
        ("too_deep", telemetry, b'{"a":' * DEEP),
        ("too_deep", telemetry, b'{"ts": %d, "m": %s' % (ts, b'{"a":' * DEEP)),
        ("invalid", telemetry, b'{"ts": %d, "m": {"temp_c": %s}}' % (ts, HUGE_INT.encode())),
        ("bad_time", telemetry, b'{"ts": %s, "m": {"temp_c": 3}}' % HUGE_INT.encode()),
        ("invalid", telemetry, b'{"ts": %d, "m": {"\\ud800": 3}}' % ts),
        ("invalid", event, b'{"ts": %d, "type": "cycle_start", "\\udfff": 1}' % ts),
        ("invalid", event, b'{"ts": %d, "type": "cycle_start", "x": {"\\ud800": 1}}' % ts),
        ("invalid", event, b'{"ts": %d, "type": "cycle_start", "peak_c": 1e400}' % ts),
        ("invalid", event, b'{"ts": %d, "type": "\\ud800"}' % ts),
        ("not_json", telemetry, b'{"ts": %d, "m": {"temp_c": 1%s}}' % (ts, b"0" * 5000)),
    ]


async def test_each_poison_message_is_dead_lettered_and_acknowledged(
    mosquitto: MosquittoProcess, publisher: Publisher, topic_prefix: str, tmp_path: Path
) -> None:
    config = site_config(topic_prefix)
    db = tmp_path / "poison.duckdb"
    first = RunningGateway(config, mosquitto, db)
    await first.wait_subscribed()
    base = now_ms() - 600_000
    cases = poison_cases(topic_prefix, base)
    good = 2000
    for i in range(good):
        payload = {"ts": base + i, "seq": i, "m": {"temp_c": 3.5}}
        publisher.publish(f"{topic_prefix}/{SITE}/fridge-{i % 3 + 1}/telemetry", payload)
        if i % (good // len(cases)) == 0 and i // (good // len(cases)) < len(cases):
            _, topic, raw = cases[i // (good // len(cases))]
            publisher.publish(topic, raw)
    await asyncio.to_thread(publisher.flush)
    total = good + len(cases)

    await wait_for(lambda: first.gateway.stats.acked == total, f"all {total} acknowledged")
    assert not first.task.done(), "the gateway stopped"
    assert first.store.reading_count() == good
    assert first.gateway.stats.stored == good
    letters = first.store.dead_letters(SITE, 100)
    assert len(letters) == len(cases)
    expected: dict[str, int] = {}
    for code, _, _ in cases:
        expected[code] = expected.get(code, 0) + 1
    assert dict(first.gateway.stats.dead_letters) == expected
    # Each letter keeps the code the counters use, so /api/deadletter filters as health counts.
    stored: dict[str, int] = {}
    for x in letters:
        stored[str(x.letter.code)] = stored.get(str(x.letter.code), 0) + 1
    assert stored == expected
    reasons = "\n".join(x.letter.reason for x in letters)
    assert "nests deeper than 32 levels" in reasons
    assert "m.temp_c=<integer of 401 digits> is outside what a sensor can report" in reasons
    assert "ts <integer of 401 digits> is not a time in epoch milliseconds" in reasons
    assert "m.'\\ud800': unknown metric" in reasons
    assert "key '\\udfff' is not printable UTF-8 text" in reasons
    assert "event.peak_c: inf is not a finite number" in reasons
    await first.stop()

    # Everything was acknowledged: a restart on the same session gets nothing again. The broker
    # resends what it holds for the session before anything newer, so once the fresh message is
    # in, a redelivery would have been counted.
    second = RunningGateway(config, mosquitto, db)
    await second.wait_subscribed()
    publisher.publish(
        f"{topic_prefix}/{SITE}/fridge-1/telemetry", {"ts": now_ms(), "m": {"temp_c": 4}}
    )
    await asyncio.to_thread(publisher.flush)
    await wait_for(lambda: second.gateway.stats.acked >= 1, "a fresh message after the restart")
    assert second.gateway.stats.messages == 1
    assert second.store.dead_letter_count() == len(cases)
    await second.stop()


def refusing_store(db: Path) -> None:
    """A real DuckDB file whose tables refuse one value: the store's own schema, applied by its
    own migrations, with a CHECK added to the readings (every version of the table, so the
    keyless rebuild of schema 5 keeps it) and the device events, standing for any data the
    store cannot take."""
    readings = tuple(
        Migration(m.version, m.summary, tuple(_refusing(step) for step in m.steps))
        for m in READINGS
    )
    with duckdb.connect(str(db)) as con:
        con.execute(
            """CREATE TABLE device_events (
                   site VARCHAR NOT NULL, device VARCHAR NOT NULL, ts TIMESTAMP NOT NULL,
                   kind VARCHAR NOT NULL CHECK (kind <> 'refused_kind'), data JSON NOT NULL,
                   PRIMARY KEY (site, device, ts, kind));"""
        )
        migrate(con, "readings", readings, target=str(db))


def _refusing(step: str) -> str:
    """A readings CREATE TABLE with the refusing CHECK on its value column."""
    for table in ("CREATE TABLE IF NOT EXISTS readings (", "CREATE TABLE readings_v5 ("):
        if table in step:
            head, tail = step.split(table, 1)
            body, rest = tail.split("value DOUBLE NOT NULL", 1)
            return f"{head}{table}{body}value DOUBLE NOT NULL CHECK (value <> 13.13){rest}"
    return step


@pytest.mark.parametrize("batch_linger_ms", [0, 200])
async def test_a_message_the_store_refuses_is_isolated_and_the_rest_stored(
    mosquitto: MosquittoProcess,
    publisher: Publisher,
    topic_prefix: str,
    tmp_path: Path,
    batch_linger_ms: int,
) -> None:
    db = tmp_path / "refusing.duckdb"
    refusing_store(db)
    config = site_config(topic_prefix, gateway={"batch_linger_ms": batch_linger_ms})
    gw = RunningGateway(config, mosquitto, db)
    await gw.wait_subscribed()
    base = now_ms() - 600_000
    good = 2000
    for i in range(good):
        if i == 777:
            publisher.publish(
                f"{topic_prefix}/{SITE}/fridge-2/telemetry", {"ts": base, "m": {"temp_c": 13.13}}
            )
            publisher.publish(
                f"{topic_prefix}/{SITE}/fridge-2/event", {"ts": base, "type": "refused_kind"}
            )
            publisher.publish(
                f"{topic_prefix}/{SITE}/fridge-2/event", {"ts": base, "type": "cycle_start"}
            )
        payload = {"ts": base + i, "m": {"temp_c": 3.0, "door_open": False}}
        publisher.publish(f"{topic_prefix}/{SITE}/fridge-{i % 3 + 1}/telemetry", payload)
    await asyncio.to_thread(publisher.flush)

    await wait_for(lambda: gw.gateway.stats.acked == good + 3, "every message acknowledged")
    assert gw.store.reading_count() == 2 * good
    assert gw.gateway.stats.stored == 2 * good  # counted once, however often it was split
    assert gw.gateway.stats.dead_letters == {"store_refused": 2}
    assert gw.writer.stats.events == 1
    reasons = sorted(x.letter.reason for x in gw.store.dead_letters(SITE, 10))
    assert all(r.startswith("the store refused this message: ") for r in reasons)
    assert "CHECK constraint" in reasons[0]
    assert gw.gateway.faults() == []
    await gw.stop()
