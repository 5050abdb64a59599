"""Offline: k × the reporting interval or the Last Will; one site alert when everything is
silent; resolved when the device is current again."""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.model import AlertQuery, AlertState, RuleId
from alerts.service import AlertService
from core.readings import PresenceChange
from tests.alerts.conftest import MIDNIGHT, SITE, Harness, batch, minutes, series

T0 = MIDNIGHT + timedelta(hours=2)
DEVICES = ["fridge-1", "freezer-1", "sample-1", "ir-1", "steam-1", "rice-1"]


def everyone(
    start: datetime, count: int, step_s: float = 30
) -> list[tuple[str, datetime, dict[str, float]]]:
    rows = []
    for device in DEVICES:
        rows += series(device, start, step_s, [4.0] * count)
    return rows


def test_a_silent_device_is_pending_then_fires_then_resolves(harness: Harness) -> None:
    harness.feed(everyone(T0, 20))  # 10 min of everyone
    last = T0 + timedelta(seconds=19 * 30)
    others = [r for r in everyone(T0 + minutes(10), 9) if r[0] != "fridge-1"]
    harness.feed(others)  # fridge-1 silent from here; the clock is at last + 4.5 min
    # 30 s interval x 5 = 150 s, floor 300 s: silent once the clock passes last + 5 min.
    harness.tick(last + minutes(5))
    assert harness.alerts(RuleId.OFFLINE) == []
    harness.tick(last + minutes(5) + timedelta(seconds=1))
    [pending] = harness.alerts(RuleId.OFFLINE)
    assert pending.state is AlertState.PENDING and pending.device == "fridge-1"
    harness.tick(last + minutes(7) + timedelta(seconds=1))  # settle 120 s
    [firing] = harness.alerts(RuleId.OFFLINE)
    assert firing.state is AlertState.FIRING and "silent for 7 min" in firing.message.en
    harness.feed(series("fridge-1", last + minutes(8), 30, [4.0]))
    [back] = harness.alerts(RuleId.OFFLINE)
    assert back.state is AlertState.RESOLVED


def test_a_last_will_makes_the_device_silent_at_once(harness: Harness) -> None:
    harness.feed(everyone(T0, 4))
    at = T0 + minutes(2)
    harness.clock.instant = at
    harness.service.flush(
        harness.service.engine.presence([PresenceChange(SITE, "freezer-1", False, at)])
    )
    [alert] = harness.alerts(RuleId.OFFLINE)
    assert alert.state is AlertState.PENDING and alert.pending_since == at
    harness.tick(at + minutes(2))
    [alert] = harness.alerts(RuleId.OFFLINE)
    assert alert.state is AlertState.FIRING and "Last Will" in alert.message.en


def test_a_whole_site_gone_silent_is_one_alert_not_a_storm(harness: Harness) -> None:
    harness.feed(everyone(T0, 20))
    for minute in range(10, 60):
        harness.tick(T0 + minutes(minute))
    assert harness.alerts(RuleId.OFFLINE) == []
    [site] = harness.alerts(RuleId.SITE_OFFLINE)
    assert site.state is AlertState.FIRING and site.device == SITE
    assert "all 6 devices of Test School silent" in site.message.en
    harness.feed(everyone(T0 + minutes(60), 2))
    [site] = harness.alerts(RuleId.SITE_OFFLINE)
    assert site.state is AlertState.RESOLVED


def test_a_buffer_replayed_after_an_outage_resolves_once(harness: Harness) -> None:
    harness.feed(everyone(T0, 20))
    others = [r for r in everyone(T0 + minutes(10), 60) if r[0] != "fridge-1"]
    harness.feed(others)
    harness.tick(T0 + minutes(40))
    [alert] = harness.alerts(RuleId.OFFLINE)
    assert alert.state is AlertState.FIRING
    # fridge-1 returns and sends its 30 min buffer in three parts; the clock stays at 40 min.
    buffer = series("fridge-1", T0 + minutes(10), 30, [4.0] * 60)
    for part in (buffer[:20], buffer[20:40], buffer[40:]):
        harness.feed(part)
    [alert] = harness.alerts(RuleId.OFFLINE)
    assert alert.state is AlertState.RESOLVED and alert.occurrences == 1


def test_history_backfilled_now_shows_its_devices_talking_now(harness: Harness) -> None:
    # A gateway catching up (the demo's history, a bridge replaying its buffer): readings of
    # hours ago arrive now. The devices are talking now, so nothing is silent.
    now = T0 + timedelta(hours=6)
    harness.clock.instant = now
    for hour in range(6):
        harness.service.process(batch(*everyone(T0 + timedelta(hours=hour), 4)))
        harness.tick(now + minutes(hour))
    assert harness.alerts(RuleId.OFFLINE) == harness.alerts(RuleId.SITE_OFFLINE) == []
    # Then they fall silent: the deadline runs from when they were last heard.
    harness.tick(now + minutes(5 + 7))
    [site] = harness.alerts(RuleId.SITE_OFFLINE)
    assert site.state is AlertState.FIRING


def test_a_replay_of_the_store_after_a_restart_keeps_event_time(harness: Harness) -> None:
    # Replaying stored readings is not hearing from the device: a device silent since before
    # the restart is still silent after it.
    harness.feed(everyone(T0, 20))
    others = [r for r in everyone(T0 + minutes(10), 20) if r[0] != "fridge-1"]
    harness.feed(others)
    harness.tick(T0 + minutes(20))
    [before] = harness.alerts(RuleId.OFFLINE)
    assert before.state is AlertState.FIRING
    restarted = AlertService(harness.config, harness.store, harness.clock)
    restarted.recover(T0 + minutes(20))
    restarted.tick(T0 + minutes(21))
    [after] = restarted.book.find(
        AlertQuery(SITE, states=tuple(AlertState), rule=RuleId.OFFLINE, limit=10)
    )
    assert after.id == before.id and after.state is AlertState.FIRING


def restarted(harness: Harness, at: datetime) -> AlertService:
    """The service stopped with its state saved and started again at `at`."""
    harness.service.save_state()
    harness.clock.instant = at
    service = AlertService(harness.config, harness.store, harness.clock)
    service.recover(at)
    return service


def open_alerts(service: AlertService, rule: RuleId) -> list[tuple[str, AlertState, int]]:
    query = AlertQuery(SITE, states=tuple(AlertState), rule=rule, limit=100)
    return [(a.device, a.state, a.occurrences) for a in service.book.find(query)]


def test_a_restart_after_downtime_waits_for_what_the_broker_kept(harness: Harness) -> None:
    # The service is down for 50 min while the devices keep publishing into their persistent
    # sessions. Started again, it hears nothing for a few seconds, then the backlog arrives:
    # nobody was offline, so nothing is raised. fridge-1 alone really stopped at the outage:
    # once the restart's own silence threshold (5 min) has passed without a word from it, it
    # fires at once, having been silent for far longer than the settle time.
    harness.feed(everyone(T0, 20))
    up = T0 + minutes(60)
    service = restarted(harness, up)
    service.tick(up + timedelta(seconds=5))
    assert open_alerts(service, RuleId.SITE_OFFLINE) == open_alerts(service, RuleId.OFFLINE) == []
    backlog = [r for r in everyone(T0 + minutes(10), 101) if r[0] != "fridge-1"]
    harness.clock.instant = up + timedelta(seconds=10)
    service.process(batch(*backlog))
    for second in range(15, 5 * 60 + 1, 15):  # the others keep reporting live
        at = up + timedelta(seconds=second)
        harness.clock.instant = at
        service.process(batch(*[r for r in everyone(at, 1) if r[0] != "fridge-1"]))
        service.tick(at)
    assert open_alerts(service, RuleId.SITE_OFFLINE) == open_alerts(service, RuleId.OFFLINE) == []
    service.tick(up + minutes(5) + timedelta(seconds=1))
    assert open_alerts(service, RuleId.OFFLINE) == [("fridge-1", AlertState.FIRING, 1)]
    assert open_alerts(service, RuleId.SITE_OFFLINE) == []


def test_an_alert_open_before_a_restart_stays_open_through_it(harness: Harness) -> None:
    # fridge-1 has been offline since 10 min, alerted at 17 min; the service restarts at 40.
    harness.feed(everyone(T0, 20))
    for minute in range(10, 41):
        harness.feed([r for r in everyone(T0 + minutes(minute), 1) if r[0] != "fridge-1"])
        harness.tick(T0 + minutes(minute))
    assert open_alerts(harness.service, RuleId.OFFLINE) == [("fridge-1", AlertState.FIRING, 1)]
    service = restarted(harness, T0 + minutes(40))
    for minute in range(40, 60):
        at = T0 + minutes(minute)
        harness.clock.instant = at
        service.process(batch(*[r for r in everyone(at, 1) if r[0] != "fridge-1"]))
        service.tick(at)
        assert open_alerts(service, RuleId.OFFLINE) == [("fridge-1", AlertState.FIRING, 1)]
