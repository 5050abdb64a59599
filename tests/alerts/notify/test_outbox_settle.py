"""Alerts acted on while a notice about them waits, on a real DuckDB outbox: a digest whose every
alert was acknowledged, resolved or closed is withdrawn (state `withdrawn`, a row in each
alert's delivery log); one where only some were says so of those (no acknowledge link) and goes
out; a resolution in a digest is news and keeps it; a first notice is marked, never withdrawn;
a digest on its way when its last alert was acted on is withdrawn if that attempt fails."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from alerts.notify.dispatcher import Dispatcher
from alerts.notify.model import Delivery, Notice, NoticeKind, Settled
from alerts.notify.outbox import RetryPolicy, entry_for, notice_of, settle
from alerts.notify.render import render_html, render_text
from core.clock import ManualClock
from core.records import DeliveryOutcome, OutboxEntry, OutboxState
from ingest.duckdb_outbox import DuckDBOutboxStore
from tests.alerts.notify.conftest import ACK, NOW, fridge_facts, make_notice
from tests.alerts.notify.outbox_channel import RecordingChannel, running
from tests.alerts.notify.outbox_channel import settle as settle_dispatcher
from tests.conftest import wait_for

LATER = NOW + timedelta(minutes=5)  # 09:45 in Shanghai


def digest(key: str, *alert_ids: int, resolved: tuple[int, ...] = ()) -> Notice:
    facts = tuple(
        fridge_facts(
            alert_id=i,
            device_name=f"{i}号冷藏柜",
            resolved_at=LATER if i in resolved else None,
        )
        for i in alert_ids
    )
    return make_notice(*facts, key=key, kind=NoticeKind.DIGEST)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[DuckDBOutboxStore]:
    store = DuckDBOutboxStore(tmp_path / "canteen.duckdb")
    yield store
    store.close()


def act(outbox: DuckDBOutboxStore, steps: dict[int, Settled]) -> list[OutboxEntry]:
    return outbox.revise_unsent(sorted(steps), partial(_settle, steps))


def _settle(steps: dict[int, Settled], entry: OutboxEntry) -> OutboxEntry | None:
    return settle(entry, steps, LATER)


def test_a_digest_is_withdrawn_once_every_alert_in_it_was_acted_on(
    outbox: DuckDBOutboxStore,
) -> None:
    outbox.enqueue(entry_for(digest("digest/a", 1, 2, 3), NOW))
    outbox.enqueue(entry_for(digest("digest/b", 3, 4), NOW))  # speaks of 4 too

    [first] = act(outbox, {1: Settled("acknowledged", LATER, "wang")})
    assert (first.key, first.state) == ("digest/a", OutboxState.PENDING)
    changed = act(
        outbox, {2: Settled("resolved", LATER, None), 3: Settled("closed", LATER, "zhao")}
    )
    assert {e.key: e.state for e in changed} == {
        "digest/a": OutboxState.WITHDRAWN,
        "digest/b": OutboxState.PENDING,
    }
    withdrawn = outbox.entry("digest/a")
    assert withdrawn is not None and withdrawn.state is OutboxState.WITHDRAWN
    assert withdrawn.last_error == (
        "withdrawn, not sent: every alert in it was acknowledged by wang (1), resolved (2), "
        "closed by zhao (3) before it went out"
    )
    assert [e.key for e in outbox.due("kitchen-robot", LATER, 10)] == ["digest/b"]
    # Each alert's delivery log says why the digest never came: one row, naming all three.
    for alert_id in (1, 2, 3):
        [row] = [d for d in outbox.deliveries_for_alert(alert_id) if d.notice_key == "digest/a"]
        assert (row.outcome, row.attempt, row.at) == (DeliveryOutcome.WITHDRAWN, 0, LATER)
        assert row.alert_ids == (1, 2, 3) and row.reason == withdrawn.last_error
        assert row.kind == "digest" and row.recipients == ("cook-on-duty",)
    assert outbox.deliveries_for_alert(4) == []
    assert act(outbox, {1: Settled("acknowledged", LATER, "wang")}) == []  # once


def test_a_partly_acted_on_digest_says_who_acted_and_drops_their_links(
    outbox: DuckDBOutboxStore,
) -> None:
    outbox.enqueue(entry_for(digest("digest/a", 1, 2), NOW))
    act(outbox, {1: Settled("acknowledged", LATER, "wang")})
    entry = outbox.entry("digest/a")
    assert entry is not None and entry.state is OutboxState.PENDING
    notice = notice_of(entry)
    text = render_text(notice)
    assert text.splitlines()[0] == "告警汇总：2 条告警（2 条严重），其中 1 条已有人处理"
    assert "状态：已由 wang 于 2026-11-23 09:45 (UTC+08:00) 确认，无需再处理" in text
    assert f"{ACK}1" not in text and f"{ACK}2" in text  # only the one still waiting
    english = render_text(replace(notice, lang="en"))
    assert "1 already acted on" in english.splitlines()[0]
    assert "Status: acknowledged by wang at 2026-11-23 09:45 (UTC+08:00)" in english
    assert f"{ACK}1" not in render_html(notice)


def test_a_resolution_in_a_digest_is_news_and_keeps_it(outbox: DuckDBOutboxStore) -> None:
    outbox.enqueue(entry_for(digest("digest/r", 5, 6, resolved=(5,)), NOW))
    act(outbox, {5: Settled("closed", LATER, "zhao"), 6: Settled("acknowledged", LATER, "wang")})
    entry = outbox.entry("digest/r")
    assert entry is not None and entry.state is OutboxState.PENDING
    text = render_text(notice_of(entry))
    assert "已于 2026-11-23 09:45 (UTC+08:00) 恢复" in text  # told as cleared, not as open
    assert "已由 wang" in text and "已由 zhao" not in text


def test_a_first_notice_is_marked_a_reminder_and_a_resolution_are_left(
    outbox: DuckDBOutboxStore,
) -> None:
    for kind in (NoticeKind.FIRED, NoticeKind.REMINDER, NoticeKind.RESOLVED):
        notice = make_notice(fridge_facts(alert_id=7), key=f"7/{kind.value}", kind=kind)
        outbox.enqueue(entry_for(notice, NOW))
    outbox.withdraw([7], ("reminder",), LATER, "acknowledged by wang")  # the single's own way
    changed = act(outbox, {7: Settled("acknowledged", LATER, "wang")})
    assert [(e.key, e.state) for e in changed] == [("7/fired", OutboxState.PENDING)]
    fired = notice_of(changed[0])
    assert fired.alerts[0].settled == Settled("acknowledged", LATER, "wang")
    assert fired.ack_links == {}
    assert "已由 wang" in render_text(fired)
    resolved = outbox.entry("7/resolved")
    assert resolved is not None and notice_of(resolved).alerts[0].settled is None


ON_ITS_WAY = {
    "digest": (
        digest("digest/a", 1, 2),
        "every alert in it was acknowledged by wang (1), closed by zhao (2)",
    ),
    "escalated": (
        make_notice(fridge_facts(alert_id=1), key="1/escalated", kind=NoticeKind.ESCALATED),
        "its alert was acknowledged by wang",
    ),
}


@pytest.mark.parametrize("kind", sorted(ON_ITS_WAY))
async def test_a_notice_on_its_way_when_its_last_alert_is_acted_on_is_not_sent_again(
    outbox: DuckDBOutboxStore, kind: str
) -> None:
    notice, why = ON_ITS_WAY[kind]
    clock = ManualClock(NOW)
    robot = RecordingChannel("kitchen-robot", clock, [Delivery(ok=False, reason="HTTP 503")])
    robot.hang = asyncio.Event()  # the robot holds the request, then refuses it
    policy = RetryPolicy(base_s=10, cap_s=80, max_attempts=4)
    sender = Dispatcher(outbox, {robot.name: robot}, clock, policy=policy, rng=random.Random(3))
    async with running(sender):
        await sender.submit([notice])
        await asyncio.wait_for(robot.called.wait(), 10)
        await wait_for(lambda: _state(outbox, notice.key) is OutboxState.SENDING, "the mark")
        steps = {1: Settled("acknowledged", LATER, "wang"), 2: Settled("closed", LATER, "zhao")}
        [marked] = act(outbox, steps)
        assert marked.state is OutboxState.SENDING  # its attempt's outcome decides its state
        robot.hang.set()
        await settle_dispatcher(sender)
        await clock.advance(80)  # past the retry's ceiling
        await settle_dispatcher(sender)
    assert len(robot.calls) == 1  # the retry found nothing left to tell
    assert _state(outbox, notice.key) is OutboxState.WITHDRAWN
    log = outbox.deliveries_for_notice(notice.key)
    assert [(d.outcome, d.attempt) for d in log] == [
        (DeliveryOutcome.RETRY, 1),
        (DeliveryOutcome.WITHDRAWN, 0),
    ]
    assert log[1].reason == f"withdrawn, not sent: {why} before it went out"


def _state(outbox: DuckDBOutboxStore, key: str) -> OutboxState | None:
    entry = outbox.entry(key)
    return None if entry is None else entry.state
