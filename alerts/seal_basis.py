"""What a cold cabinet's door-seal verdicts rest on, read from its latest judged point.

A seal verdict is only as good as what the data shows of the compressor. The rule keeps up to
seven streams of evidence (`alerts.rules.seal_confirm.evidence_streams`), each present in a
point's evidence (`{prefix}evidence`) once its baseline was learned:

- cycles: each clean compressor cycle drawn by the probe's sawtooth (`seal_cusum`);
- rise: the warming half of the same cycles alone, its time or how far it rises
  (`seal_rise`);
- period: the cycle's period folded from a sparse probe's readings (`seal_fold`);
- probe share: the share of the probe's readings that fall, per hour (`seal_probe_duty`); on a
  coarse display read often, the compressor's duty read from the times between its steps
  (`probe_paced` in the evidence), which sees the compressor as a fold or a meter does;
- level: the mean of a sparse probe's readings above its low, per hour (`seal_level`);
- metered on-share and power: a plug meter's view of the compressor (`seal_duty`,
  `seal_power`).

A probe read every 5 min on a chest freezer that cycles every 12 min takes 2-3 readings a
cycle: no tooth can be read and no period folded, and the falling share stays near a half
whatever the compressor does (a bench unit's 0.6 leak more than doubled its on-share and was
never seen from the probe). Such a unit looks healthy on the page for want of evidence, not
because of it: the basis says so, with what would let the rule see the cycles. A probe that
reports on change instead of at a pace is judged on nothing read from its teeth
(`seal_reporting`): only on a plug meter beside it, and, where the site asks for it
(`seal_on_change_paces`), on the compressor's duty read from the times between its reported
steps (`probe_reported` in the evidence); the basis says which, or that the seal is not
judged, and how to set the sensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from core.records import SealHealthPoint

__all__ = ["STREAMS", "SealBasis", "seal_basis"]

# (evidence key prefix, the stream's name), as `seal_cold` names them.
STREAMS: tuple[tuple[str, str], ...] = (
    ("", "cycles"),
    ("rise_", "rise"),
    ("period_", "period"),
    ("probe_", "probe_share"),
    ("level_", "level"),
    ("duty_", "metered_duty"),
    ("power_", "power"),
)
_SEES_COMPRESSOR = ("period", "probe_paced", "metered_duty", "power")

_ZH = {
    "cycles": "探头锯齿波中的压缩机周期",
    "rise": "每个周期停机升温的时间或幅度",
    "period": "探头读数折叠出的周期长度",
    "probe_share": "探头读数下降的比例",
    "probe_paced": "探头读数台阶间隔推算的压缩机运行率",
    "level": "探头读数的平均温度",
    "metered_duty": "电表测得的运行比例",
    "power": "每个周期的功率",
}
_EN = {
    "cycles": "the compressor's cycles in the probe's sawtooth",
    "rise": "how long or how far each cycle warms with the compressor off",
    "period": "the cycle period folded from the probe's readings",
    "probe_share": "the share of the probe's readings that fall",
    "probe_paced": "the compressor's duty read from the probe's step times",
    "level": "the mean of the probe's readings",
    "metered_duty": "the metered on-share",
    "power": "the power per cycle",
}


@dataclass(frozen=True, slots=True)
class SealBasis:
    streams: tuple[str, ...]  # the evidence streams learned, in `STREAMS` order
    # The compressor's cycle is seen: the probe draws its teeth now (clean cycles in the
    # point's window), its period is folded, or a meter reads it.
    compressor_seen: bool
    # A plug meter reads the compressor's runs as a reading or two each, and no energy
    # counter reads its hours (`seal_power`: `meter_counts_runs`, `energy_counter`).
    counts_runs: bool = False
    # The probe reports on change: nothing read from its teeth is judged, a meter's streams
    # and the duty read from its reported steps' times alone (`seal_reporting`).
    on_change: bool = False
    reported: bool = False  # ... that duty is judged (`probe_reported`)
    # The evidence waits until then (UTC) while the cabinet recovers from an excursion: the
    # food gives back the heat it took in and the compressor works harder whatever the seal
    # (`seal_cold.recovery_ms`). The health shown meanwhile rests on the time before it.
    paused_until: datetime | None = None

    def text(self, interval_s: float, zone: tzinfo | None = None) -> dict[str, str]:
        """The basis in words (zh, en): what the verdicts rest on and, when the compressor is
        not seen, that a healthy score says little and what would help; where a plug meter
        counts runs, that its energy counter would read them finely. While the evidence waits
        out an excursion's recovery, that comes first, with the time it resumes (`zone`'s
        clock, UTC without one)."""
        told = self._told(interval_s)
        if self.paused_until is None:
            return told
        at = self.paused_until.astimezone(zone) if zone is not None else self.paused_until
        when = f"{at:%m-%d %H:%M}"
        return {
            "zh": (
                "柜内温度曾超出范围：食品放出吸收的热量期间，压缩机无论门封好坏都会多运行，"
                f"门封证据暂停到 {when}。" + told["zh"]
            ),
            "en": (
                "The cabinet was out of its band: while its food gives back the heat it took "
                "in, the compressor runs longer whatever the seal, so the seal's evidence "
                f"waits until {when}. " + told["en"]
            ),
        }

    def _told(self, interval_s: float) -> dict[str, str]:
        zh = "、".join(_ZH[s] for s in self.streams)
        en = ", ".join(_EN[s] for s in self.streams)
        # on change, what its reporting step leaves alone: a meter, the reported steps' pace
        judged = [
            s
            for s in self.streams
            if s in ("metered_duty", "power") or (self.reported and s == "probe_paced")
        ]
        if self.on_change and judged:
            zh_m = "、".join(_ZH[s] for s in judged)
            en_m = ", ".join(_EN[s] for s in judged)
            return {
                "zh": (
                    "探头按变化上报（温度变化一个设定步长才发一次读数），不是按固定间隔："
                    f"透过这个步长读出的压缩机周期在正常柜子上也会变动，门封只依据{zh_m}判断。"
                    "把传感器设为按固定间隔上报（例如每分钟）可以增加依据。"
                ),
                "en": (
                    "The probe reports on change (a reading when its value moves by a set "
                    "step), not at a fixed interval: the compressor's cycles read through that "
                    f"step move on a healthy cabinet too, so the seal is judged on {en_m} "
                    "alone. A sensor set to report at a fixed interval (every minute, say) "
                    "would add the probe's cycles."
                ),
            }
        if self.on_change:
            return {
                "zh": (
                    "探头按变化上报（温度变化一个设定步长才发一次读数），不是按固定间隔："
                    "透过这个步长读出的压缩机周期在正常柜子上也会变动，所以不据此判断门封，"
                    "也不会发出门封告警。请把传感器设为按固定间隔上报（例如每分钟），"
                    "或加装电表/功率读数。"
                ),
                "en": (
                    "The probe reports on change (a reading when its value moves by a set "
                    "step), not at a fixed interval: the compressor's cycles read through that "
                    "step move on a healthy cabinet too, so the seal is not judged and raises "
                    "no alert. Set the sensor to report at a fixed interval (every minute, "
                    "say), or add a power reading."
                ),
            }
        if self.compressor_seen and self.counts_runs:
            return {
                "zh": (
                    f"依据：{zh}。电表读数相对压缩机的运行太稀（每次运行只读到一两次），"
                    "每小时的运行比例只是几次运行的计数；插座若上报累计电量（energy_kwh），"
                    "可以精确读出。"
                ),
                "en": (
                    f"Judged on {en}. The plug's readings are sparse for the compressor's runs "
                    "(a reading or two each), so an hour's on-share is a count of a few runs; "
                    "the plug's energy counter (energy_kwh), where it reports one, reads it "
                    "finely."
                ),
            }
        if self.compressor_seen:
            return {"zh": f"依据：{zh}。", "en": f"Judged on {en}."}
        if "cycles" in self.streams:
            # Learned from the probe's teeth, none clean lately (a leak can take a sparse
            # probe's sawtooth away; so can a day of doors).
            rest = [s for s in self.streams if s != "cycles"]
            zh_rest = "、".join(_ZH[s] for s in rest) or "已有证据"
            en_rest = ", ".join(_EN[s] for s in rest) or "the evidence gathered so far"
            return {
                "zh": f"近期探头没有画出完整的压缩机周期：目前只能依据{zh_rest}判断。",
                "en": (
                    "The probe has drawn no clean compressor cycle lately: the seal is judged "
                    f"on {en_rest} for now."
                ),
            }
        minutes = f"{interval_s / 60:g}"
        return {
            "zh": (
                f"探头（每 {minutes} 分钟一次读数）分辨不出压缩机的周期，只能依据{zh}判断，"
                "门封漏气可能很晚才被发现或发现不了。每分钟读数的探头、或电表/功率读数可以看到周期。"
            ),
            "en": (
                f"The probe (a reading every {minutes} min) does not resolve the compressor's "
                f"cycle: the seal is judged on {en} alone, which shows a leak late or not at "
                "all. A probe read every minute, or a power reading, would show the cycles."
            ),
        }


def seal_basis(point: SealHealthPoint) -> SealBasis | None:
    """The basis of a judged point; None where it holds no stream (a steam cabinet, a point
    from before the streams were recorded)."""
    evidence = point.evidence
    streams = tuple(name for prefix, name in STREAMS if f"{prefix}evidence" in evidence)
    if not streams:
        return None
    if evidence.get("probe_paced") == 1:  # the share is read from the display's step times
        streams = tuple("probe_paced" if s == "probe_share" else s for s in streams)
    cycles = evidence.get("window_cycles")
    drawn = "cycles" in streams and isinstance(cycles, int | float) and cycles > 0
    seen = drawn or any(s in streams for s in _SEES_COMPRESSOR)
    counts = evidence.get("meter_counts_runs") == 1 and evidence.get("energy_counter") != 1
    on_change = evidence.get("probe_on_change") == 1
    reported = evidence.get("probe_reported") == 1
    return SealBasis(
        streams, seen, counts, on_change, reported=reported, paused_until=_paused_until(point)
    )


def _paused_until(point: SealHealthPoint) -> datetime | None:
    """When the point's evidence resumes after an excursion (`recovering_until`, UTC ISO),
    None where it does not wait or the time does not read."""
    until = point.evidence.get("recovering_until")
    if not isinstance(until, str):
        return None
    try:
        at = datetime.fromisoformat(until)
    except ValueError:
        return None
    return at if at.tzinfo is not None and at > point.ts else None
