"""The words of the register and calibration pages, in Chinese (default) and English,
added to the shell's catalogue (`web.i18n.CATALOGUE`) when the page modules load. Kept apart
from `web.i18n` so each page's block has one owner; `test_web_shell` checks that both
languages carry the same keys. The columns of the registers and of the energy report are not
here: they come from the documents' own labels (`alerts.register_export.labels`,
`energy.labels`), so a page and its PDF say the same thing."""

from __future__ import annotations

from dashboard_api.web.i18n import CATALOGUE

__all__ = ["add_words"]


def add_words(zh: dict[str, str], en: dict[str, str]) -> None:
    """Add a page's words to the catalogue: both languages, the same keys, no key taken."""
    if set(zh) != set(en):
        raise ValueError(f"words in one language only: {sorted(set(zh) ^ set(en))}")
    taken = [k for k in zh if CATALOGUE["zh"].get(k, zh[k]) != zh[k]]
    if taken:
        raise ValueError(f"catalogue keys already taken: {taken}")
    CATALOGUE["zh"].update(zh)
    CATALOGUE["en"].update(en)


_ZH = {
    "reg.title": "食品安全记录",
    "reg.tab.temperature-log": "温度记录",
    "reg.tab.disinfection": "餐具消毒",
    "reg.tab.sample-retention": "食品留样",
    "reg.tab.calibration": "探头校准",
    "reg.tabs": "记录种类",
    "reg.filters": "期间与设备",
    "reg.start": "开始日期",
    "reg.end": "结束日期",
    "reg.device": "设备",
    "reg.all_devices": "全部设备",
    "reg.show": "查看",
    "reg.this_month": "本月",
    "reg.last_month": "上月",
    "reg.download": "下载",
    "reg.download_pdf": "PDF（打印版）",
    "reg.download_xlsx": "Excel 表格",
    "reg.print": "打印",
    "reg.period": "期间",
    "reg.generated": "生成时间",
    "reg.overdue_title": "探头校准逾期",
    "reg.overdue_count": "（{n} 个探头）",
    "reg.overdue_list": "查看探头清单",
    "reg.overdue_intro": "以下探头没有有效的合格校准；依据这些探头的记录行已标注“校准”。",
    "reg.overdue_last": "最近合格校准：{at}（{by}）",
    "reg.overdue_never": "从未校准",
    "reg.overdue_action": "去记录校准",
    "reg.empty": "所选期间没有记录。",
    "reg.empty_devices": "本校没有需要此记录的设备。",
    "reg.rows": "{n} 行",
    "reg.amended": "已更正",
    "reg.amended_note": "标“已更正”的行：后到的数据改变了原判定，原判定及更正依据见说明栏。",
    "reg.persons": "记录中的人员",
    "reg.persons_none": "本期间记录中没有签字人员。",
    "reg.sign_inspector": "检查人签字",
    "reg.sign_manager": "食堂负责人签字",
    "reg.sign_date": "日期",
    "reg.not_running": "本服务未运行报警与记录模块，无法显示记录。",
    "reg.no_calibration": "本服务未开启探头校准记录，无法显示记录。",
    "reg.unknown": "没有名为“{name}”的记录。可查看的记录：{known}。",
    "reg.problem_title": "无法显示此页面",
    "reg.problem_back": "返回默认期间",
    "reg.refused_role": "记录校准需要值班人员或管理员权限；当前账号只能查看。",
    "cal.form_title": "记录一次探头校准",
    "cal.form_intro": "校准人为当前登录人员（{name}）。冰点法：探头放入冰水混合物，标准为 0 °C。",
    "cal.device": "设备（探头）",
    "cal.choose_device": "请选择设备",
    "cal.method": "方法",
    "cal.method.ice_point": "冰点法（冰水混合物 0 °C）",
    "cal.method.reference": "与标准温度计比对",
    "cal.reference_c": "标准读数 °C",
    "cal.probe_c": "探头读数 °C",
    "cal.note": "备注（可选）",
    "cal.corrective_action": "纠正措施（不合格时必填）",
    "cal.corrective_hint": "如：探头已调整、已更换、已停用并改用人工测温。",
    "cal.submit": "保存校准记录",
    "cal.errors": "校准记录未保存，请修改后再提交：",
    "cal.saved_pass": "已记录：{device} 校准合格（偏差 {diff} K，允差 ±{tol} K）。",
    "cal.saved_fail": "已记录：{device} 校准不合格（偏差 {diff} K，允差 ±{tol} K）。"
    "纠正措施：{action}",
    "cal.viewer_note": "您的账号只能查看。记录校准需要值班人员或管理员权限。",
    "cal.bad_number": "“{value}”不是数字；请输入如 0.3 或 -18.5 的温度。",
    "cal.required": "必填。",
    "cal.bad_method": "请选择冰点法或标准温度计比对。",
    "cal.bad_device": "请从列表中选择一个有温度探头的设备。",
    "cal.needs_action": "校准结果超出允差（不合格），必须填写纠正措施。",
    "cal.too_long": "最多 {n} 个字。",
}

_EN = {
    "reg.title": "Food-safety registers",
    "reg.tab.temperature-log": "Temperature log",
    "reg.tab.disinfection": "Disinfection",
    "reg.tab.sample-retention": "Food samples",
    "reg.tab.calibration": "Probe calibration",
    "reg.tabs": "Registers",
    "reg.filters": "Period and device",
    "reg.start": "From",
    "reg.end": "To",
    "reg.device": "Device",
    "reg.all_devices": "All devices",
    "reg.show": "Show",
    "reg.this_month": "This month",
    "reg.last_month": "Last month",
    "reg.download": "Download",
    "reg.download_pdf": "PDF (print)",
    "reg.download_xlsx": "Excel workbook",
    "reg.print": "Print",
    "reg.period": "Period",
    "reg.generated": "Generated",
    "reg.overdue_title": "Probe calibration overdue",
    "reg.overdue_count": "({n} probes)",
    "reg.overdue_list": "Show the probes",
    "reg.overdue_intro": "These probes have no passing check in date; the register lines that "
    "rely on them carry the calibration flag.",
    "reg.overdue_last": "Last passing check: {at} ({by})",
    "reg.overdue_never": "never checked",
    "reg.overdue_action": "Record a check",
    "reg.empty": "No entries in this period.",
    "reg.empty_devices": "This site has no device this register is kept for.",
    "reg.rows": "{n} lines",
    "reg.amended": "corrected",
    "reg.amended_note": "Lines marked “corrected”: data received later changed the first "
    "verdict; the reason column gives the earlier verdict and what corrected it.",
    "reg.persons": "Persons in this record",
    "reg.persons_none": "Nobody signed anything in this period.",
    "reg.sign_inspector": "Inspector's signature",
    "reg.sign_manager": "Canteen manager's signature",
    "reg.sign_date": "Date",
    "reg.not_running": "This service does not run the alerts and registers, so there is no "
    "register to show.",
    "reg.no_calibration": "This service has no probe calibration register open, so there is "
    "no register to show.",
    "reg.unknown": "There is no register called “{name}”. Registers: {known}.",
    "reg.problem_title": "This page cannot be shown",
    "reg.problem_back": "Back to the default period",
    "reg.refused_role": "Recording a calibration check needs the staff or admin role; this "
    "account may only view.",
    "cal.form_title": "Record a probe check",
    "cal.form_intro": "Checked by the person logged in ({name}). Ice point: the probe in "
    "iced water, reference 0 °C.",
    "cal.device": "Device (probe)",
    "cal.choose_device": "Choose a device",
    "cal.method": "Method",
    "cal.method.ice_point": "Ice point (iced water, 0 °C)",
    "cal.method.reference": "Beside a reference thermometer",
    "cal.reference_c": "Reference reading °C",
    "cal.probe_c": "Probe reading °C",
    "cal.note": "Note (optional)",
    "cal.corrective_action": "Corrective action (needed if it fails)",
    "cal.corrective_hint": "E.g. probe adjusted, replaced, or taken out of use with manual "
    "checks instead.",
    "cal.submit": "Save the check",
    "cal.errors": "The check was not saved; correct these and submit again:",
    "cal.saved_pass": "Recorded: {device} passed (off by {diff} K, tolerance ±{tol} K).",
    "cal.saved_fail": "Recorded: {device} FAILED (off by {diff} K, tolerance ±{tol} K). "
    "Corrective action: {action}",
    "cal.viewer_note": "This account may only view. Recording a check needs the staff or "
    "admin role.",
    "cal.bad_number": "“{value}” is not a number; enter a temperature such as 0.3 or -18.5.",
    "cal.required": "Required.",
    "cal.bad_method": "Choose ice point or reference thermometer.",
    "cal.bad_device": "Choose a device with a temperature probe from the list.",
    "cal.needs_action": "The probe reads outside its tolerance (a failed check): say what "
    "was done about it.",
    "cal.too_long": "At most {n} characters.",
}

add_words(_ZH, _EN)
