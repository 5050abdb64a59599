"""Quiet hours (22:00-07:00 Shanghai) hold non-food notices until the morning and drop those
whose alert resolved meanwhile; food-safety alerts and silent cold storage go out at once.
Devices falling silent together go out as one digest per channel."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from alerts.model import AlertAction
from alerts.notify.model import Notice, NoticeKind
from alerts.notify.planner import NotifyPlanner
from core.clock import StepClock
from core.config import SiteConfig
from core.records import RuleId, Severity
from tests.alerts.notify.notify_site import alert, change, local, site_config

NIGHT = local(23, 23)  # Monday 23:00 in Shanghai


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SiteConfig:
    return site_config(tmp_path_factory.mktemp("quiet"))


def run_until(planner: NotifyPlanner, clock: StepClock, end: datetime) -> list[Notice]:
    out: list[Notice] = []
    while clock.instant < end:
        clock.instant = min(clock.instant + timedelta(minutes=1), end)
        out.extend(planner.tick().notices)
    return out


def test_energy_alert_waits_for_the_morning(site: SiteConfig) -> None:
    clock = StepClock(NIGHT)
    planner = NotifyPlanner(site, clock)
    meter = alert(1, device="meter-1", rule=RuleId.OFFLINE, severity=Severity.WARNING, at=NIGHT)
    assert planner.on_change(change(meter, AlertAction.FIRED)).notices == []
    assert run_until(planner, clock, local(24, 6, 59)) == []
    morning = run_until(planner, clock, local(24, 7))
    assert [(n.kind, n.channel, n.recipients, n.lang) for n in morning] == [
        (NoticeKind.FIRED, "mail", ("chen",), "en")
    ]
    assert morning[0].created_at == local(24, 7)


def test_resolved_during_quiet_hours_is_dropped(site: SiteConfig) -> None:
    clock = StepClock(NIGHT)
    planner = NotifyPlanner(site, clock)
    meter = alert(1, device="meter-1", rule=RuleId.OFFLINE, severity=Severity.WARNING, at=NIGHT)
    planner.on_change(change(meter, AlertAction.FIRED))
    clock.instant = local(24, 2)
    assert planner.on_change(change(meter, AlertAction.RESOLVED)).notices == []
    assert run_until(planner, clock, local(24, 9)) == []
    assert planner.pending() == {}


def test_food_safety_and_silent_freezers_are_never_held(site: SiteConfig) -> None:
    clock = StepClock(NIGHT)
    planner = NotifyPlanner(site, clock)
    fridge = planner.on_change(change(alert(1, at=NIGHT), AlertAction.FIRED)).notices
    # Monday 23:00: wang's night shift
    assert {(n.channel, n.recipients) for n in fridge} == {
        ("wall", ()),
        ("kitchen-robot", ("wang",)),
    }
    freezer = alert(2, device="probe-01", rule=RuleId.OFFLINE, severity=Severity.WARNING, at=NIGHT)
    assert planner.on_change(change(freezer, AlertAction.FIRED)).notices == []  # grouping window
    told = run_until(planner, clock, NIGHT + timedelta(minutes=1))
    assert [(n.kind, n.alerts[0].device) for n in told if n.alerts[0].alert_id == 2] == [
        (NoticeKind.FIRED, "probe-01")
    ]
    # escalation and reminders of the food alert go on through the night
    night = run_until(planner, clock, NIGHT + timedelta(minutes=16))
    assert NoticeKind.ESCALATED in {n.kind for n in night if n.alerts[0].alert_id == 1}


def test_a_told_alert_is_quiet_at_night_and_resumes_in_the_morning(site: SiteConfig) -> None:
    evening = local(23, 21)  # li's shift; `rest`: manager after 30 min, reminders every 60
    clock = StepClock(evening)
    planner = NotifyPlanner(site, clock)
    seal = alert(3, device="cab-01", rule=RuleId.SEAL_DEGRADATION, severity=Severity.WARNING)
    first = planner.on_change(change(seal, AlertAction.FIRED)).notices
    assert [(n.channel, n.recipients) for n in first] == [("kitchen-robot", ("li",))]
    notices = run_until(planner, clock, local(24, 7, 30))
    at = [(n.created_at, n.kind, n.channel) for n in notices]
    assert at == [
        # before 22:00: the manager (mail and robot)
        (local(23, 21, 30), NoticeKind.ESCALATED, "mail"),
        (local(23, 21, 30), NoticeKind.ESCALATED, "office-robot"),
        # the reminder due at 22:30 waited; one reminder to everyone told at 07:00
        (local(24, 7), NoticeKind.REMINDER, "kitchen-robot"),
        (local(24, 7), NoticeKind.REMINDER, "mail"),
        (local(24, 7), NoticeKind.REMINDER, "office-robot"),
    ]


def test_resolved_notice_of_a_told_alert_waits_too(site: SiteConfig) -> None:
    evening = local(23, 21)
    clock = StepClock(evening)
    planner = NotifyPlanner(site, clock)
    seal = alert(3, device="cab-01", rule=RuleId.SEAL_DEGRADATION, severity=Severity.WARNING)
    planner.on_change(change(seal, AlertAction.FIRED))
    clock.instant = local(23, 23)
    assert planner.on_change(change(seal, AlertAction.RESOLVED)).notices == []
    morning = run_until(planner, clock, local(24, 7))
    assert [(n.kind, n.recipients) for n in morning] == [(NoticeKind.RESOLVED, ("li",))]


def test_twenty_silent_freezers_are_one_message_per_channel(site: SiteConfig) -> None:
    start = local(23, 10)
    clock = StepClock(start)
    planner = NotifyPlanner(site, clock)
    for i in range(1, 21):
        clock.instant = start + timedelta(seconds=2 * i)
        item = alert(
            100 + i, device=f"probe-{i:02d}", rule=RuleId.OFFLINE, severity=Severity.WARNING,
            at=clock.instant,
        )  # fmt: skip
        assert planner.on_change(change(item, AlertAction.FIRED)).notices == []
    site_down = alert(99, device="test-school", rule=RuleId.SITE_OFFLINE, at=clock.instant)
    assert planner.on_change(change(site_down, AlertAction.FIRED)).notices == []
    [digest] = run_until(planner, clock, start + timedelta(minutes=2))
    assert digest.kind is NoticeKind.DIGEST and digest.channel == "kitchen-robot"
    # the first tick after the first one's window (it fell silent at 10:00:02, window 60 s)
    assert digest.created_at == start + timedelta(seconds=100)
    assert [a.alert_id for a in digest.alerts] == [99, *range(101, 121)]
    assert set(digest.ack_links) == {99, *range(101, 121)}
    # escalation to the manager 30 min later: one mail, one robot message, still digests
    later = run_until(planner, clock, start + timedelta(minutes=32))
    assert {(n.kind, n.channel, len(n.alerts)) for n in later} == {
        (NoticeKind.DIGEST, "mail", 21),
        (NoticeKind.DIGEST, "office-robot", 21),
    }
    keys = [digest.key] + [n.key for n in later]
    assert len(set(keys)) == 3 and all(k.startswith("digest/") for k in keys)


def test_a_lone_silent_device_is_no_digest(site: SiteConfig) -> None:
    clock = StepClock(local(23, 10))
    planner = NotifyPlanner(site, clock)
    item = alert(7, device="cab-02", rule=RuleId.OFFLINE, severity=Severity.WARNING)
    planner.on_change(change(item, AlertAction.FIRED))
    [notice] = run_until(planner, clock, local(23, 10, 2))
    assert notice.kind is NoticeKind.FIRED and notice.key == "7/o1/fired/L0/group/kitchen-robot"
