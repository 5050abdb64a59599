"""The words of the energy page, in Chinese (default) and English, added to the shell's
catalogue when the page module loads (see `web.i18n_registers`). The report's own words
(columns, categories, tariff periods, statuses) come from `energy.labels`, as in the PDF."""

from __future__ import annotations

from dashboard_api.web.i18n_registers import add_words

__all__: list[str] = []

add_words(
    {
        "energy.title": "能耗",
        "energy.period_kind": "报告期",
        "energy.kind.day": "日",
        "energy.kind.week": "周",
        "energy.kind.month": "月",
        "energy.month": "月份",
        "energy.week": "周（YYYY-Www）",
        "energy.date": "日期",
        "energy.building": "楼宇",
        "energy.all_buildings": "全部楼宇",
        "energy.show": "查看",
        "energy.previous": "上一期",
        "energy.next": "下一期",
        "energy.download": "下载报告",
        "energy.download_pdf": "PDF",
        "energy.download_xlsx": "Excel",
        "energy.download_csv": "CSV",
        "energy.until": "数据截至 {at}（{zone}）；之后的日期尚未到来，不计为缺失。",
        "energy.warnings": "计量提示",
        "energy.summary": "按楼宇与分项",
        "energy.charts": "图表",
        "energy.daily_note": "灰底：非上课日；斜线：缺失段用量（仅知总量）；红点：当天数据不全；"
        "“未到”：尚未发生。",
        "energy.anomalies": "异常",
        "energy.steps": "缺失与待核查（{n}）",
        "energy.steps_more": "另有 {n} 条未在此列出；下载 Excel 或 CSV 报告查看全部。",
        "energy.estimated": "含估算",
        "energy.estimated_note": "“含估算”：缺失段的用量只知总量，其电费按该表同类日负荷曲线"
        "分摊到各时段估算。",
        "energy.no_meters": "站点配置中没有能耗表计，无法生成能耗报告。",
        "energy.no_data": "所选期间没有任何表计数据。",
        "energy.cost_split": "分时电费",
        "energy.total_cost": "费用合计",
    },
    {
        "energy.title": "Energy",
        "energy.period_kind": "Report period",
        "energy.kind.day": "Day",
        "energy.kind.week": "Week",
        "energy.kind.month": "Month",
        "energy.month": "Month",
        "energy.week": "Week (YYYY-Www)",
        "energy.date": "Date",
        "energy.building": "Building",
        "energy.all_buildings": "All buildings",
        "energy.show": "Show",
        "energy.previous": "Previous",
        "energy.next": "Next",
        "energy.download": "Download the report",
        "energy.download_pdf": "PDF",
        "energy.download_xlsx": "Excel",
        "energy.download_csv": "CSV",
        "energy.until": "Data up to {at} ({zone}); later days have not happened yet and are not "
        "counted as gaps.",
        "energy.warnings": "Metering warnings",
        "energy.summary": "By building and category",
        "energy.charts": "Charts",
        "energy.daily_note": "Grey: no school; hatched: use across a gap (total known only); red "
        "dot: the day is not fully measured; “not yet”: has not happened.",
        "energy.anomalies": "Anomalies",
        "energy.steps": "Gaps and items for review ({n})",
        "energy.steps_more": "{n} more not listed here; the XLSX and CSV reports list them all.",
        "energy.estimated": "incl. estimate",
        "energy.estimated_note": "“incl. estimate”: use across a gap is known in total only; its "
        "cost is estimated by spreading it over the tariff periods by the meter's own profile "
        "on comparable days.",
        "energy.no_meters": "The site config has no energy meters, so there is no energy report.",
        "energy.no_data": "No meter sent any data in this period.",
        "energy.cost_split": "Cost by tariff period",
        "energy.total_cost": "Total cost",
    },
)
