"""The planner on a simulated clock: level 0 at once, escalation after `after_min`, reminders
every `reminder_every_min`, everything stops on acknowledge, a resolved notice to everyone
told, stable and unique idempotency keys, and timers that survive a restart."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerts.lifecycle import AlertBook, AlertChange
from alerts.model import AlertAction, AlertState, Finding, Phase
from alerts.notify.links import verify
from alerts.notify.model import Notice, NoticeKind
from alerts.notify.planner import Escalation, NotifyPlanner, Plan
from alerts.notify.recall import Recalled
from core.clock import StepClock, to_epoch_ms
from core.config import SiteConfig
from core.records import Message, RuleId, Severity
from ingest import DuckDBStore
from ingest.duckdb_alerts import DuckDBAlertStore
from tests.alerts.notify.notify_site import SITE_YAML, alert, change, local, site_config

FIRED_AT = local(23, 9)  # Monday 09:00 in Shanghai: wang is the cook on duty
SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SiteConfig:
    return site_config(tmp_path_factory.mktemp("planner"))


class Run:
    """A planner on a step clock, and every notice it produced."""

    def __init__(self, site: SiteConfig, start: datetime = FIRED_AT) -> None:
        self.clock = StepClock(start)
        self.start = start
        self.planner = NotifyPlanner(site, self.clock)
        self.notices: list[Notice] = []
        self.escalations: list[Escalation] = []

    def feed(self, item: AlertChange) -> list[Notice]:
        return self._keep(self.planner.on_change(item))

    def at(self, minutes: float) -> list[Notice]:
        """Tick every minute up to `minutes` after the start; the notices of the last tick."""
        last: list[Notice] = []
        while self.clock.instant < self.start + timedelta(minutes=minutes):
            step = min(
                timedelta(minutes=1), self.start + timedelta(minutes=minutes) - self.clock.instant
            )
            self.clock.instant += step
            last = self._keep(self.planner.tick())
        return last

    def _keep(self, plan: Plan) -> list[Notice]:
        self.notices.extend(plan.notices)
        self.escalations.extend(plan.escalations)
        return plan.notices


def where(notices: list[Notice]) -> set[tuple[str, tuple[str, ...]]]:
    return {(n.channel, n.recipients) for n in notices}


def minute_of(run: Run, notice: Notice) -> float:
    return (notice.created_at - run.start).total_seconds() / 60


def test_level_zero_at_once_with_signed_links(site: SiteConfig) -> None:
    run = Run(site)
    notices = run.feed(change(alert(1), AlertAction.FIRED))
    assert where(notices) == {("wall", ()), ("kitchen-robot", ("wang",))}
    assert {n.kind for n in notices} == {NoticeKind.FIRED} and {n.level for n in notices} == {0}
    robot = next(n for n in notices if n.channel == "kitchen-robot")
    assert robot.key == "1/o1/fired/L0/group/kitchen-robot" and robot.lang == "zh"
    assert robot.alerts[0].device_name == "1号冷藏柜" and robot.unacknowledged_since == FIRED_AT
    link = robot.ack_links[1]
    assert link.startswith("https://canteen.example.edu.cn/ack/v1.")
    token = link.rsplit("/", 1)[1]
    assert verify(token, SECRET, FIRED_AT) == (1, "kitchen-robot")
    assert verify(token, SECRET, FIRED_AT + timedelta(hours=23)) == (1, "kitchen-robot")


def test_escalation_and_reminders_until_acknowledged(site: SiteConfig) -> None:
    run = Run(site)
    item = alert(1)
    run.feed(change(item, AlertAction.FIRED))
    run.at(120)
    timeline = [(minute_of(run, n), n.kind, n.channel) for n in run.notices]
    # level 0 at 0; reminder at 10; level 1 (manager) at 15; reminders every 10 min after the
    # last level was told (25, 35); level 2 (principal) at 45 = 15 + (45 - 15); then 55, 65...
    kinds_at = {}
    for minute, kind, _ in timeline:
        kinds_at.setdefault(minute, set()).add(kind)
    assert kinds_at[0] == {NoticeKind.FIRED}
    assert kinds_at[10] == {NoticeKind.REMINDER}
    assert kinds_at[15] == {NoticeKind.ESCALATED}
    assert kinds_at[25] == kinds_at[35] == {NoticeKind.REMINDER}
    assert kinds_at[45] == {NoticeKind.ESCALATED}
    assert sorted(kinds_at) == [0, 10, 15, 25, 35, 45, 55, 65, 75, 85, 95, 105, 115]
    assert run.escalations == [
        Escalation(1, 1, FIRED_AT + timedelta(minutes=15), ("wang",)),
        Escalation(1, 2, FIRED_AT + timedelta(minutes=45), ("wang", "zhao")),
    ]
    manager = [n for n in run.notices if minute_of(run, n) == 15]
    assert where(manager) == {("mail", ("zhao",)), ("office-robot", ("zhao",))}
    mail = next(n for n in manager if n.channel == "mail")
    assert mail.addresses == ("zhao@school.cn",) and mail.told_before == ("wang",)
    assert mail.unacknowledged_since == FIRED_AT and mail.level == 1
    # a reminder goes to everyone told so far, at the level reached
    late = [n for n in run.notices if minute_of(run, n) == 55]
    assert where(late) == {
        ("wall", ()),
        ("kitchen-robot", ("wang",)),
        ("mail", ("zhao",)),
        ("office-robot", ("zhao",)),
        ("mail", ("sun",)),
    }
    assert {n.level for n in late} == {2}
    keys = [n.key for n in run.notices]
    assert len(keys) == len(set(keys)), "one key per (alert, step, level, recipient, channel)"


def test_everything_stops_on_acknowledge(site: SiteConfig) -> None:
    run = Run(site)
    item = alert(1)
    run.feed(change(item, AlertAction.FIRED))
    run.at(12)
    assert run.feed(change(item, AlertAction.ACKNOWLEDGED)) == []
    told = len(run.notices)
    run.at(240)
    assert len(run.notices) == told and run.escalations == []


def test_resolved_notice_to_everyone_told(site: SiteConfig) -> None:
    run = Run(site)
    item = alert(1)
    run.feed(change(item, AlertAction.FIRED))
    run.at(20)  # level 1 told at 15
    run.feed(change(item, AlertAction.ACKNOWLEDGED))
    run.at(50)
    done = run.feed(
        change(item, AlertAction.RESOLVED, resolved_at=FIRED_AT + timedelta(minutes=50))
    )
    assert where(done) == {
        ("wall", ()),
        ("kitchen-robot", ("wang",)),
        ("mail", ("zhao",)),
        ("office-robot", ("zhao",)),
    }
    assert {n.kind for n in done} == {NoticeKind.RESOLVED}
    assert all(n.ack_links == {} for n in done), "nothing left to acknowledge"
    assert done[0].alerts[0].resolved_at == FIRED_AT + timedelta(minutes=50)
    assert done[0].alerts[0].since == FIRED_AT
    before = len(run.notices)
    run.at(200)
    run.feed(change(item, AlertAction.CLOSED))
    assert len(run.notices) == before and run.planner.pending() == {}


def test_no_resolved_notice_when_the_route_says_so(tmp_path: Path) -> None:
    site = site_config(tmp_path, SITE_YAML.replace("resolved: true", "resolved: false"))
    run = Run(site)
    item = alert(3, device="cab-01", rule=RuleId.SEAL_DEGRADATION, severity=Severity.WARNING)
    assert run.feed(change(item, AlertAction.FIRED))
    assert run.feed(change(item, AlertAction.RESOLVED)) == []


def test_refire_and_worse_severity_start_over_with_new_keys(site: SiteConfig) -> None:
    run = Run(site)
    warning = alert(4, device="cab-01", rule=RuleId.SEAL_DEGRADATION, severity=Severity.WARNING)
    first = run.feed(change(warning, AlertAction.FIRED))
    run.feed(change(warning, AlertAction.ACKNOWLEDGED))
    worse = run.feed(change(warning, AlertAction.ESCALATED, severity=Severity.CRITICAL))
    assert [n.kind for n in worse] == [NoticeKind.FIRED] and worse[0].level == 0
    assert worse[0].key == "4/o1-critical/fired/L0/group/kitchen-robot" != first[0].key
    # the service's record of a planner escalation, fed back, is no new verdict
    assert run.feed(change(warning, AlertAction.ESCALATED, severity=Severity.CRITICAL)) == []
    again = run.feed(change(warning, AlertAction.REFIRED, occurrences=2))
    assert again[0].key == "4/o2/fired/L0/group/kitchen-robot"


def test_a_level_that_reaches_nobody_passes_on(tmp_path: Path) -> None:
    site = site_config(tmp_path, SITE_YAML.replace("      default: [zhao]\n", "", 1))
    saturday = local(28, 10)  # the roster's weekend gap, and the cook role has no default
    run = Run(site, saturday)
    item = alert(5, device="cab-01", rule=RuleId.SEAL_DEGRADATION, at=saturday)
    notices = run.feed(change(item, AlertAction.FIRED))
    assert {n.kind for n in notices} == {NoticeKind.ESCALATED}
    assert where(notices) == {("mail", ("zhao",)), ("office-robot", ("zhao",))}
    assert run.escalations == [Escalation(5, 1, saturday, ())]


def test_restart_keeps_timers_and_keys(site: SiteConfig) -> None:
    straight = Run(site)
    straight.feed(change(alert(1), AlertAction.FIRED))
    straight.at(60)

    first = Run(site)
    first.feed(change(alert(1), AlertAction.FIRED))
    first.at(12)
    saved = json.loads(json.dumps(first.planner.snapshot()))
    second = Run(site)
    second.clock.instant = first.clock.instant
    second.planner.restore(saved)
    second.at(60)
    assert [n.key for n in first.notices + second.notices] == [n.key for n in straight.notices]
    assert second.escalations == straight.escalations


def test_a_rolled_back_plan_leaves_no_trace(site: SiteConfig) -> None:
    """A plan whose transaction rolled back is undone: the same changes afterwards plan the
    same notices, with the same keys, as if the first attempt never happened."""
    straight = Run(site)
    straight.feed(change(alert(1), AlertAction.FIRED))
    straight.at(20)  # level 1 told: the told list grew
    expected = straight.feed(change(alert(2), AlertAction.FIRED))

    run = Run(site)
    run.feed(change(alert(1), AlertAction.FIRED))
    run.at(20)
    before = run.planner.snapshot()
    checkpoint = run.planner.checkpoint()
    run.feed(change(alert(2), AlertAction.FIRED))
    run.feed(change(alert(1), AlertAction.ACKNOWLEDGED))  # mutates alert 1's track in place
    run.planner.rollback(checkpoint)
    assert run.planner.snapshot() == before
    again = run.feed(change(alert(2), AlertAction.FIRED))
    assert [n.key for n in again] == [n.key for n in expected]


def test_restore_refuses_an_unknown_format(site: SiteConfig) -> None:
    with pytest.raises(ValueError, match="planner state version 7"):
        Run(site).planner.restore({"version": 7, "tracks": []})


def test_driven_by_the_real_alert_book(site: SiteConfig, tmp_path: Path) -> None:
    readings = DuckDBStore(tmp_path / "a.duckdb")
    store = DuckDBAlertStore(tmp_path / "a.duckdb")
    try:
        run = Run(site)
        book = AlertBook(store, "test-school", run.clock)
        message = Message("1号冷藏柜 9.4 °C", "fridge 1 at 9.4 °C")
        finding = Finding(
            "fridge-1", RuleId.OVER_TEMPERATURE, Phase.FIRING, to_epoch_ms(FIRED_AT),
            to_epoch_ms(FIRED_AT - timedelta(minutes=30)), Severity.CRITICAL, message,
            {"temp_c": 9.4, "limit_c": 8.0},
        )  # fmt: skip
        [fired] = book.apply([finding])
        notices = run.feed(fired)
        assert notices and notices[0].alerts[0].alert_id == fired.alert.id
        assert notices[0].alerts[0].value == 9.4
        run.at(16)
        assert run.escalations and run.escalations[0].alert_id == fired.alert.id
        acked = book.acknowledge(fired.alert.id, "zhao")
        run.feed(AlertChange(acked, AlertAction.ACKNOWLEDGED))
        told = len(run.notices)
        run.at(90)
        assert len(run.notices) == told
    finally:
        store.close()
        readings.close()


def test_reconcile_after_restore_follows_the_alert_book(site: SiteConfig) -> None:
    first = Run(site)
    first.feed(change(alert(1), AlertAction.FIRED))
    first.feed(change(alert(2, device="cab-01", rule=RuleId.SEAL_DEGRADATION), AlertAction.FIRED))
    saved = first.planner.snapshot()
    second = Run(site)
    second.planner.restore(saved)
    # since the snapshot: 1 was acknowledged, 2 closed, 3 fired and nobody tracked it
    open_alerts = [
        alert(1, state=AlertState.ACKNOWLEDGED),
        alert(3, device="fridge-1", rule=RuleId.DISINFECTION),
    ]
    started = second.planner.reconcile(open_alerts, {}).notices
    assert {n.key for n in started} == {
        "3/o1/fired/L0/group/wall",
        "3/o1/fired/L0/group/kitchen-robot",
        # 2 ended unseen: its resolution to those told (the outbox drops it if it went out)
        "2/o1/resolved/L0/group/kitchen-robot",
    }
    second.at(120)
    assert {n.alerts[0].alert_id for n in second.notices} == {3}
    assert set(second.planner.pending()) == {1, 3}


def test_reconcile_tells_a_resolution_and_a_new_occurrence_missed_by_the_snapshot(
    site: SiteConfig,
) -> None:
    first = Run(site)
    first.feed(change(alert(1), AlertAction.FIRED))
    first.feed(change(alert(2, device="fridge-2"), AlertAction.FIRED))
    saved = first.planner.snapshot()
    told = {n.key for n in first.notices}
    second = Run(site)
    second.planner.restore(saved)
    # since the snapshot: 1 resolved; 2 resolved and fired again (its second occurrence)
    open_alerts = [
        alert(1, state=AlertState.RESOLVED, condition_active=False),
        alert(2, device="fridge-2", occurrences=2),
    ]
    planned = second.planner.reconcile(open_alerts, {}).notices
    keys = {n.key for n in planned}
    # 1: the resolved notice to those told (no escalation of an alert already resolved)
    assert {k for k in keys if k.startswith("1/")} == {
        "1/o1/resolved/L0/group/wall",
        "1/o1/resolved/L0/group/kitchen-robot",
    }
    # 2: the first occurrence's end is told (under the key it would have had), the new
    # occurrence starts at level 0 under its own keys, none of the first's again
    assert {k for k in keys if k.startswith("2/")} == {
        "2/o1/resolved/L0/group/wall",
        "2/o1/resolved/L0/group/kitchen-robot",
        "2/o2/fired/L0/group/wall",
        "2/o2/fired/L0/group/kitchen-robot",
    }
    assert not keys & told
    assert set(second.planner.pending()) == {2}
    # Reconciling the same book again plans nothing new (a restart right after a restart).
    third = Run(site)
    third.planner.restore(second.planner.snapshot())
    assert third.planner.reconcile(open_alerts, {}).notices == []


def test_reconcile_counts_a_lost_first_occurrence_from_its_firing(site: SiteConfig) -> None:
    first = Run(site)
    first.feed(change(alert(1), AlertAction.FIRED))
    told = {n.key for n in first.notices}
    # The service died before the planner's state was saved; it starts again 20 min later.
    # The outbox holds level 0's notices (the records' word on what was told).
    second = Run(site, start=FIRED_AT + timedelta(minutes=20))
    recalled = {1: Recalled("o1", FIRED_AT, tuple(first.notices))}
    planned = second.planner.reconcile([alert(1)], recalled)
    assert not told & {n.key for n in planned.notices}  # level 0 is not planned again
    # Not acknowledged within 15 min of the firing: the canteen manager is told at once, not
    # 15 min after the restart; the reminder (10 min after level 0) is left for the next tick.
    assert [(e.alert_id, e.level) for e in planned.escalations] == [(1, 1)]
    assert {n.kind for n in planned.notices} == {NoticeKind.ESCALATED}
    # Level 2 counts from level 1 (told now): 30 min later, not at once.
    second.at(29)
    assert not [n for n in second.notices if n.level == 2]
    assert {n.level for n in second.at(30)} == {2}


def test_reconcile_without_records_tells_level_zero_once(site: SiteConfig) -> None:
    """An alert the outbox has no notice of (the crash came before its transaction's notices
    went anywhere? never: they commit together; here a snapshot taken before a route took
    it): its level 0 is told on start, once."""
    run = Run(site, start=FIRED_AT + timedelta(minutes=20))
    planned = run.planner.reconcile([alert(1)], {1: Recalled("o1", FIRED_AT)})
    assert {(n.kind, n.level) for n in planned.notices} == {(NoticeKind.FIRED, 0)}
    assert run.planner.reconcile([alert(1)], {1: Recalled("o1", FIRED_AT)}).notices == []
