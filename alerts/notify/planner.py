"""The notification planner: from alert changes and the passing of time to `Notice`s.

Pure logic on an injected clock, no I/O: the service feeds it every `AlertChange` the alert
book returns (`on_change`) and calls `tick` every few seconds; both return a `Plan`, the notices
for the outbox and the escalations the service records in the alert's history (ESCALATED,
actor "rule"). The planner writes nothing itself.

Per alert (one `Track` per firing occurrence):

- fired: level 0 is told at once; offline alerts wait `grouping_window_s` first, so devices
  that fall silent together start together and go out as one digest per channel;
- not acknowledged `after_min` (counted from the level before, so after quiet hours the levels
  keep their spacing) -> the next level is told (ESCALATED, naming who was told before); a level
  that reaches nobody (an empty roster without defaults) is passed at once;
- every `reminder_every_min` while firing and unacknowledged (counted from the last level
  told) -> a reminder to everyone told so far;
- acknowledged -> every timer stops; resolved -> a resolved notice to everyone who was told
  (when the route asks for one); closed -> forgotten;
- quiet hours hold what `routing.held_by_quiet_hours` allows: a notice due in them waits for
  their end; an alert that resolves before anyone was told is dropped without a word (nothing
  happened that anyone needs to hear about; it stays in the alert list and its history);
- the lifecycle's own ESCALATED (a worse severity) starts the alert over at level 0.

Notices produced in one step for one channel, kind and level that are all about silent
devices of one site become one DIGEST notice (the 20 fridges of a kitchen whose gateway
died are one message, not 20).

Restart: `snapshot()` is a plain JSON-able dict of every timer, who was told and each alert's
facts; `restore()` takes it back. A snapshot, not a rebuild from the alert history: the history
does not say who was on duty and told (the roster may have changed since), how many reminders
went out, or what quiet hours held, and the resolved notice must reach exactly those told.
The service saves it at most every few seconds after the alert book's plans, and on stop; on
start it calls `restore`, then `reconcile` with the open alerts and what the records say of
each one's current round (`recall`: the round from the alert's history, its notices from the
outbox, both written before the snapshot), so a round begun after the snapshot (a later
occurrence, a worse severity, a group's digest) is tracked from when it began and from what
was told, never told twice and never counted from the restart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.lifecycle import AlertChange
from alerts.model import Alert, AlertAction, AlertState
from alerts.notify import planner_state
from alerts.notify.links import sign
from alerts.notify.model import AlertFacts, Notice, NoticeKind
from alerts.notify.planner_model import Checkpoint, Escalation, Plan, Track
from alerts.notify.recall import Recalled, ahead, recount
from alerts.notify.routing import (
    GROUPED_RULES,
    Target,
    facts_for,
    held_by_quiet_hours,
    merge_digests,
    merge_told,
    route_for,
    subject_of,
    targets,
    told_names,
)
from core.clock import Clock
from core.config import SiteConfig
from core.notify_config import Route

__all__ = ["ACK_PATH", "Checkpoint", "Escalation", "NotifyPlanner", "Plan", "Recalled"]

log = logging.getLogger(__name__)

ACK_PATH = "/ack/"  # the acknowledge page: {public_url}/ack/{token}


class NotifyPlanner:
    def __init__(self, site: SiteConfig, clock: Clock) -> None:
        self._site = site
        self._notify = site.notify
        self._clock = clock
        self._zone = ZoneInfo(site.site.timezone)
        self._tracks: dict[int, Track] = {}

    # -- input ------------------------------------------------------------------------------

    def on_change(self, change: AlertChange) -> Plan:
        now = self._clock.now()
        plan = Plan()
        alert, action = change.alert, change.action
        track = self._tracks.get(alert.id)
        if action in (AlertAction.FIRED, AlertAction.REFIRED):
            self._start(change, now, f"o{alert.occurrences}")
        elif action is AlertAction.ESCALATED and alert.state is AlertState.FIRING:
            worse = track is None or alert.severity.rank > track.facts.severity.rank
            if worse:  # a planner escalation the service echoed back is not a new verdict
                self._start(change, now, f"o{alert.occurrences}-{alert.severity.value}")
        elif action is AlertAction.ACKNOWLEDGED and track is not None:
            self._acknowledged(alert.id, track)
        elif action is AlertAction.RESOLVED and track is not None:
            track.facts = replace(facts_for(alert, self._site), since=track.facts.since)
            self._resolved(alert.id, track, now)
        elif action is AlertAction.CLOSED:
            self._tracks.pop(alert.id, None)
        self._step(now, plan)
        return plan

    def tick(self) -> Plan:
        plan = Plan()
        self._step(self._clock.now(), plan)
        return plan

    # -- lifecycle --------------------------------------------------------------------------

    def _start(self, change: AlertChange, now: datetime, round_: str) -> None:
        alert = change.alert
        subject = subject_of(alert, self._site)
        route = route_for(self._notify, alert, subject)
        if route is None:
            log.warning("alert %d (%s, %s): no route takes it", alert.id, alert.rule, alert.device)
            self._tracks.pop(alert.id, None)
            return
        held = held_by_quiet_hours(alert, subject, self._site)
        due = now
        if alert.rule in GROUPED_RULES:
            due += timedelta(seconds=self._notify.grouping_window_s)
            due = self._group_start(alert.site, due, now)
        self._tracks[alert.id] = Track(
            facts=facts_for(alert, self._site),
            route=route.name,
            round=round_,
            held=held,
            phase="waiting",
            due=self._after_quiet(due) if held else due,
        )

    def _group_start(self, site: str, due: datetime, now: datetime) -> datetime:
        """Join a group of silent devices still waiting (its window opened earlier)."""
        for track in self._tracks.values():
            grouped = track.facts.rule in GROUPED_RULES and track.facts.site == site
            if grouped and track.phase == "waiting" and now <= track.due:
                return min(due, track.due)
        return due

    def _acknowledged(self, alert_id: int, track: Track) -> None:
        if not track.told:
            del self._tracks[alert_id]  # seen before anyone was told: nothing left to say
            return
        track.phase = "acknowledged"
        track.next_reminder = None

    def _resolved(self, alert_id: int, track: Track, now: datetime) -> None:
        if not track.told:
            log.info("alert %d resolved before anyone was told: its notice is dropped", alert_id)
            del self._tracks[alert_id]
            return
        if not self._route(track).resolved:
            del self._tracks[alert_id]
            return
        track.phase = "resolving"
        track.due = self._after_quiet(now) if track.held else now

    # -- time -------------------------------------------------------------------------------

    def _step(self, now: datetime, plan: Plan) -> None:
        out: list[Notice] = []
        for alert_id in sorted(self._tracks):
            track = self._tracks[alert_id]
            if track.held and self._quiet(now) and track.phase != "acknowledged":
                continue
            if track.phase == "waiting" and now >= track.due:
                self._tell_level(track, 0, now, out, plan)
            elif track.phase == "active":
                self._escalate_and_remind(track, now, out, plan)
            elif track.phase == "resolving" and now >= track.due:
                self._tell(track, NoticeKind.RESOLVED, "resolved", track.told, now, out)
                del self._tracks[alert_id]
        plan.notices.extend(merge_digests(out))

    def _escalate_and_remind(
        self, track: Track, now: datetime, out: list[Notice], plan: Plan
    ) -> None:
        route = self._route(track)
        if track.level + 1 < len(route.levels) and now >= track.due:
            self._tell_level(track, track.level + 1, now, out, plan)
        elif track.next_reminder is not None and now >= track.next_reminder:
            track.reminders += 1
            step = f"reminder{track.reminders}"
            self._tell(track, NoticeKind.REMINDER, step, track.told, now, out)
            track.next_reminder = now + timedelta(minutes=route.reminder_every_min or 0)

    def _tell_level(
        self, track: Track, level: int, now: datetime, out: list[Notice], plan: Plan
    ) -> None:
        """Tell `level`; a level that reaches nobody passes to the next at once."""
        route = self._route(track)
        before = told_names(track.told)
        while True:
            reached = targets(
                self._notify, route, route.levels[level], now, self._site.site.timezone
            )
            if reached or level + 1 >= len(route.levels):
                break
            log.warning(
                "alert %d: level %d reaches nobody now; next level", track.facts.alert_id, level
            )
            level += 1
        kind = NoticeKind.FIRED if level == 0 else NoticeKind.ESCALATED
        track.level, track.phase = level, "active"
        track.unacked_since = track.unacked_since or now
        self._tell(track, kind, kind.value, reached, now, out, before)
        merge_told(track.told, reached)
        if level > 0:
            plan.escalations.append(Escalation(track.facts.alert_id, level, now, before))
        if level + 1 < len(route.levels):
            gap = route.levels[level + 1].after_min - route.levels[level].after_min
            track.due = now + timedelta(minutes=gap)
        every = route.reminder_every_min
        track.next_reminder = now + timedelta(minutes=every) if every else None

    def _tell(
        self,
        track: Track,
        kind: NoticeKind,
        step: str,
        reached: list[Target],
        now: datetime,
        out: list[Notice],
        before: tuple[str, ...] = (),
    ) -> None:
        facts = track.facts
        for target in reached:
            who = target.recipients[0] if target.personal else "group"
            level = max(track.level, 0)
            key = f"{facts.alert_id}/{track.round}/{step}/L{level}/{who}/{target.channel}"
            out.append(
                Notice(
                    key=key,
                    kind=kind,
                    channel=target.channel,
                    recipients=target.recipients,
                    alerts=(facts,),
                    created_at=now,
                    lang=target.lang,
                    level=level,
                    ack_links=self._links(facts, target.channel, now, kind),
                    addresses=target.addresses,
                    told_before=before if kind is NoticeKind.ESCALATED else (),
                    unacknowledged_since=track.unacked_since,
                )
            )

    def _links(
        self, facts: AlertFacts, channel: str, now: datetime, kind: NoticeKind
    ) -> dict[int, str]:
        secret = self._notify.link_secret_text()
        url = self._notify.public_url
        if secret is None or url is None or kind is NoticeKind.RESOLVED:
            return {}
        expires = now + timedelta(hours=self._notify.link_ttl_h)
        token = sign(facts.alert_id, channel, expires, secret)
        return {facts.alert_id: f"{str(url).rstrip('/')}{ACK_PATH}{token}"}

    # -- quiet hours ------------------------------------------------------------------------

    def _quiet(self, now: datetime) -> bool:
        quiet = self._notify.quiet_hours
        return quiet is not None and quiet.covers(self._local(now))

    def _after_quiet(self, at: datetime) -> datetime:
        """`at`, or the end of the quiet hours covering it (UTC)."""
        quiet = self._notify.quiet_hours
        if quiet is None or not quiet.covers(self._local(at)):
            return at
        end = quiet.ends_after(self._local(at)).replace(tzinfo=self._zone)
        return max(at, end.astimezone(at.tzinfo))

    def _local(self, at: datetime) -> datetime:
        return at.astimezone(self._zone).replace(tzinfo=None)

    def _route(self, track: Track) -> Route:
        for route in self._notify.routes:
            if route.name == track.route:
                return route
        raise KeyError(track.route)  # restore() drops tracks of routes no longer configured

    # -- restart ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Every timer and who was told, as plain JSON-able data."""
        return self.checkpoint().snapshot()

    def checkpoint(self) -> Checkpoint:
        """A copy of every timer, cheap (a plan undone, a snapshot written outside a lock):
        each track copied with its list of who was told; the rest of a track is immutable."""
        return Checkpoint({i: replace(t, told=list(t.told)) for i, t in self._tracks.items()})

    def rollback(self, checkpoint: Checkpoint) -> None:
        """Back to `checkpoint` (taken before a plan whose transaction rolled back)."""
        self._tracks = {i: replace(t, told=list(t.told)) for i, t in checkpoint.tracks.items()}

    def restore(self, data: dict[str, Any]) -> None:
        """Take back a `snapshot()`; tracks of routes no longer configured are dropped."""
        routes = {route.name for route in self._notify.routes}
        self._tracks = {}
        for alert_id, fields in planner_state.load(data).items():
            if fields["route"] not in routes:
                log.warning("alert %d: route %s is gone; timers dropped", alert_id, fields["route"])
                continue
            self._tracks[alert_id] = Track(**fields)

    def reconcile(self, open_alerts: Iterable[Alert], recalled: Mapping[int, Recalled]) -> Plan:
        """After `restore`, line the timers up with the alert book and the outbox (what changed
        after the last snapshot): forget alerts no longer open; track an alert's current round
        (`recalled`) anew where the snapshot has none or an earlier one (a later occurrence, a
        worse severity); take who was told, at which level and when from the outbox where it
        knows more than the snapshot; stop those acknowledged meanwhile, tell the resolution
        of those resolved; a round that ended meanwhile (the alert closed, or fired again)
        tells its resolution to those told, under the keys it would have had (the outbox drops
        one that went out). Then the timers due, once: a level or reminder missed while the
        service was down goes out once now, not once per missed step."""
        alerts = {alert.id: alert for alert in open_alerts if alert.state.is_open}
        now, ended = self._clock.now(), list[Notice]()
        for alert_id in [i for i in self._tracks if i not in alerts]:
            self._ended(self._tracks.pop(alert_id), now, ended)
        for alert in alerts.values():
            memory = recalled.get(alert.id) or self._assumed(alert, now)
            self._line_up(alert, memory, now, ended)
        plan = Plan(notices=merge_digests(ended))
        plan.extend(self.tick())
        return plan

    def _ended(self, track: Track, now: datetime, out: list[Notice]) -> None:
        """The resolution of a round that ended unseen, to those told (if its route says so)."""
        if not track.told or track.phase == "waiting" or not self._route(track).resolved:
            return
        if track.held and self._quiet(now):
            log.info("alert %d: its end falls in quiet hours; not told", track.facts.alert_id)
            return
        self._tell(track, NoticeKind.RESOLVED, "resolved", track.told, now, out)

    def _assumed(self, alert: Alert, now: datetime) -> Recalled:
        """An alert the records said nothing about: its round as the snapshot has it, if it is
        this occurrence's, else this occurrence from its firing; nobody told."""
        track, occurrence = self._tracks.get(alert.id), f"o{alert.occurrences}"
        if track is not None and _occurrence(track.round) == occurrence:
            return Recalled(track.round, now)
        return Recalled(occurrence, alert.fired_at or now)

    def _line_up(self, alert: Alert, memory: Recalled, now: datetime, ended: list[Notice]) -> None:
        track = self._tracks.get(alert.id)
        if track is None or track.round != memory.round:
            earlier = self._tracks.pop(alert.id, None)  # its reminders end here
            if earlier is not None and _occurrence(earlier.round) != _occurrence(memory.round):
                self._ended(earlier, now, ended)
            if alert.state is not AlertState.FIRING and not memory.told:
                return  # acknowledged or resolved before anyone was told: nothing to say
            track = self._retrack(alert, memory)
        elif ahead(memory, track):
            recount(track, memory, self._route(track), self._notify.channels)
        if track is None:
            return
        if alert.state is AlertState.ACKNOWLEDGED and track.phase != "acknowledged":
            self._acknowledged(alert.id, track)
        elif alert.state is AlertState.RESOLVED and track.phase != "resolving":
            if any(n.kind is NoticeKind.RESOLVED for n in memory.told):
                del self._tracks[alert.id]  # its resolution went out already
                return
            track.facts = replace(facts_for(alert, self._site), since=track.facts.since)
            self._resolved(alert.id, track, now)

    def _retrack(self, alert: Alert, memory: Recalled) -> Track | None:
        """Track `alert`'s round as if it had started at `memory.since` (the grouping window
        and quiet hours count from then), with what the outbox says was told."""
        self._start(AlertChange(alert, AlertAction.FIRED), memory.since, memory.round)
        track = self._tracks.get(alert.id)
        if track is not None and memory.told:
            recount(track, memory, self._route(track), self._notify.channels)
        return track

    def pending(self) -> dict[int, datetime | None]:
        """Each tracked alert and when something next happens for it (the service's view)."""
        return {
            i: t.next_reminder if t.phase == "active" else t.due for i, t in self._tracks.items()
        }


def _occurrence(round_: str) -> str:
    """`o2` of `o2` or `o2-critical`."""
    return round_.split("-")[0]
