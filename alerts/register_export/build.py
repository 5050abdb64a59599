"""The four registers as documents: the rows each register holds for a period, with the
calibration flag of the probe behind each row (`alerts.calibration`) and the persons recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts import registers
from alerts.register_bands import Band, BandSpan, LimitChange
from alerts.register_export.documents import (
    CalibrationFlags,
    Cell,
    RegisterDocument,
    RegisterName,
    RegisterSources,
    Table,
    alert_table,
    calibration_summary,
    local_bounds,
    register_devices,
)
from alerts.register_export.labels import Lang, label
from core.model import Device
from core.records import DisinfectionAmendment

__all__ = ["build_document"]


def build_document(
    sources: RegisterSources,
    name: RegisterName,
    device: Device | None,
    first: date,
    last: date,
    now: datetime,
    lang: Lang = "zh",
) -> RegisterDocument:
    """The register `name` of `device` (None: all its devices) for the local dates
    first..last as of `now`. Raises `RegisterKindError` for a device it is not kept for."""
    devices = register_devices(sources.config, name, device)
    builder = {
        RegisterName.TEMPERATURE_LOG: _temperature_tables,
        RegisterName.DISINFECTION: _disinfection_tables,
        RegisterName.SAMPLE_RETENTION: _retention_tables,
        RegisterName.CALIBRATION: _calibration_tables,
    }[name]
    tables, persons = builder(sources, devices, first, last, now, lang)
    span = local_bounds(sources.config, first, last)
    handled, signed = alert_table(sources, name, devices, span, lang)
    if name is not RegisterName.CALIBRATION:
        tables.append(handled)
    zone = sources.config.site.zone
    return RegisterDocument(
        name=name,
        lang=lang,
        site_name=sources.config.site.name,
        title=label(f"register.{name.value}", lang),
        first=first,
        last=last,
        generated_at=now.astimezone(zone).replace(tzinfo=None, microsecond=0),
        tables=tables,
        persons=sorted(set(persons + signed)),
    )


Built = tuple[list[Table], list[str]]


def _temperature_tables(
    sources: RegisterSources,
    devices: Sequence[Device],
    first: date,
    last: date,
    now: datetime,
    lang: Lang,
) -> Built:
    rows: list[list[Cell]] = []
    flags = CalibrationFlags(sources, now, lang)
    zone = sources.config.site.zone
    span = local_bounds(sources.config, first, last)
    changes: list[LimitChange] = []
    for device in devices:
        air = sources.air(device) if sources.air is not None else None
        history = None if sources.limit_history is None else sources.limit_history(device, *span)
        log = registers.temperature_log(
            sources.registers, sources.config, device, first, last, now, air=air, history=history
        )
        changes += log.changes
        for day in log.days:
            start = datetime.combine(day.day, time(0), tzinfo=zone)
            flag = flags(device, start, start + timedelta(days=1))
            rows.append(
                [
                    day.day,
                    device.id,
                    _day_band(log.day_bands.get(day.day, []), (log.low_c, log.high_c), zone),
                    day.min_c,
                    day.max_c,
                    _round(day.mean_c, 2),
                    # A day without a reading is not "0 minutes out of band": blank, as its
                    # min and max are (its completeness 0 % says why).
                    None if day.min_c is None else round(day.minutes_out_of_band, 1),
                    day.product_min_c,
                    day.product_max_c,
                    _round(day.product_mean_c, 2),
                    None
                    if day.product_min_c is None
                    else _round(day.product_minutes_out_of_band, 1),
                    round(day.completeness * 100, 1),
                    flag,
                ]
            )
    keys: tuple[str, ...] = ("date", "device", "band", "min", "max", "mean", "out")
    keys += ("food_min", "food_max", "food_mean", "food_out", "complete")
    header = [label(f"temp.{k}", lang) for k in keys] + [label("flag", lang)]
    widths = [1.0, 1.1, 0.8, 0.7, 0.7, 0.7, 0.8, 0.8, 0.8, 0.8, 0.9, 0.8, 1.6]
    daily = Table(label("temp.title", lang), header, rows, widths)
    if not changes:
        return [daily], []
    return [daily, _changes_table(changes, zone, lang)], [c.by for c in changes]


def _day_band(spans: Sequence[BandSpan], now_band: Band, zone: ZoneInfo) -> str | None:
    """The day's band; on a day a limit changed, each band from the local time it held
    ("0 – 8 → 0 – 10 (14:05)")."""
    if not spans:
        return _band(*now_band)
    shown = [_band(*spans[0].band) or "–"]
    for later in spans[1:]:
        at = later.start.astimezone(zone).strftime("%H:%M")
        shown.append(f"{_band(*later.band) or '–'} ({at})")
    return " → ".join(shown)


def _changes_table(changes: Sequence[LimitChange], zone: ZoneInfo, lang: Lang) -> Table:
    """When an admin changed a band limit in the period, from what to what, who and why: the
    days on either side are judged by their own limits."""
    rows: list[list[Cell]] = [
        [
            c.at.astimezone(zone).replace(tzinfo=None, microsecond=0),
            c.device,
            label(f"limit.{c.field}", lang),
            c.before,
            c.after,
            c.by,
            c.reason,
        ]
        for c in sorted(changes, key=lambda c: (c.at, c.device, c.field))
    ]
    keys = ("at", "device", "field", "before", "after", "by", "reason")
    header = [label(f"limit.{k}", lang) for k in keys]
    widths = [1.3, 1.1, 0.9, 0.8, 0.8, 1.0, 3.0]
    return Table(label("limit.title", lang), header, rows, widths)


def _disinfection_tables(
    sources: RegisterSources,
    devices: Sequence[Device],
    first: date,
    last: date,
    now: datetime,
    lang: Lang,
) -> Built:
    site = sources.config.site.id
    by_id = {d.id: d for d in devices}
    device = devices[0].id if len(devices) == 1 else None
    records = [
        r
        for r in sources.registers.disinfection_records(site, first, last, device)
        if r.device in by_id
    ]
    zone = sources.config.site.zone
    rows: list[list[Cell]] = []
    flags = CalibrationFlags(sources, now, lang)
    for r in records:
        flag = flags(by_id[r.device], r.window_start, r.window_end)
        rows.append(
            [
                r.service_date,
                r.meal,
                r.device,
                label(f"status.{r.status.value}", lang, r.status.value),
                _local(r.cycle_start, zone),
                _local(r.cycle_end, zone),
                r.max_temp_c,
                _round(r.hold_min, 1),
                f"≥{r.hold_threshold_c:g} °C {r.required_hold_min:g} min",
                _with_amendments(r.reason.in_language(lang), r.amendments, zone, lang),
                flag,
            ]
        )
    keys = ("date", "meal", "device", "status", "cycle_start", "cycle_end", "max", "hold")
    header = [label(f"dis.{k}", lang) for k in (*keys, "required", "reason")]
    header.append(label("flag", lang))
    widths = [1.0, 0.8, 1.0, 0.8, 1.3, 1.3, 0.7, 0.7, 1.3, 2.4, 1.6]
    summary = registers.disinfection_summary(records)
    title = label("dis.title", lang)
    if summary.completeness is not None:
        title += f"  ({label('dis.completeness', lang)} {summary.completeness * 100:.1f} %)"
    return [Table(title, header, rows, widths)], []


def _retention_tables(
    sources: RegisterSources,
    devices: Sequence[Device],
    first: date,
    last: date,
    now: datetime,
    lang: Lang,
) -> Built:
    site = sources.config.site.id
    by_id = {d.id: d for d in devices}
    device = devices[0].id if len(devices) == 1 else None
    records = sources.registers.retention_records(site, first, last, device)
    zone = sources.config.site.zone
    rows: list[list[Cell]] = []
    flags = CalibrationFlags(sources, now, lang)
    for r in (r for r in records if r.device in by_id):
        rows.append(
            [
                r.service_date,
                r.meal,
                r.device,
                label(f"status.{r.status.value}", lang, r.status.value),
                _local(r.start, zone),
                _local(r.end, zone),
                r.min_c,
                r.max_c,
                round(r.minutes_out_of_band, 1),
                round(r.completeness * 100, 1),
                flags(by_id[r.device], r.start, r.end),
            ]
        )
    keys = ("date", "meal", "device", "status", "start", "end", "min", "max", "out", "complete")
    header = [label(f"ret.{k}", lang) for k in keys] + [label("flag", lang)]
    widths = [1.0, 0.8, 1.0, 0.8, 1.3, 1.3, 0.7, 0.7, 0.8, 0.8, 1.6]
    return [Table(label("ret.title", lang), header, rows, widths)], []


def _calibration_tables(
    sources: RegisterSources,
    devices: Sequence[Device],
    first: date,
    last: date,
    now: datetime,
    lang: Lang,
) -> Built:
    start, end = local_bounds(sources.config, first, last)
    zone = sources.config.site.zone
    ids = {d.id for d in devices}
    device = devices[0].id if len(devices) == 1 else None
    checks = [
        c
        for c in sources.calibration.checks(sources.config.site.id, device, until=end)
        if c.device in ids and c.checked_at >= start
    ]
    rows: list[list[Cell]] = [
        [
            _local(c.checked_at, zone),
            c.device,
            label(f"method.{c.method.value}", lang),
            c.reference_c,
            c.probe_c,
            c.difference_k,
            c.tolerance_k,
            label("cal.pass" if c.passed else "cal.fail", lang),
            c.by,
            c.note,
            c.corrective_action,
        ]
        for c in checks
    ]
    keys: tuple[str, ...] = (
        "at",
        "device",
        "method",
        "reference",
        "probe",
        "difference",
        "tolerance",
    )
    keys += ("result", "by", "note", "action")
    header = [label(f"cal.{k}", lang) for k in keys]
    widths = [1.3, 1.0, 1.3, 0.7, 0.7, 0.7, 0.7, 0.7, 0.9, 1.6, 1.6]
    checked = Table(label("cal.title", lang), header, rows, widths)
    status = calibration_summary(sources, devices, now, lang)
    return [status, checked], [c.by for c in checks]


def _band(low: float | None, high: float | None) -> str | None:
    if low is None and high is None:
        return None
    if low is None:
        return f"≤ {high:g}"
    if high is None:
        return f"≥ {low:g}"
    return f"{low:g} – {high:g}"


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _local(at: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A naive local time: a spreadsheet cell holds no zone; the site's zone is the document's."""
    return None if at is None else at.astimezone(zone).replace(tzinfo=None)


def _with_amendments(
    reason: str, amendments: Sequence[DisinfectionAmendment], zone: ZoneInfo, lang: Lang
) -> str:
    """A corrected line's reason, then each earlier verdict, when it was given and what
    corrected it: an inspector sees that the line changed."""
    parts = [reason]
    for a in amendments:
        given = datetime.fromisoformat(a["decided_at"]).astimezone(zone)
        if lang == "en":
            parts.append(f"(was {a['reason_en']}, {given:%Y-%m-%d %H:%M}; {a['note_en']})")
        else:
            parts.append(f"（原判定：{a['reason_zh']}，{given:%Y-%m-%d %H:%M}；{a['note_zh']}）")
    return " ".join(parts)
