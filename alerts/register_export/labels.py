"""Every word a register document prints, in Chinese (the default) and English."""

from __future__ import annotations

from typing import Literal

__all__ = ["Lang", "label"]

Lang = Literal["zh", "en"]

_LABELS: dict[str, tuple[str, str]] = {
    "register.temperature-log": ("温度记录表", "Temperature log"),
    "register.disinfection": ("餐具消毒记录", "Disinfection register"),
    "register.sample-retention": ("食品留样记录", "Food sample retention register"),
    "register.calibration": ("温度探头校准记录", "Probe calibration register"),
    "period": ("期间", "Period"),
    "generated": ("生成时间", "Generated"),
    "page": ("第 {n} 页，共 {of} 页", "Page {n} of {of}"),
    "persons": ("记录中的人员", "Persons in this record"),
    "inspector": ("检查人签字：", "Inspector's signature:"),
    "inspector.date": ("日期：", "Date:"),
    "none": ("（无记录）", "(no entries)"),
    "flag": ("校准", "Calibration"),
    # temperature log
    "temp.title": ("每日温度", "Daily temperatures"),
    "temp.date": ("日期", "Date"),
    "temp.device": ("设备", "Device"),
    "temp.band": ("范围 °C", "Band °C"),
    "temp.min": ("最低 °C", "Min °C"),
    "temp.max": ("最高 °C", "Max °C"),
    "temp.mean": ("平均 °C", "Mean °C"),
    "temp.out": ("超范围 分钟", "Out of band min"),
    "temp.food_min": ("食品最低 °C", "Food min °C"),
    "temp.food_max": ("食品最高 °C", "Food max °C"),
    "temp.food_mean": ("食品平均 °C", "Food mean °C"),
    "temp.food_out": ("食品超范围 分钟", "Food out of band min"),
    "temp.complete": ("数据完整率 %", "Completeness %"),
    # limit changes (the temperature log is judged by the limits in force each day)
    "limit.title": (
        "限值变更  (每天按当日有效的限值判定)",
        "Limit changes  (each day is judged by the limits in force that day)",
    ),
    "limit.at": ("变更时间", "Changed at"),
    "limit.device": ("设备", "Device"),
    "limit.field": ("限值", "Limit"),
    "limit.low_c": ("下限 °C", "Low °C"),
    "limit.high_c": ("上限 °C", "High °C"),
    "limit.before": ("原值", "Before"),
    "limit.after": ("新值", "After"),
    "limit.by": ("变更人", "Changed by"),
    "limit.reason": ("原因", "Reason"),
    # disinfection
    "dis.title": ("每餐消毒", "Disinfection per meal"),
    "dis.date": ("日期", "Date"),
    "dis.meal": ("餐次", "Meal"),
    "dis.device": ("消毒柜", "Cabinet"),
    "dis.status": ("结果", "Result"),
    "dis.cycle_start": ("开始", "Cycle start"),
    "dis.cycle_end": ("结束", "Cycle end"),
    "dis.max": ("最高 °C", "Max °C"),
    "dis.hold": ("保持 分钟", "Held min"),
    "dis.required": ("要求", "Required"),
    "dis.reason": ("说明", "Reason"),
    "dis.completeness": ("消毒记录完整率", "Share of meals compliant"),
    "status.compliant": ("合格", "compliant"),
    "status.incomplete": ("未达标", "incomplete"),
    "status.missed": ("未消毒", "missed"),
    "status.unconfirmed": ("待确认", "unconfirmed"),
    # retention
    "ret.title": ("留样冷藏", "Samples kept in band"),
    "ret.date": ("日期", "Date"),
    "ret.meal": ("餐次", "Meal"),
    "ret.device": ("留样柜", "Sample fridge"),
    "ret.status": ("结果", "Result"),
    "ret.start": ("开始", "From"),
    "ret.end": ("结束", "Until"),
    "ret.min": ("最低 °C", "Min °C"),
    "ret.max": ("最高 °C", "Max °C"),
    "ret.out": ("超范围 分钟", "Out of band min"),
    "ret.complete": ("数据完整率 %", "Completeness %"),
    "status.in_progress": ("留样中", "in progress"),
    "status.kept": ("合格", "kept"),
    "status.breached": ("超温", "breached"),
    "status.unverified": ("数据不足", "unverified"),
    # calibration
    "cal.title": ("校准记录", "Calibration checks"),
    "cal.at": ("校准时间", "Checked at"),
    "cal.device": ("设备", "Device"),
    "cal.method": ("方法", "Method"),
    "cal.reference": ("标准 °C", "Reference °C"),
    "cal.probe": ("探头 °C", "Probe °C"),
    "cal.difference": ("偏差 K", "Difference K"),
    "cal.tolerance": ("允差 K", "Tolerance K"),
    "cal.result": ("结果", "Result"),
    "cal.by": ("校准人", "By"),
    "cal.note": ("备注", "Note"),
    "cal.action": ("纠正措施", "Corrective action"),
    "cal.pass": ("合格", "pass"),
    "cal.fail": ("不合格", "fail"),
    "cal.ok": ("有效", "in date"),
    "cal.overdue": ("校准逾期", "overdue calibration"),
    "method.ice_point": ("冰点法 0 °C", "ice point 0 °C"),
    "method.reference": ("标准温度计比对", "reference thermometer"),
    "cal.status.title": ("探头校准状态", "Probe calibration status"),
    "cal.status.device": ("设备", "Device"),
    "cal.status.name": ("名称", "Name"),
    "cal.status.last": ("最近合格校准", "Last passing check"),
    "cal.status.by": ("校准人", "By"),
    "cal.status.due": ("下次到期", "Next due"),
    "cal.status.policy": ("允差 / 周期", "Tolerance / interval"),
    "cal.status.state": ("状态", "State"),
    # alerts handled
    "alerts.title": ("报警处置与签字", "Alerts handled and signed"),
    "alerts.id": ("编号", "No."),
    "alerts.device": ("设备", "Device"),
    "alerts.rule": ("报警", "Alert"),
    "alerts.fired": ("报警时间", "Raised"),
    "alerts.ack_by": ("确认人", "Acknowledged by"),
    "alerts.ack_at": ("确认时间", "Acknowledged at"),
    "alerts.closed_by": ("关闭人", "Closed by"),
    "alerts.closed_at": ("关闭时间", "Closed at"),
    "alerts.action": ("纠正措施", "Corrective action"),
    "alerts.food": ("食品处理", "Food"),
    "food.kept": ("保留", "kept"),
    "food.discarded": ("废弃", "discarded"),
    "rule.over_temperature": ("温度过高", "over temperature"),
    "rule.under_temperature": ("温度过低", "under temperature"),
    "rule.offline": ("设备离线", "offline"),
    "rule.site_offline": ("站点离线", "site offline"),
    "rule.sensor_fault": ("传感器故障", "sensor fault"),
    "rule.seal_degradation": ("门封老化", "door seal"),
    "rule.disinfection": ("消毒不合格", "disinfection"),
    "rule.disinfection_unconfirmed": ("消毒未确认", "disinfection unconfirmed"),
    "rule.sample_retention": ("留样超温", "sample retention"),
}


def label(key: str, lang: Lang, default: str | None = None) -> str:
    """The word for `key`; `default` (e.g. a status value the code learned after this table)
    when there is none, so a new status never stops a register from printing."""
    if key not in _LABELS and default is not None:
        return default
    zh, en = _LABELS[key]
    return en if lang == "en" else zh
