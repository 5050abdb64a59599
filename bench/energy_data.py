"""The energy bench's school: 20 buildings × 3 meters read every minute for a school year, made
with numpy a month at a time and written into the store's own DuckDB schema.

Loads follow the school day (classes, meals, nights, weekends, holidays) with random spread,
and the report month holds one of each thing the accounting must get right: a meter offline
for two days (`b03-elec`), a declared replacement (`b05-elec`), a register that rolls over
(`b07-elec`, 4 digits), a leak (`b09-water`) and a bad reading (`b11-gas`). Generation is not
measured: it goes around the store's write path (one `INSERT ... SELECT` from Arrow per month)
because writing 31 M readings through the batch writer would take the bench's whole budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from core.config import SiteConfig, load_tariff
from ingest.duckdb_store import DuckDBStore

__all__ = ["BUILDINGS", "FAULTS", "SITE", "Faults", "bench_config", "generate"]

SITE = "bench-school"
BUILDINGS = 20
KINDS = ("teaching", "canteen", "dormitory", "office", "sports")
FIRST, LAST = date(2025, 9, 1), date(2026, 8, 31)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
OFFSET = timedelta(hours=8)  # Asia/Shanghai has no daylight saving

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Faults:
    """What the report month holds (local times)."""

    offline: tuple[str, datetime, datetime] = (
        "b03-elec",
        datetime(2026, 3, 10, tzinfo=UTC) - OFFSET,
        datetime(2026, 3, 12, tzinfo=UTC) - OFFSET,
    )
    replaced: tuple[str, datetime] = ("b05-elec", datetime(2026, 3, 15, 2, 0, 30, tzinfo=UTC))
    rolls_over: str = "b07-elec"
    modulus: float = 10_000.0  # a 4-digit register: it wraps about twice a month
    leak: tuple[str, datetime, float] = ("b09-water", datetime(2026, 3, 20, tzinfo=UTC), 0.3)
    glitch: tuple[str, datetime, float] = ("b11-gas", datetime(2026, 3, 18, 4, tzinfo=UTC), -50.0)


FAULTS = Faults()


def bench_config(db: Path, replaced_final: float | None = None) -> SiteConfig:
    """The site: Guangdong time of use, tiered water, flat gas, the 2025/26 school year."""
    devices: list[dict[str, Any]] = []
    for b in range(BUILDINGS):
        for short, kind in (
            ("elec", "electricity_meter"),
            ("water", "water_meter"),
            ("gas", "gas_meter"),
        ):
            device: dict[str, Any] = {
                "id": f"b{b:02d}-{short}",
                "kind": kind,
                "building": f"b{b:02d}",
            }
            device["counter"] = {"max_rate": 2000 if short == "elec" else 200}
            devices.append(device)
    by_id = {d["id"]: d for d in devices}
    by_id[FAULTS.rolls_over]["counter"]["modulus"] = FAULTS.modulus
    if replaced_final is not None:
        by_id[FAULTS.replaced[0]]["counter"]["resets"] = [
            {"at": FAULTS.replaced[1].isoformat(), "start": 0.0, "final": replaced_final}
        ]
    return SiteConfig.model_validate(
        {
            "site": {"id": SITE, "name": "基准学校 Bench School"},
            "storage": {"path": str(db)},
            "buildings": [
                {
                    "id": f"b{b:02d}",
                    "name": f"楼{b:02d}",
                    "kind": KINDS[b % len(KINDS)],
                    "floor_area_m2": 3000 + 200 * b,
                    "occupants": 300 + 20 * b,
                }
                for b in range(BUILDINGS)
            ],
            "meals": [{"name": "lunch", "start": "11:40", "end": "12:40"}],
            "devices": devices,
            "calendar": {
                "terms": [
                    {"start": "2025-09-01", "end": "2026-01-16"},
                    {"start": "2026-02-23", "end": "2026-07-03"},
                ],
                "holidays": [
                    {"start": "2025-10-01", "end": "2025-10-08"},
                    {"start": "2026-01-01", "end": "2026-01-03"},
                    {"start": "2026-04-04", "end": "2026-04-06"},
                    {"start": "2026-05-01", "end": "2026-05-05"},
                ],
            },
            "tariffs": [
                load_tariff(EXAMPLES / "tariffs" / "guangdong-2021.yaml").model_dump(),
                {
                    "id": "water",
                    "name": "water",
                    "carrier": "water",
                    "tiers": [{"up_to": 3000, "price": 4.1}, {"price": 6.15}],
                },
                {"id": "gas", "name": "gas", "carrier": "gas", "base_price": 4.2},
            ],
        }
    )


def generate(db: Path, seed: int = 11) -> tuple[int, float]:
    """Write the year into `db`; returns (readings written, the replaced register's final)."""
    DuckDBStore(db).close()  # the store's schema, primary key included
    config = bench_config(db)
    rng = np.random.default_rng(seed)
    devices = [d.id for d in config.devices]
    metrics = [d.kind.carrier.metric for d in config.devices if d.kind.carrier]
    scale = rng.uniform(0.6, 1.6, len(devices))
    register = rng.uniform(1_000, 40_000, len(devices))
    register[devices.index(FAULTS.rolls_over)] %= FAULTS.modulus
    final: float | None = None
    rows = 0
    con = duckdb.connect(str(db))
    con.execute("SET enable_progress_bar = false")  # the bench's stderr is its own
    try:
        month = FIRST
        while month <= LAST:
            following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
            minutes = _minutes(month, min(following, LAST + timedelta(days=1)))
            rates = _rates(config, devices, minutes, scale, rng)
            values = register[:, None] + np.cumsum(rates, axis=1) - rates  # reading before use
            register = values[:, -1] + rates[:, -1]
            final = _faults(devices, minutes, values, rates, final)
            rows += _insert(con, devices, metrics, minutes, values)
            month = following
    finally:
        con.close()
    if final is None:
        raise RuntimeError("the replacement fell outside the generated year")
    return rows, final


def _minutes(first: date, end: date) -> npt.NDArray[np.int64]:
    start = int((datetime.combine(first, datetime.min.time(), UTC) - OFFSET).timestamp())
    stop = int((datetime.combine(end, datetime.min.time(), UTC) - OFFSET).timestamp())
    return np.arange(start, stop, 60, dtype=np.int64)


def _rates(
    config: SiteConfig,
    devices: list[str],
    minutes: npt.NDArray[np.int64],
    scale: FloatArray,
    rng: np.random.Generator,
) -> FloatArray:
    """Use per minute of every meter: a day shape by carrier and day type, times noise."""
    local = minutes + int(OFFSET.total_seconds())
    hour = (local // 3600) % 24
    day = (local // 86_400) - local[0] // 86_400
    first = datetime.fromtimestamp(int(local[0]), UTC).date()
    types = np.array(
        [
            config.calendar.day_type(first + timedelta(days=int(d))).is_school_day
            for d in range(int(day[-1]) + 1)
        ]
    )[day]
    working = types & (hour >= 7) & (hour < 18)
    out = np.empty((len(devices), len(minutes)))
    for index, device in enumerate(devices):
        carrier = device.rsplit("-", 1)[1]
        if carrier == "elec":  # kW: base load all day, classes on school days
            kw = np.where(working, 60.0, 12.0)
        elif carrier == "water":  # m³/h: no flow at night
            kw = np.where(working, 2.0, np.where((hour >= 6) & (hour < 22), 0.3, 0.0))
        else:  # gas, m³/h: kitchens around lunch
            kw = np.where(types & (hour >= 10) & (hour < 13), 15.0, 0.0)
        noise = rng.lognormal(0.0, 0.15, len(minutes))
        out[index] = kw * scale[index] * noise / 60.0  # per minute
    leak_device, leak_from, leak_rate = FAULTS.leak
    out[devices.index(leak_device), minutes >= leak_from.timestamp()] += leak_rate / 60.0
    return out


def _faults(
    devices: list[str],
    minutes: npt.NDArray[np.int64],
    values: FloatArray,
    rates: FloatArray,
    final: float | None,
) -> float | None:
    """Registers as meters would show them; returns the replaced register's final value once
    the swap has happened (the new register counts from 0 from then on)."""
    np.floor(values * 1000, out=values)
    values /= 1000  # the register's last digit: 0.001
    wraps = devices.index(FAULTS.rolls_over)
    values[wraps] = np.mod(values[wraps], FAULTS.modulus)
    glitch_device, glitch_at, glitch_by = FAULTS.glitch
    values[devices.index(glitch_device), minutes == int(glitch_at.timestamp())] += glitch_by
    swapped, at = FAULTS.replaced
    row, after = devices.index(swapped), minutes > at.timestamp()
    if final is None and after.any():
        # The old register's last value at the swap: its last reading plus the use until then.
        last = int(np.flatnonzero(~after)[-1])
        final = float(values[row, last] + rates[row, last] * (at.timestamp() - minutes[last]) / 60)
    if final is not None:
        values[row, after] -= final
    return final


def _insert(
    con: duckdb.DuckDBPyConnection,
    devices: list[str],
    metrics: list[str],
    minutes: npt.NDArray[np.int64],
    values: FloatArray,
) -> int:
    keep = np.ones(values.shape, dtype=bool)
    offline, off, back = FAULTS.offline
    keep[devices.index(offline)] = ~((minutes > off.timestamp()) & (minutes < back.timestamp()))
    rows = int(keep.sum())
    meter = np.repeat(np.arange(len(devices)), len(minutes))[keep.ravel()]
    table = pa.table(
        {
            "site": pa.array([SITE] * rows, pa.string()),
            "device": pa.DictionaryArray.from_arrays(pa.array(meter, pa.int32()), devices),
            "metric": pa.DictionaryArray.from_arrays(pa.array(meter, pa.int32()), metrics),
            "ts": pa.array(np.tile(minutes, len(devices))[keep.ravel()] * 1000, pa.timestamp("ms")),
            "value": pa.array(values.ravel()[keep.ravel()], pa.float64()),
        }
    )
    con.register("chunk", table)
    con.execute(
        "INSERT INTO readings SELECT site, device::VARCHAR, metric::VARCHAR, ts, value "
        "FROM chunk ORDER BY ts"
    )
    con.unregister("chunk")
    return rows
