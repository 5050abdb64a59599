"""Every sentence an alert or a register shows a person, in Chinese (default) and English.

Kept in one module so wording stays consistent and a translator finds it all in one place.
Figures are rounded the way a cook reads a thermometer: one decimal for °C, whole minutes.
"""

from __future__ import annotations

from alerts.model import Message

__all__ = [
    "disinfection_reason",
    "disinfection_summary",
    "drift",
    "energy_anomaly",
    "energy_normal_again",
    "impossible_value",
    "meal_name",
    "neighbour_drift",
    "no_data_in_window",
    "offline",
    "out_of_band",
    "retention_breach",
    "seal",
    "seal_evidence",
    "seal_relearn",
    "site_offline",
    "spikes",
    "stuck",
    "with_compressor",
    "with_door_open",
]

_MEALS_ZH = {"breakfast": "早餐", "lunch": "午餐", "dinner": "晚餐", "supper": "夜宵"}


def meal_name(meal: str) -> Message:
    return Message(_MEALS_ZH.get(meal, meal), meal)


def out_of_band(label: str, value: float, limit: float, minutes: float, above: bool) -> Message:
    if above:
        return Message(
            f"{label} 温度 {value:.1f} °C，高于上限 {limit:.1f} °C 已持续 {minutes:.0f} 分钟",
            f"{label} at {value:.1f} °C, above its {limit:.1f} °C limit for {minutes:.0f} min",
        )
    return Message(
        f"{label} 温度 {value:.1f} °C，低于下限 {limit:.1f} °C 已持续 {minutes:.0f} 分钟",
        f"{label} at {value:.1f} °C, below its {limit:.1f} °C limit for {minutes:.0f} min",
    )


def with_compressor(base: Message, running: bool, minutes: float) -> Message:
    """An over-temperature message with what the cabinet's meter read the compressor doing,
    unchanged up to the alarm (`ExcursionRule._compressor_held`): where staff look first."""
    if running:
        return Message(
            f"{base.zh}。电表显示压缩机已连续运转 {minutes:.0f} 分钟仍未降温：请检查柜门是否关严、"
            "门封、冷凝器是否积尘或被挡、是否放入了热食；都正常则请报修",
            f"{base.en}. Its meter reads the compressor running without a break for "
            f"{minutes:.0f} min and the air has not come down: check the door is shut, the door "
            "seal, the condenser (dust, blocked air) and any warm food put in; if all are fine, "
            "call for service",
        )
    return Message(
        f"{base.zh}。电表显示压缩机已 {minutes:.0f} 分钟未运转：请检查电源并报修，"
        "食品请移至正常的冷柜",
        f"{base.en}. Its meter reads the compressor stopped for {minutes:.0f} min: check its "
        "power supply and call for service; move the food to a cabinet that works",
    )


def with_door_open(base: Message, minutes: float) -> Message:
    """An over-temperature message for a cabinet whose door contact has read the door open
    through the whole spell."""
    return Message(
        f"{base.zh}。门磁显示柜门已打开 {minutes:.0f} 分钟：请关好柜门，再核查食品温度",
        f"{base.en}. Its door contact reads the door open for {minutes:.0f} min: shut it, then "
        "check the food's temperature",
    )


def offline(label: str, minutes: float, last_will: bool) -> Message:
    if last_will:
        return Message(
            f"{label} 已断开连接（设备遗嘱消息），{minutes:.0f} 分钟无数据",
            f"{label} disconnected (its Last Will was published); no data for {minutes:.0f} min",
        )
    return Message(
        f"{label} 已 {minutes:.0f} 分钟无数据，可能离线", f"{label} silent for {minutes:.0f} min"
    )


def site_offline(site: str, devices: int, minutes: float) -> Message:
    return Message(
        f"{site} 全部 {devices} 台设备 {minutes:.0f} 分钟无数据：请检查网关、网络或消息服务器",
        f"all {devices} devices of {site} silent for {minutes:.0f} min: check the gateway, "
        "network or broker",
    )


def impossible_value(label: str, value: float, low: float, high: float) -> Message:
    return Message(
        f"{label} 探头读数 {value:.1f} °C 不可能（合理范围 {low:.0f} 至 {high:.0f} °C），"
        "请检查探头",
        f"{label} probe reads {value:.1f} °C, which is impossible here (plausible "
        f"{low:.0f} to {high:.0f} °C): check the probe",
    )


def stuck(label: str, value: float, minutes: float, compressor: str | None = None) -> Message:
    """`compressor`: "cycled" where a meter read it start or stop meanwhile, "unmetered" for a
    cold cabinet with no meter (its air may be at rest), None for a heated cabinet. Neither
    proves the probe stuck: a probe with a lag reads a short cycle's swing under its display
    step (`alerts.rules.sensor`), so the staff are sent to the cabinet's own thermometer."""
    zh = f"{label} 探头读数 {minutes:.0f} 分钟保持 {value:.1f} °C 不变"
    en = f"{label} probe has read exactly {value:.1f} °C for {minutes:.0f} min"
    if compressor == "cycled":
        return Message(
            f"{zh}，其间压缩机有启停：探头可能卡滞；请用柜上温度计核对",
            f"{en} while its compressor started and stopped: it may be stuck; compare with "
            "the cabinet's own thermometer",
        )
    if compressor == "unmetered":
        return Message(
            f"{zh}：探头可能卡滞，或压缩机一直运转或已停机、柜内空气静止；请用柜上温度计核对",
            f"{en}: it may be stuck, or the air is at rest with the compressor running without "
            "a stop or stopped; compare with the cabinet's own thermometer",
        )
    return Message(f"{zh}，探头可能卡滞", f"{en}: it may be stuck")


def spikes(label: str, count: int, minutes: float, jump: float) -> Message:
    return Message(
        f"{label} 探头 {minutes:.0f} 分钟内出现 {count} 次瞬时跳变（最大 {jump:.1f} K），"
        "请检查探头和线缆",
        f"{label} probe jumped and came straight back {count} times in {minutes:.0f} min "
        f"(up to {jump:.1f} K): check the probe and its cable",
    )


def neighbour_drift(label: str, neighbour: str, usual: float, now: float) -> Message:
    shift = now - usual
    return Message(
        f"{label} 与同柜探头 {neighbour} 的温差由 {usual:+.1f} K 变为 {now:+.1f} K"
        f"（{shift:+.1f} K），其中一个探头疑似漂移，请用参考温度计校准",
        f"{label} and {neighbour} in the same cabinet usually differ by {usual:+.1f} K, now by "
        f"{now:+.1f} K ({shift:+.1f} K): one of the probes has drifted; check both against a "
        "reference thermometer",
    )


def drift(label: str, shift: float, learned: float, now: float) -> Message:
    return Message(
        f"{label} 探头疑似漂移 {shift:+.1f} K：压缩机启动时读数由 {learned:.1f} °C 变为 "
        f"{now:.1f} °C，请用参考温度计校准",
        f"{label} probe seems to have drifted {shift:+.1f} K: it read {learned:.1f} °C when "
        f"the compressor started, now {now:.1f} °C; check it against a reference thermometer",
    )


def seal(
    label: str,
    health: float,
    evidence_zh: list[str],
    evidence_en: list[str],
    kitchen_alike: bool = False,
) -> Message:
    """`kitchen_alike`: nothing reads the kitchen (no kitchen probe, no plug meter whose draw
    infers it), and a kitchen warmer than usual moves the evidence the same way as a leak
    (`seal_ambient`): the staff who check the seal are asked to note how warm the kitchen
    is, which tells a hot spell from a leak."""
    zh_note = "；厨房比平时热时这些读数也会同样变化，检查时请记下厨房温度" if kitchen_alike else ""
    en_note = (
        "; a kitchen warmer than usual moves these readings the same way, so note how warm the "
        "kitchen is when you check"
        if kitchen_alike
        else ""
    )
    return Message(
        f"{label} 门封健康度 {health:.2f}（1 为正常）："
        + "；".join(evidence_zh)
        + "。请检查门封"
        + zh_note,
        f"{label} door-seal health {health:.2f} (1 is as new): "
        + "; ".join(evidence_en)
        + ". Check the door seal"
        + en_note,
    )


SEAL_FEATURES = {
    "duty": ("压缩机运行率", "compressor duty"),
    "probe_duty": ("探头读数下降占比", "share of falling probe readings"),
    "probe_paced": (
        "探头读数台阶间隔推算的压缩机运行率",
        "compressor duty read from the probe's step times",
    ),
    "cycling": ("压缩机每小时启停次数", "compressor cycles per hour"),
    "level": ("空气平均温度高出其常见低点", "mean air temperature above its usual low"),
    "warm_rate": ("停机回温速率", "warming rate with the compressor off"),
    "pull_down": ("降温时间", "pull-down time"),
    "energy": ("能耗", "energy use"),
    "heat_up": ("升温时间", "heat-up time"),
    "plateau": ("保温温度", "plateau temperature"),
    "cycle_energy": ("每次能耗", "energy per cycle"),
}


def seal_relearn(label: str, by: str, reason: str) -> Message:
    return Message(
        f"{label} 门封基线重新学习（{by}：{reason}），学习期间不评估门封",
        f"{label} door-seal baseline re-learned ({by}: {reason}); not judged while it learns",
    )


def seal_evidence(feature: str, base: str, now: str, change: float) -> tuple[str, str]:
    """One line of seal evidence: what moved, from what to what, by how much."""
    zh, en = SEAL_FEATURES[feature]
    return f"{zh} {base} → {now}（{change:+.0%}）", f"{en} {base} → {now} ({change:+.0%})"


def disinfection_reason(
    status: str, max_c: float | None, hold_min: float | None, threshold: float, required: float
) -> Message:
    if status == "missed":
        return Message("窗口内无消毒记录", "no disinfection cycle in the window")
    if status == "compliant":
        return Message(
            f"最高 {max_c or 0:.1f} °C，≥{threshold:.1f} °C 保持 {hold_min or 0:.0f} 分钟",
            f"reached {max_c or 0:.1f} °C, held ≥{threshold:.1f} °C for {hold_min or 0:.0f} min",
        )
    if max_c is None or max_c < threshold:
        return Message(
            f"温度不足：最高 {max_c or 0:.1f} °C，未达到 {threshold:.1f} °C",
            f"under temperature: reached only {max_c or 0:.1f} °C, below {threshold:.1f} °C",
        )
    return Message(
        f"保持时间不足：≥{threshold:.1f} °C 仅 {hold_min or 0:.1f} 分钟，要求 {required:.0f} 分钟",
        f"held ≥{threshold:.1f} °C for only {hold_min or 0:.1f} min of the {required:.0f} min "
        "required",
    )


def no_data_in_window() -> Message:
    return Message(
        "窗口内消毒柜无数据，无法证明已消毒", "no data from the cabinet in the window: no proof"
    )


def unconfirmed_reason(silent_since: str | None) -> Message:
    """A meal judged while the cabinet was silent; `silent_since`: local HH:MM of its last
    reading (None: it never sent one)."""
    if silent_since is None:
        return Message("未确认：消毒柜无数据", "unconfirmed: no data from the cabinet")
    return Message(
        f"未确认：消毒柜自 {silent_since} 起无数据",
        f"unconfirmed: cabinet silent since {silent_since}",
    )


def disinfection_unconfirmed(label: str, meal: Message, day: str, reason: Message) -> Message:
    return Message(
        f"{label} {day} {meal.zh}消毒{reason.zh}。请到现场检查消毒柜，并人工核对该餐餐具是否已消毒",
        f"{label}: {meal.en} {day} disinfection {reason.en}. Check the cabinet on site and "
        "whether that meal's tableware was disinfected",
    )


def amendment_note(confirmed: bool, received_at: str) -> Message:
    """Why a register line changed: data received later (local time) decided it."""
    if confirmed:
        return Message(
            f"已根据 {received_at} 收到的数据确认", f"confirmed from data received at {received_at}"
        )
    return Message(
        f"已根据 {received_at} 收到的数据更正", f"corrected from data received at {received_at}"
    )


def disinfection_summary(label: str, meals: list[tuple[Message, str, Message]]) -> Message:
    """`meals`: (meal name, local date, reason) of each non-compliant meal of this alert."""
    zh = "；".join(f"{d} {m.zh}：{r.zh}" for m, d, r in meals)
    en = "; ".join(f"{m.en} {d}: {r.en}" for m, d, r in meals)
    return Message(
        f"{label} 餐后消毒不合格 {len(meals)} 餐 — {zh}",
        f"{label}: tableware disinfection not compliant for {len(meals)} meal(s) — {en}",
    )


def retention_breach(
    label: str, meal: Message, day: str, status: str, out_min: float, completeness: float
) -> Message:
    if status == "unverified":
        return Message(
            f"{label} {day} {meal.zh}留样无法证明全程冷藏：数据完整率仅 {completeness:.0%}",
            f"{label}: the {meal.en} samples of {day} cannot be shown kept cold: only "
            f"{completeness:.0%} of the retention period has readings",
        )
    return Message(
        f"{label} {day} {meal.zh}留样存放期间超出温度范围（累计 {out_min:.0f} 分钟）",
        f"{label}: the {meal.en} samples of {day} left the temperature band "
        f"({out_min:.0f} min out of band so far)",
    )


def energy_anomaly(label: str, title: Message, evidence: Message) -> Message:
    """An energy anomaly raised as an alert: the meter, what kind, and the figures behind it."""
    return Message(f"{label}：{title.zh}，{evidence.zh}", f"{label}: {title.en}, {evidence.en}")


def energy_normal_again(label: str, title: Message, day: str) -> Message:
    return Message(
        f"{label}：{title.zh}已消失（{day} 起的一整天数据正常）",
        f"{label}: {title.en} is gone (a whole day of normal data from {day})",
    )
