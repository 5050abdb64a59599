"""Checks on the sub-metering (分项计量) below a main meter, before its shares are shown.

A sub-meter measures part of what its main meter measures, so it can never use more. One that
does is a metering error (wired to the wrong circuit, a wrong CT multiplier, a wrong parent in
the config), not 198 % of the building: it is flagged and its share is not charted. Likewise
when the sub-meters together exceed the main meter. Meters are allowed their accuracy class
first: IEC 62053-21 class 1 (the usual class of sub-meters) reads within ±1 %.

Unaccounted use (main − Σ sub) is only known when every meter involved is known for the whole
period: a gap across the period's edge or one without a value leaves a meter's use short, and
the difference would be a large negative number that means nothing. It is "not known", with
the meters and hours that make it so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.model import Carrier
from energy.figures import Figures
from energy.labels import Lang
from energy.meters import Meter

__all__ = ["LineStatus", "ReportWarning", "WarningKind", "check_sub_metering"]

# IEC 62053-21 accuracy class 1: ±1 % of the reading.
ACCURACY = 0.01
# Less unbooked time than this is rounding in the store's seconds, not a hole.
_UNBOOKED_MIN_S = 1.0


class LineStatus(StrEnum):
    OK = "ok"
    METERING_ERROR = "metering_error"  # a sub-meter above its parent: not charted as a share
    NOT_KNOWN = "not_known"  # unaccounted, with a meter not known for the whole period


class WarningKind(StrEnum):
    SUB_EXCEEDS_PARENT = "sub_exceeds_parent"
    SUBS_EXCEED_MAIN = "subs_exceed_main"
    UNACCOUNTED_NOT_KNOWN = "unaccounted_not_known"


@dataclass(frozen=True, slots=True)
class ReportWarning:
    kind: WarningKind
    building: str
    carrier: Carrier
    meters: tuple[str, ...]  # the meters at fault (sub-meters, or those not fully known)
    parent: tuple[str, ...]  # the main meters they are compared with
    value: float  # their use, or the hours not known
    reference: float  # the main meters' use

    def message(self, lang: Lang = "zh") -> str:
        unit, meters, parent = self.carrier.unit, "、".join(self.meters), "、".join(self.parent)
        pct = self.value / self.reference * 100 if self.reference else float("inf")
        if self.kind is WarningKind.UNACCOUNTED_NOT_KNOWN:
            if lang == "zh":
                return (
                    f"未分项用量未知：{meters} 有 {self.value:.1f} 小时未计量（缺失跨越统计期边界、"
                    "无有效读数或待核查），总表减分表没有意义"
                )
            return (
                f"unaccounted use not known: {', '.join(self.meters)} not measured for "
                f"{self.value:.1f} h (a gap across the period's edge, without a valid reading, "
                "or held for review), so main − sub means nothing"
            )
        what = (
            ("分表", "sub-meter")
            if self.kind is WarningKind.SUB_EXCEEDS_PARENT
            else ("分表合计", "sub-meters together")
        )
        if lang == "zh":
            return (
                f"计量错误：{what[0]} {meters} 用量 {self.value:,.1f} {unit}，超过总表 {parent} 的 "
                f"{self.reference:,.1f} {unit}（{pct:.0f}%）；请核查接线、倍率或所属总表，"
                "不计入分项占比"
            )
        return (
            f"metering error: {what[1]} {', '.join(self.meters)} used {self.value:,.1f} {unit}, "
            f"more than main meter {', '.join(self.parent)} ({self.reference:,.1f} {unit}, "
            f"{pct:.0f}%); check the wiring, the multiplier or the parent; not charted as a share"
        )


def check_sub_metering(
    building: str, mains: Sequence[Meter], subs: Sequence[Meter], now: dict[str, Figures]
) -> list[ReportWarning]:
    """What is wrong with the sub-metering below `mains` over the period of `now`: a sub-meter
    above its parent is judged wherever both are known; the rest only when all are."""
    carrier, parents = mains[0].carrier, tuple(m.id for m in mains)
    unknown = [m.id for m in (*mains, *subs) if now[m.id].unbooked_s > _UNBOOKED_MIN_S]
    main_use = sum(now[m.id].consumption for m in mains)
    out = [w for sub in subs if (w := _above_parent(building, sub, now, unknown)) is not None]
    if unknown:
        hours = max(now[m].unbooked_s for m in unknown) / 3600
        kind = WarningKind.UNACCOUNTED_NOT_KNOWN
        out.append(ReportWarning(kind, building, carrier, tuple(unknown), parents, hours, main_use))
        return out
    total_sub = sum(now[m.id].consumption for m in subs)
    if not out and total_sub > main_use * (1 + ACCURACY):
        ids = tuple(m.id for m in subs)
        kind = WarningKind.SUBS_EXCEED_MAIN
        out.append(ReportWarning(kind, building, carrier, ids, parents, total_sub, main_use))
    return out


def _above_parent(
    building: str, sub: Meter, now: dict[str, Figures], unknown: Sequence[str]
) -> ReportWarning | None:
    parent = sub.device.parent or ""
    if parent not in now or parent in unknown or sub.id in unknown:
        return None
    mine, theirs = now[sub.id].consumption, now[parent].consumption
    if mine <= theirs * (1 + ACCURACY):
        return None
    kind = WarningKind.SUB_EXCEEDS_PARENT
    return ReportWarning(kind, building, sub.carrier, (sub.id,), (parent,), mine, theirs)
