"""What a person reads: what, which device by name and place, since when in local time, value
and limit, severity and the link, in Chinese or English, within each vendor's limit."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest

from alerts.notify.model import AlertFacts, NoticeKind
from alerts.notify.render import (
    DIGEST_SHOWN,
    Dialect,
    render_html,
    render_markdown,
    render_text,
    subject,
    truncate,
)
from core.records import Message, RuleId, Severity
from tests.alerts.notify.conftest import ACK, NOW, SINCE, fridge_facts, make_notice


def test_chinese_by_default_with_every_fact() -> None:
    text = render_text(make_notice())
    assert text.splitlines()[0] == "【严重】告警：1号冷藏柜"
    assert "情况：1号冷藏柜 温度 9.4 °C，高于上限 8.0 °C 已持续 35 分钟" in text
    assert "设备：1号冷藏柜（食堂后厨）" in text
    # 01:05 UTC is 09:05 in Asia/Shanghai, 35 minutes before the notice
    assert "开始时间：2026-11-23 09:05 (UTC+08:00)，已 35 分钟" in text
    assert "读数：当前 9.4 °C，限值 8.0 °C" in text
    assert "级别：严重" in text
    assert f"确认处理：{ACK}42" in text
    assert "fridge-1" not in text  # the id is never the only name; here it is not needed at all


def test_english_by_lang() -> None:
    text = render_text(make_notice(lang="en"))
    assert text.splitlines()[0] == "CRITICAL · Alert: 1号冷藏柜"
    assert "What: Fridge 1 at 9.4 °C, above its 8.0 °C limit for 35 min" in text
    assert "Device: 1号冷藏柜 (食堂后厨)" in text
    assert "Since: 2026-11-23 09:05 (UTC+08:00), 35 min ago" in text
    assert "Reading: now 9.4 °C, limit 8.0 °C" in text
    assert "Severity: critical" in text
    assert f"Acknowledge: {ACK}42" in text


def test_site_zone_is_used() -> None:
    text = render_text(make_notice(fridge_facts(zone="Asia/Urumqi")))
    assert "2026-11-23 07:05 (UTC+06:00)" in text


def test_rule_without_value_says_no_reading() -> None:
    facts = fridge_facts(value=None, limit=None, unit=None)
    assert "读数" not in render_text(make_notice(facts))


def test_reminder_escalated_resolved_say_their_part() -> None:
    reminder = render_text(make_notice(kind=NoticeKind.REMINDER))
    assert reminder.startswith("【严重】告警提醒（仍未处理）：1号冷藏柜")
    assert "状态：仍在告警，尚未有人确认" in reminder

    escalated = make_notice(
        kind=NoticeKind.ESCALATED,
        told_before=("张师傅", "李经理"),
        unacknowledged_since=SINCE + timedelta(minutes=5),
        created_at=NOW + timedelta(minutes=30),
    )
    text = render_text(escalated)
    assert text.startswith("【严重】告警升级（无人处理）：1号冷藏柜")
    assert "已通知：张师傅、李经理" in text
    assert "自 2026-11-23 09:10 (UTC+08:00) 起无人确认（1 小时 0 分钟）" in text
    en = render_text(replace(escalated, lang="en"))
    assert en.startswith("CRITICAL · Escalated (nobody acted): 1号冷藏柜")
    assert "Told before: 张师傅, 李经理" in en
    assert "nobody acknowledged since 2026-11-23 09:10 (UTC+08:00) (1 h 0 min)" in en

    resolved = make_notice(
        fridge_facts(resolved_at=SINCE + timedelta(minutes=50)), kind=NoticeKind.RESOLVED
    )
    text = render_text(resolved)
    assert text.startswith("【严重】已恢复：1号冷藏柜")
    assert "已于 2026-11-23 09:55 (UTC+08:00) 恢复，持续 50 分钟" in text


def _many(n: int) -> list[AlertFacts]:
    severities = [Severity.WARNING, Severity.CRITICAL, Severity.INFO]
    return [
        fridge_facts(
            alert_id=100 + i,
            device_name=f"{i}号冷藏柜",
            severity=severities[i % 3],
            since=SINCE + timedelta(minutes=i),
        )
        for i in range(n)
    ]


def test_digest_most_severe_first_and_counts_the_rest() -> None:
    alerts = _many(DIGEST_SHOWN + 4)
    text = render_text(make_notice(*alerts, kind=NoticeKind.DIGEST))
    assert text.splitlines()[0] == "告警汇总：14 条告警（5 条严重）"
    headings = [line for line in text.splitlines() if re.match(r"\d+\. ", line)]
    assert len(headings) == DIGEST_SHOWN
    # criticals (i = 1, 4, 7, 10, 13) oldest first, then warnings
    assert headings[0].startswith("1. 1号冷藏柜") and headings[4].startswith("5. 13号冷藏柜")
    assert headings[5].startswith("6. 0号冷藏柜")
    assert "■ 严重（5 条）" in text and "■ 警告（5 条）" in text
    assert text.index("■ 严重") < text.index("1. 1号冷藏柜") < text.index("■ 警告")
    assert text.rstrip().endswith("另有 4 条告警未列出，请在监控平台查看")
    en = render_text(make_notice(*alerts, kind=NoticeKind.DIGEST, lang="en"))
    assert en.splitlines()[0] == "Alert digest: 14 alerts (5 critical)"
    assert "4 more alerts not listed: see the dashboard" in en


@pytest.mark.parametrize(("limit", "lang"), [(2048, "zh"), (4096, "zh"), (2048, "en")])
def test_long_digest_is_cut_within_the_byte_limit(limit: int, lang: str) -> None:
    wordy = Message("柜门密封条老化，" * 12, "the door seal is worn, " * 12)
    alerts = [replace(a, message=wordy) for a in _many(DIGEST_SHOWN)]
    notice = make_notice(*alerts, kind=NoticeKind.DIGEST, lang=lang)
    assert len(render_text(notice).encode()) > limit  # the test means something
    text = render_text(notice, limit)
    assert len(text.encode()) <= limit
    marker = "…(more in the dashboard)" if lang == "en" else "…（更多内容请在监控平台查看）"
    assert text.endswith(marker)
    md = render_markdown(notice, Dialect.WECOM, limit)
    assert len(md.encode()) <= limit and md.endswith(marker)


def test_truncate_never_splits_a_character() -> None:
    text = "温" * 1000  # 3 bytes each, no line to cut at
    for limit in range(100, 110):
        cut = truncate(text, limit)
        assert len(cut.encode()) <= limit
        assert cut.startswith("温") and "\ufffd" not in cut
    assert truncate("short", 100) == "short"
    with pytest.raises(ValueError, match="no room"):
        truncate(text, 10)


def test_markdown_dialects() -> None:
    notice = make_notice()
    wecom = render_markdown(notice, Dialect.WECOM)
    assert wecom.startswith('### <font color="warning">【严重】告警：1号冷藏柜</font>')
    assert f"[确认处理]({ACK}42)" in wecom
    assert "\n- " not in wecom  # WeCom markdown has no lists
    ding = render_markdown(notice, Dialect.DINGTALK)
    assert ding.startswith("### 【严重】告警：1号冷藏柜")
    assert "- **设备**：1号冷藏柜（食堂后厨）" in ding
    feishu = render_markdown(notice, Dialect.FEISHU)
    assert not feishu.startswith("#")  # the card header carries the title
    assert "**读数**：当前 9.4 °C，限值 8.0 °C" in feishu


def test_markdown_neutralises_names_a_site_wrote() -> None:
    facts = fridge_facts(device_name="*冷柜*_[1]", location="<b>后厨</b>")
    md = render_markdown(make_notice(facts), Dialect.DINGTALK)
    assert "＊冷柜＊＿［1］" in md and "*冷柜*" not in md
    assert "<b>" not in md and "＜b＞后厨＜/b＞" in md


def test_html_is_escaped_and_complete() -> None:
    facts = fridge_facts(
        device_name='<script>alert("x")</script>',
        message=Message("温度 & 门 <异常>", "temperature & door <odd>"),
    )
    page = render_html(make_notice(facts))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "温度 &amp; 门 &lt;异常&gt;" in page
    assert f'<a href="{ACK}42">确认处理</a>' in page
    assert "2026-11-23 09:05 (UTC+08:00)" in page and "当前 9.4 °C，限值 8.0 °C" in page


def test_subject_names_severity_and_device() -> None:
    assert subject(make_notice()) == "【严重】告警：1号冷藏柜（食堂后厨）"
    assert subject(make_notice(lang="en")) == "CRITICAL · Alert: 1号冷藏柜 (食堂后厨)"
    digest = make_notice(*_many(3), kind=NoticeKind.DIGEST)
    assert subject(digest) == "告警汇总：3 条告警（1 条严重）"


def test_small_figures_keep_their_digits() -> None:
    """A night water flow of 0.05 m³/h against a 0.02 threshold must not read 0.1 and 0.0."""
    facts = replace(fridge_facts(), value=0.05, limit=0.02, unit="m³/h")
    text = render_text(make_notice(facts, lang="en"))
    assert "now 0.05 m³/h, limit 0.02 m³/h" in text
    warm = replace(fridge_facts(), value=9.44, limit=8.0, unit="°C")
    assert "now 9.4 °C, limit 8.0 °C" in render_text(make_notice(warm, lang="en"))


def test_an_energy_notice_calls_its_reference_the_usual_use_not_a_limit() -> None:
    """An energy anomaly compares the night's use with the learned baseline: nobody set a limit,
    so the notice says what is usual (zh 通常), in both languages and in the robots' markdown."""
    facts = replace(
        fridge_facts(),
        rule=RuleId.ENERGY_NIGHT_BASE_LOAD,
        food_safety=False,
        message=Message("夜间基础负荷 12.4 kW，高于通常", "Night base load 12.4 kW, above usual"),
        value=12.4,
        limit=4.2,
        unit="kW",
    )
    zh, en = make_notice(facts), make_notice(facts, lang="en")
    assert "读数：当前 12.4 kW，通常 4.2 kW" in render_text(zh)
    assert "now 12.4 kW, usual 4.2 kW" in render_text(en)
    assert "**读数**：当前 12.4 kW，通常 4.2 kW" in render_markdown(zh, Dialect.WECOM)
    for text in (render_text(zh), render_text(en), render_html(zh)):
        assert "限值" not in text and "limit" not in text
