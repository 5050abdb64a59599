"""The words of a notification: every message says what happened (the rule's own sentence),
which device by its name and location, since when in the site's local time, the current value
and the limit with their unit, the severity and the acknowledge link; Chinese by default,
English when the notice's `lang` is "en".

One model of a message (`Section`s of labelled lines) is written out as plain text, as the
markdown subset a robot understands (`Dialect`), or as escaped HTML for e-mail; a digest lists
several alerts, most severe first, and says how many it left out. `truncate` keeps a message
within a vendor's byte limit, cutting at a line and saying where the rest is.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from alerts.notify.model import ENERGY_RULES, AlertFacts, Notice, NoticeKind
from core.records import Message, Severity

__all__ = [
    "DIGEST_SHOWN",
    "Dialect",
    "Section",
    "compose",
    "headline",
    "local_time",
    "render_html",
    "render_markdown",
    "render_text",
    "subject",
    "truncate",
]

# A digest lists this many alerts in full; the rest are counted (a phone screen, not a report).
DIGEST_SHOWN = 10

MORE = Message("…（更多内容请在监控平台查看）", "…(more in the dashboard)")
_SEVERITY = {
    Severity.CRITICAL: Message("严重", "critical"),
    Severity.WARNING: Message("警告", "warning"),
    Severity.INFO: Message("提示", "info"),
}
_TITLE = {
    NoticeKind.FIRED: Message("告警", "Alert"),
    NoticeKind.REMINDER: Message("告警提醒（仍未处理）", "Reminder (still open)"),
    NoticeKind.ESCALATED: Message("告警升级（无人处理）", "Escalated (nobody acted)"),
    NoticeKind.RESOLVED: Message("已恢复", "Resolved"),
    NoticeKind.DIGEST: Message("告警汇总", "Alert digest"),
}
_LABEL = {
    "what": Message("情况", "What"),
    "device": Message("设备", "Device"),
    "since": Message("开始时间", "Since"),
    "reading": Message("读数", "Reading"),
    "severity": Message("级别", "Severity"),
    "ack": Message("确认处理", "Acknowledge"),
    "status": Message("状态", "Status"),
    "told": Message("已通知", "Told before"),
}


class Dialect(StrEnum):
    """The markdown subset a receiver renders."""

    # WeCom robot markdown: headings, bold, links, quotes, <font color="info|comment|warning">
    # (developer.work.weixin.qq.com/document/path/91770, "markdown类型"). No lists.
    WECOM = "wecom"
    # DingTalk robot markdown: headings, bold, italic, links, quotes, ordered and unordered
    # lists (open.dingtalk.com/document/orgapp/message-type, "markdown类型").
    DINGTALK = "dingtalk"
    # Feishu/Lark card `lark_md`: bold, italic, links; the card header carries the title
    # (open.feishu.cn, message card "lark_md"), so no heading inside.
    FEISHU = "feishu"


@dataclass(frozen=True, slots=True)
class Section:
    """One block of a message: an optional heading, labelled lines, an optional link."""

    heading: str | None
    lines: tuple[tuple[str, str], ...]
    link: tuple[str, str] | None = None  # (label, url)


def _say(message: Message, lang: str) -> str:
    return message.in_language(lang)


def local_time(instant: datetime, zone: str, with_date: bool = True) -> str:
    """`2026-11-29 16:05 (UTC+08:00)` in the site's zone; the offset keeps it unambiguous."""
    local = instant.astimezone(ZoneInfo(zone))
    offset = local.strftime("%z")
    shown = local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")
    return f"{shown} (UTC{offset[:3]}:{offset[3:]})"


def _minutes(start: datetime, end: datetime, lang: str) -> str:
    total = max(0, int((end - start).total_seconds() // 60))
    hours, mins = divmod(total, 60)
    if lang == "en":
        return f"{hours} h {mins} min" if hours else f"{mins} min"
    return f"{hours} 小时 {mins} 分钟" if hours else f"{mins} 分钟"


def _device(facts: AlertFacts, lang: str) -> str:
    where = facts.location or facts.site_name
    return f"{facts.device_name} ({where})" if lang == "en" else f"{facts.device_name}（{where}）"


def _number(value: float, unit: str | None) -> str:
    # Three significant digits below 1 (a night water flow of 0.05 m³/h must not read 0.1).
    if abs(value) >= 1000:
        text = f"{value:.0f}"
    elif abs(value) >= 1 or value == 0:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}" if unit else text


def _reading(facts: AlertFacts, lang: str) -> str | None:
    parts = []
    if facts.value is not None:
        value = _number(facts.value, facts.unit)
        parts.append(f"now {value}" if lang == "en" else f"当前 {value}")
    if facts.limit is not None:
        limit = _number(facts.limit, facts.unit)
        if facts.rule in ENERGY_RULES:  # a learned baseline, not a line anyone set
            parts.append(f"usual {limit}" if lang == "en" else f"通常 {limit}")
        else:
            parts.append(f"limit {limit}" if lang == "en" else f"限值 {limit}")
    if not parts:
        return None
    return ", ".join(parts) if lang == "en" else "，".join(parts)


def _since(facts: AlertFacts, now: datetime, lang: str) -> str:
    ago = _minutes(facts.since, now, lang)
    when = local_time(facts.since, facts.zone)
    return f"{when}, {ago} ago" if lang == "en" else f"{when}，已 {ago}"


_SETTLED = {
    "acknowledged": Message("已由 {by} 于 {at} 确认，无需再处理", "acknowledged by {by} at {at}"),
    "resolved": Message("已由 {by} 于 {at} 处理为已恢复", "resolved by {by} at {at}"),
    "closed": Message("已由 {by} 于 {at} 关闭", "closed by {by} at {at}"),
}
_SETTLED_BY_NOBODY = {
    "acknowledged": Message("已于 {at} 确认，无需再处理", "acknowledged at {at}"),
    "resolved": Message("已于 {at} 恢复", "cleared at {at}"),
    "closed": Message("已于 {at} 关闭", "closed at {at}"),
}


def _settled(facts: AlertFacts, lang: str) -> str | None:
    """What was done to the alert while the notice waited (`outbox.settle`), if anything."""
    step = facts.settled
    if step is None:
        return None
    words = (_SETTLED if step.by else _SETTLED_BY_NOBODY).get(step.step)
    at = local_time(step.at, facts.zone)
    if words is None:  # a step this version does not know: said as it is
        return f"{step.step} {at}"
    return _say(words, lang).format(by=step.by, at=at)


def _status(notice: Notice, facts: AlertFacts) -> str | None:
    lang, kind = notice.lang, notice.kind
    settled = _settled(facts, lang)
    if settled is not None:
        return settled
    if facts.resolved_at is not None and kind is NoticeKind.DIGEST:
        kind = NoticeKind.RESOLVED  # a resolution merged into a digest says so
    if kind is NoticeKind.REMINDER:
        return _say(Message("仍在告警，尚未有人确认", "still firing, not acknowledged"), lang)
    if kind is NoticeKind.RESOLVED and facts.resolved_at is not None:
        at = local_time(facts.resolved_at, facts.zone)
        lasted = _minutes(facts.since, facts.resolved_at, lang)
        if lang == "en":
            return f"cleared at {at} after {lasted}"
        return f"已于 {at} 恢复，持续 {lasted}"
    if kind is NoticeKind.ESCALATED:
        since = notice.unacknowledged_since or facts.since
        at = local_time(since, facts.zone)
        waited = _minutes(since, notice.created_at, lang)
        if lang == "en":
            return f"nobody acknowledged since {at} ({waited})"
        return f"自 {at} 起无人确认（{waited}）"
    return None


def _alert_section(notice: Notice, facts: AlertFacts, heading: str | None) -> Section:
    """One alert's facts; in a digest the heading names the device and its group the
    severity, so those rows are left out."""
    lang, brief = notice.lang, heading is not None
    rows: list[tuple[str, str]] = [(_say(_LABEL["what"], lang), facts.message.in_language(lang))]
    if not brief:
        rows.append((_say(_LABEL["device"], lang), _device(facts, lang)))
    rows.append((_say(_LABEL["since"], lang), _since(facts, notice.created_at, lang)))
    reading = _reading(facts, lang)
    if reading is not None:
        rows.append((_say(_LABEL["reading"], lang), reading))
    if not brief:
        rows.append((_say(_LABEL["severity"], lang), _say(_SEVERITY[facts.severity], lang)))
        rows.extend(_kind_rows(notice, facts))
    elif (status := _status(notice, facts)) is not None:
        rows.append((_say(_LABEL["status"], lang), status))
    # Nothing to acknowledge once someone acted, or once it cleared.
    done = facts.settled is not None or facts.resolved_at is not None
    url = None if done else notice.ack_links.get(facts.alert_id)
    link = (_say(_LABEL["ack"], lang), url) if url else None
    return Section(heading, tuple(rows), link)


def _kind_rows(notice: Notice, facts: AlertFacts) -> list[tuple[str, str]]:
    lang, rows = notice.lang, []
    status = _status(notice, facts)
    if status is not None:
        rows.append((_say(_LABEL["status"], lang), status))
    if notice.kind is NoticeKind.ESCALATED and notice.told_before:
        joiner = ", " if lang == "en" else "、"
        rows.append((_say(_LABEL["told"], lang), joiner.join(notice.told_before)))
    return rows


def _digest_sections(notice: Notice, shown: list[AlertFacts]) -> list[Section]:
    """A group heading per severity (with its count in the whole digest), then its alerts."""
    lang, sections = notice.lang, []
    counts = {s: sum(a.severity is s for a in notice.alerts) for s in Severity}
    current: Severity | None = None
    for i, facts in enumerate(shown, start=1):
        if facts.severity is not current:
            current = facts.severity
            name, count = _say(_SEVERITY[current], lang), counts[current]
            group = f"■ {name} ({count})" if lang == "en" else f"■ {name}（{count} 条）"
            sections.append(Section(group, ()))
        sections.append(_alert_section(notice, facts, f"{i}. {_device(facts, lang)}"))
    return sections


def _ordered(alerts: tuple[AlertFacts, ...]) -> list[AlertFacts]:
    """Most severe first; within a severity the oldest first (it has waited longest)."""
    return sorted(alerts, key=lambda a: (-a.severity.rank, a.since, a.alert_id))


def headline(notice: Notice) -> str:
    """The first line: kind, severity and the device (or the digest's count)."""
    lang = notice.lang
    title = _say(_TITLE[notice.kind], lang)
    if notice.kind is NoticeKind.DIGEST or len(notice.alerts) != 1:
        critical = sum(a.severity is Severity.CRITICAL for a in notice.alerts)
        acted = sum(a.settled is not None for a in notice.alerts)
        if lang == "en":
            done = f", {acted} already acted on" if acted else ""
            return f"{title}: {len(notice.alerts)} alerts ({critical} critical){done}"
        done = f"，其中 {acted} 条已有人处理" if acted else ""
        return f"{title}：{len(notice.alerts)} 条告警（{critical} 条严重）{done}"
    facts = notice.alerts[0]
    severity = _say(_SEVERITY[facts.severity], lang)
    if lang == "en":
        return f"{severity.upper()} · {title}: {facts.device_name}"
    return f"【{severity}】{title}：{facts.device_name}"


def subject(notice: Notice) -> str:
    """An e-mail subject: severity, kind and device name (or the digest's count)."""
    head = headline(notice)
    if len(notice.alerts) == 1 and notice.kind is not NoticeKind.DIGEST:
        where = notice.alerts[0].location or notice.alerts[0].site_name
        return f"{head} ({where})" if notice.lang == "en" else f"{head}（{where}）"
    return head


def compose(notice: Notice) -> tuple[str, list[Section], str | None]:
    """The message as (headline, sections, footer): the footer counts left-out alerts."""
    if notice.kind is not NoticeKind.DIGEST and len(notice.alerts) == 1:
        return headline(notice), [_alert_section(notice, notice.alerts[0], None)], None
    ordered = _ordered(notice.alerts)
    shown = ordered[:DIGEST_SHOWN]
    sections = _digest_sections(notice, shown)
    rest = len(ordered) - len(shown)
    footer = None
    if rest:
        footer = (
            f"{rest} more alerts not listed: see the dashboard"
            if notice.lang == "en"
            else f"另有 {rest} 条告警未列出，请在监控平台查看"
        )
    return headline(notice), sections, footer


def _sep(lang: str) -> str:
    return ": " if lang == "en" else "："


def render_text(notice: Notice, limit_bytes: int | None = None) -> str:
    """Plain text, one labelled fact per line."""
    head, sections, footer = compose(notice)
    sep = _sep(notice.lang)
    out = [head]
    for section in sections:
        out.append("")
        if section.heading:
            out.append(section.heading)
        out.extend(f"{label}{sep}{value}" for label, value in section.lines)
        if section.link:
            out.append(f"{section.link[0]}{sep}{section.link[1]}")
    if footer:
        out += ["", footer]
    return _fit("\n".join(out), limit_bytes, notice.lang)


_MD_LOOKALIKE = str.maketrans("*_[]`#<>\\", "＊＿［］｀＃＜＞＼")


def _md(text: str) -> str:
    """Neutralise markdown in names and sentences a site wrote (a device called `*1*`).
    Full-width look-alikes, not backslashes: the robots' subsets do not all honour escapes."""
    return text.translate(_MD_LOOKALIKE)


def render_markdown(notice: Notice, dialect: Dialect, limit_bytes: int | None = None) -> str:
    """The robot's markdown subset; the link is a markdown link."""
    head, sections, footer = compose(notice)
    sep = _sep(notice.lang)
    critical = notice.critical and notice.kind is not NoticeKind.RESOLVED
    out: list[str] = []
    if dialect is Dialect.WECOM:
        color = "warning" if critical else "info"
        out.append(f'### <font color="{color}">{_md(head)}</font>')
    elif dialect is Dialect.DINGTALK:
        out.append(f"### {_md(head)}")
    bullet = "- " if dialect is Dialect.DINGTALK else ""
    for section in sections:
        if out:
            out.append("")
        if section.heading:
            out.append(f"**{_md(section.heading)}**")
        out.extend(f"{bullet}**{_md(label)}**{sep}{_md(value)}" for label, value in section.lines)
        if section.link:
            out.append(f"{bullet}[{_md(section.link[0])}]({section.link[1]})")
    if footer:
        out += ["", _md(footer)]
    return _fit("\n".join(out), limit_bytes, notice.lang)


def render_html(notice: Notice) -> str:
    """An HTML e-mail body; every text a site or rule wrote is escaped."""
    head, sections, footer = compose(notice)
    esc = html.escape
    color = "#c0392b" if notice.critical and notice.kind is not NoticeKind.RESOLVED else "#2c3e50"
    out = [
        f'<!DOCTYPE html><html lang="{esc(notice.lang)}"><head><meta charset="utf-8">',
        f'<title>{esc(head)}</title></head><body style="font-family:sans-serif">',
        f'<h2 style="color:{color}">{esc(head)}</h2>',
    ]
    for section in sections:
        if section.heading:
            out.append(f"<h3>{esc(section.heading)}</h3>")
        out.append('<table cellpadding="4" style="border-collapse:collapse">')
        out.extend(
            f'<tr><th align="left">{esc(label)}</th><td>{esc(value)}</td></tr>'
            for label, value in section.lines
        )
        out.append("</table>")
        if section.link:
            label, url = section.link
            out.append(f'<p><a href="{esc(url, quote=True)}">{esc(label)}</a></p>')
    if footer:
        out.append(f"<p>{esc(footer)}</p>")
    out.append("</body></html>")
    return "\n".join(out)


def _fit(text: str, limit_bytes: int | None, lang: str) -> str:
    return text if limit_bytes is None else truncate(text, limit_bytes, lang)


def truncate(text: str, limit_bytes: int, lang: str = "zh") -> str:
    """`text` within `limit_bytes` of UTF-8, cut at a line where one is near (else at a
    character) and ending with where to read the rest."""
    data = text.encode()
    if len(data) <= limit_bytes:
        return text
    marker = _say(MORE, lang)
    budget = limit_bytes - len(("\n" + marker).encode())
    if budget <= 0:
        raise ValueError(f"a limit of {limit_bytes} bytes leaves no room for the message")
    head = data[:budget].decode(errors="ignore")  # never half a character
    cut = head.rfind("\n")
    if cut >= budget // 2:  # a whole line is lost only when that costs little
        head = head[:cut]
    return f"{head.rstrip()}\n{marker}"
