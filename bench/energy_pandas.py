"""The energy bench's yardstick: the same monthly figures computed with pandas on the raw rows.

It pulls every reading of the month and the month before into a DataFrame and applies the
same rules as the store's SQL (`ingest.duckdb_energy`): steps between consecutive readings,
declared resets as pseudo-readings, rollovers within the rate, decreases and jumps without a
value, gaps known in total only. Every bench meter has a max_rate, so the rate decides
rollovers (the store's fallback for meters without one is not needed here). The readings are
on whole minutes, so no measured step crosses a 15-minute slot edge and each step's use
belongs to the slot it starts in; the code checks this rather than assume it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from core.config import SiteConfig
from core.energy_model import TariffPeriod
from energy.tariffs import PERIODS, tiered_cost

__all__ = ["PandasFigures", "pandas_figures"]

_LOCAL = pd.Timedelta(hours=8)  # Asia/Shanghai, no daylight saving


@dataclass(frozen=True, slots=True)
class PandasFigures:
    consumption: float
    cost: float
    completeness: float
    # Use across gaps at the flat price, inside `cost`: the report prices it by the meter's
    # profile instead (an estimate), so the bench compares the cost of measured use.
    gap_cost: float = 0.0

    @property
    def measured_cost(self) -> float:
        return self.cost - self.gap_cost


def pandas_figures(
    config: SiteConfig, con: duckdb.DuckDBPyConnection, start: datetime, end: datetime
) -> dict[str, PandasFigures]:
    """Figures per meter over [start, end) (UTC instants at local midnights)."""
    raw = con.execute(
        "SELECT device, ts, value FROM readings WHERE site = ? AND ts >= ? AND ts <= ?",
        [config.site.id, _naive(start - timedelta(days=1)), _naive(end + timedelta(days=1))],
    ).df()
    steps = _classified(config, raw)
    inside = (steps["t0"] >= _naive(start)) & (steps["t1"] <= _naive(end))
    measured = steps[inside & steps["usage"].notna() & ~steps["gap"]]
    slot_start = measured["t0"].dt.floor("15min")
    crossing = (measured["t1"] > slot_start + pd.Timedelta(minutes=15)).sum()
    if crossing:
        raise RuntimeError(f"{crossing} measured steps cross a slot edge; pandas assumes none")
    gaps = steps[inside & steps["usage"].notna() & steps["gap"]]
    seconds = (end - start).total_seconds()
    out = {}
    for device in config.devices:
        mine = measured[measured["device"] == device.id]
        gap_use = float(gaps.loc[gaps["device"] == device.id, "usage"].sum())
        covered = float((mine["t1"] - mine["t0"]).dt.total_seconds().sum())
        use = float(mine["usage"].sum()) + gap_use
        cost, gap_cost = _cost(config, device.id, mine, gap_use)
        out[device.id] = PandasFigures(use, cost, covered / seconds, gap_cost)
    return out


def _classified(config: SiteConfig, raw: pd.DataFrame) -> pd.DataFrame:
    marks = [
        {"device": d.id, "ts": _naive(r.at), "value": r.start, "final": r.final, "reading": 0}
        for d in config.devices
        for r in (d.counter.resets if d.counter else [])
    ]
    frame = pd.concat([raw.assign(final=np.nan, reading=1), pd.DataFrame(marks)], ignore_index=True)
    frame = frame.sort_values(["device", "ts", "reading"], kind="stable")
    previous = frame.groupby("device", sort=False)[["ts", "value", "reading"]].shift()
    frame["t0"], frame["v0"], frame["r0"] = previous["ts"], previous["value"], previous["reading"]
    frame = frame[frame["t0"].notna() & ((frame["r0"] == 1) | (frame["reading"] == 1))]
    frame = frame.rename(columns={"ts": "t1", "value": "v1"})
    counters = {d.id: d.counter for d in config.devices if d.counter}
    mult = frame["device"].map({k: c.multiplier for k, c in counters.items()})
    modulus = frame["device"].map({k: c.modulus or np.nan for k, c in counters.items()})
    max_rate = frame["device"].map({k: c.max_rate or np.nan for k, c in counters.items()})
    slack = frame["device"].map({k: c.resolution * c.multiplier for k, c in counters.items()})
    gap_s = {d.id: config.energy.gap_intervals * d.interval_s for d in config.devices}
    dt = (frame["t1"] - frame["t0"]).dt.total_seconds()
    after = np.where(frame["reading"] == 0, frame["final"], frame["v1"])
    plain = (frame["r0"] == 1) & (frame["reading"] == 1)
    rise = (after - frame["v0"]) * mult
    ceiling = max_rate * dt / 3600 + slack
    wrapped = (frame["v1"] + modulus - frame["v0"]) * mult
    fell = plain & (frame["v1"] < frame["v0"])
    rolled = fell & (frame["v0"] < modulus) & (wrapped <= ceiling)
    bad = (~fell & ((rise < 0) | (rise > ceiling))) | (fell & ~rolled)
    frame["usage"] = np.where(rolled, wrapped, np.where(bad, np.nan, rise))
    frame["gap"] = dt > frame["device"].map(gap_s)
    return frame


def _cost(
    config: SiteConfig, device: str, measured: pd.DataFrame, gap_use: float
) -> tuple[float, float]:
    """The cost, and the part of it that prices use across gaps (time of use only)."""
    meter = next(d for d in config.devices if d.id == device)
    carrier = meter.kind.carrier
    tariff = next(t for t in config.tariffs if t.carrier is carrier)
    if tariff.tiers:
        return tiered_cost(tariff.tiers, 0.0, float(measured["usage"].sum()) + gap_use), 0.0
    local = measured["t0"] + _LOCAL
    minute = local.dt.hour * 60 + local.dt.minute
    period = pd.Series(TariffPeriod.FLAT.value, index=measured.index)
    for band in tariff.bands:
        period[(minute >= band.start) & (minute < band.end)] = band.period.value
    if tariff.critical_peak is not None:
        hot = local.dt.month.isin(tariff.critical_peak.months)
        for window in tariff.critical_peak.windows:
            inside = hot & (minute >= window.start) & (minute < window.end)
            period[inside] = TariffPeriod.CRITICAL_PEAK.value
    use = measured["usage"].groupby(period).sum()
    prices = {p.value: tariff.price(p) or 0.0 for p in PERIODS}
    flat = tariff.price(TariffPeriod.FLAT) or 0.0
    gap_cost = gap_use * flat
    return float(sum(use.get(p, 0.0) * prices[p] for p in prices)) + gap_cost, gap_cost


def _naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)
