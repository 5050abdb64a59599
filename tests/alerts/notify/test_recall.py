"""What the records say an alert's notices did (`alerts.notify.recall`): the current round from
the alert's history (a firing again and a worse verdict start one; the planner's own
escalations do not), that round's notices from the outbox (its own keys, and the planner's
digests about the alert since the round began), and the timers they give back."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from alerts.lifecycle import RULE_ACTOR
from alerts.model import AlertAction, AlertHistoryEntry, AlertState
from alerts.notify.model import Notice, NoticeKind
from alerts.notify.planner import NotifyPlanner
from alerts.notify.recall import level_note, recall
from core.clock import StepClock
from core.config import SiteConfig
from core.records import RuleId, Severity
from tests.alerts.notify.conftest import fridge_facts, make_notice
from tests.alerts.notify.notify_site import alert, local, site_config

T0 = local(23, 9)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SiteConfig:
    return site_config(tmp_path_factory.mktemp("recall"))


def step(action: AlertAction, minutes: float, note: str | None = None) -> AlertHistoryEntry:
    at = T0 + timedelta(minutes=minutes)
    return AlertHistoryEntry(7, at, action, AlertState.FIRING, RULE_ACTOR, note)


def notice(key: str, minutes: float, *alert_ids: int, **changes: object) -> Notice:
    facts = tuple(fridge_facts(alert_id=i) for i in alert_ids or (7,))
    at = T0 + timedelta(minutes=minutes)
    return replace(make_notice(*facts, key=key), created_at=at, **changes)  # type: ignore[arg-type]


def test_a_firing_again_starts_a_round_and_the_old_ones_notices_stay_out() -> None:
    history = [
        step(AlertAction.FIRED, 0),
        step(AlertAction.RESOLVED, 5),
        step(AlertAction.REFIRED, 6),
    ]
    notices = [
        notice("7/o1/fired/L0/group/kitchen-robot", 0),
        notice("7/o2/fired/L0/group/kitchen-robot", 6),
    ]
    memory = recall(alert(7, occurrences=2), history, notices)
    assert (memory.round, memory.since) == ("o2", T0 + timedelta(minutes=6))
    assert [n.key for n in memory.told] == ["7/o2/fired/L0/group/kitchen-robot"]


def test_a_worse_verdict_starts_a_round_the_planners_escalation_does_not() -> None:
    history = [
        step(AlertAction.FIRED, 0),
        step(AlertAction.ESCALATED, 15, level_note(1, ["wang"])),  # the planner's level 1
        step(AlertAction.ESCALATED, 20),  # the rule: worse now
        step(AlertAction.ESCALATED, 30, level_note(1, ["wang"])),
    ]
    memory = recall(alert(7, severity=Severity.CRITICAL), history, [])
    assert (memory.round, memory.since) == ("o1-critical", T0 + timedelta(minutes=20))
    plain = recall(alert(7), history[:2], [])
    assert (plain.round, plain.since) == ("o1", T0)


def test_the_planners_digests_since_the_round_began_count_a_rate_limits_do_not() -> None:
    history = [step(AlertAction.FIRED, 0)]
    notices = [
        notice("digest/abc/kitchen-robot", 2, 7, 8, kind=NoticeKind.DIGEST),
        notice("digest/def/kitchen-robot", 2, 8, 9, kind=NoticeKind.DIGEST),  # not about 7
        notice("digest-0123", 3, 7, 8, kind=NoticeKind.DIGEST),  # its members are in the outbox
    ]
    memory = recall(alert(7, rule=RuleId.OFFLINE), history, notices)
    assert [n.key for n in memory.told] == ["digest/abc/kitchen-robot"]


def test_timers_count_from_the_notices(site: SiteConfig) -> None:
    """Level 1 told at +15 and a reminder at +25: the next level 30 min after +15, the next
    reminder 10 min after +25, and that reminder's number follows on."""
    history = [step(AlertAction.FIRED, 0)]
    notices = [
        notice("7/o1/fired/L0/group/kitchen-robot", 0, level=0),
        notice("7/o1/escalated/L1/zhao/mail", 15, level=1, channel="mail", recipients=("zhao",)),
        notice("7/o1/reminder1/L1/zhao/mail", 25, level=1, channel="mail", recipients=("zhao",)),
    ]
    clock = StepClock(T0 + timedelta(minutes=34))
    planner = NotifyPlanner(site, clock)
    memory = recall(alert(7), history, notices)
    assert planner.reconcile([alert(7)], {7: memory}).notices == []
    clock.instant = T0 + timedelta(minutes=35)
    [reminded] = {n.key.split("/")[2] for n in planner.tick().notices}
    assert reminded == "reminder2"
    clock.instant = T0 + timedelta(minutes=45)
    assert {n.level for n in planner.tick().notices} == {2}
