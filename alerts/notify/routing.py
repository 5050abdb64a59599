"""Where an alert goes: the route that takes it, the people and channels of one escalation
level at one instant, and what every message says about it (`AlertFacts`, in the site's words).

Routes are tried in order and the first whose `match` fits wins (each list empty means any); an
alert no route takes reaches nobody (the config warns when no route is a catch-all). A level
resolves its roles through the duty roster (`roster.on_duty`), adds its own people, then each
person's channels: an e-mail channel gets one `Target` per person (their address), a group
channel (a robot's chat, a webhook, the wall display) one `Target` naming everyone it reaches.

`merge_digests` folds the notices of one step about silent devices of one site (offline,
site offline: one cause, such as a dead gateway) into one DIGEST per channel and recipients.

Quiet hours never hold an alert about food: the food-safety rules (`FOOD_SAFETY_RULES`), and a
cold-storage device's silence (offline or a faulty probe on a fridge, freezer or sample fridge,
or the whole site offline when it has one), because then nobody knows whether the food is
still cold, and the food may be served in the morning before anyone looked.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from alerts.model import FOOD_SAFETY_RULES, Alert, RuleId
from alerts.notify.model import ENERGY_RULES, AlertFacts, Notice, NoticeKind
from alerts.notify.roster import on_duty
from core.config import SiteConfig
from core.model import DeviceKind
from core.notify_channels import is_personal
from core.notify_config import Lang, Level, NotifyConfig, Route

__all__ = [
    "GROUPED_RULES",
    "Subject",
    "Target",
    "facts_for",
    "held_by_quiet_hours",
    "merge_digests",
    "merge_told",
    "route_for",
    "subject_of",
    "targets",
    "told_names",
]

log = logging.getLogger(__name__)

# Alerts of one cause: devices going silent together (a site's uplink, a gateway, a bridge).
GROUPED_RULES = frozenset({RuleId.OFFLINE, RuleId.SITE_OFFLINE})
_SILENCE_RULES = frozenset({RuleId.OFFLINE, RuleId.SITE_OFFLINE, RuleId.SENSOR_FAULT})


@dataclass(frozen=True, slots=True)
class Subject:
    """What a route matches an alert on, beside its rule and severity."""

    site: str
    building: str | None  # None for the site itself (site_offline)
    kind: DeviceKind | None


@dataclass(frozen=True, slots=True)
class Target:
    """One message's destination: a channel and the people it reaches there."""

    channel: str
    recipients: tuple[str, ...]
    addresses: tuple[str, ...]
    lang: Lang
    personal: bool  # one person's address (e-mail), else a group channel


def subject_of(alert: Alert, site: SiteConfig) -> Subject:
    device = site.device(alert.device)
    if device is None:
        return Subject(alert.site, None, None)
    return Subject(alert.site, device.building, device.kind)


def route_for(notify: NotifyConfig, alert: Alert, subject: Subject) -> Route | None:
    for route in notify.routes:
        match = route.match
        if (
            (not match.rules or alert.rule in match.rules)
            and (not match.sites or subject.site in match.sites)
            and (not match.buildings or subject.building in match.buildings)
            and (not match.kinds or subject.kind in match.kinds)
            and (not match.severities or alert.severity in match.severities)
        ):
            return route
    return None


def held_by_quiet_hours(alert: Alert, subject: Subject, site: SiteConfig) -> bool:
    """Whether quiet hours may hold this alert's notices (see the module docstring)."""
    if alert.rule in FOOD_SAFETY_RULES or alert.food_safety:
        return False
    if alert.rule in _SILENCE_RULES:
        if subject.kind is not None:
            return not subject.kind.is_cold_storage
        return not any(d.kind.is_cold_storage for d in site.devices)
    return True


def targets(
    notify: NotifyConfig, route: Route, level: Level, at: datetime, zone: str
) -> list[Target]:
    """Where one level's notices go at `at`: group channels merged, e-mail per person."""
    people: list[str] = []
    for role in level.roles:
        duty = on_duty(notify.roles[role], at, zone)
        if duty.fallback and notify.roles[role].roster:
            log.info("role %s: no shift at %s, its default people are told", role, at)
        people.extend(p for p in duty.people if p not in people)
    people.extend(p for p in level.people if p not in people)
    group_lang: Lang = route.lang or notify.lang
    groups: dict[str, list[str]] = {name: [] for name in level.channels}
    out: list[Target] = []
    for name in people:
        person = notify.people[name]
        for channel in person.channels:
            if not is_personal(notify.channels[channel]):
                groups.setdefault(channel, []).append(name)
                continue
            lang: Lang = person.lang or route.lang or notify.lang
            address = (person.email,) if person.email else ()
            out.append(Target(channel, (name,), address, lang, personal=True))
    for channel, members in groups.items():
        out.append(Target(channel, tuple(dict.fromkeys(members)), (), group_lang, personal=False))
    return out


def facts_for(alert: Alert, site: SiteConfig) -> AlertFacts:
    """What every message says about `alert`: names and places from the site config."""
    device = site.device(alert.device)
    buildings = {b.id: b.name for b in site.buildings}
    if device is None:
        name, location = site.site.name, ""
    else:
        name = device.name or device.id
        location = " ".join(p for p in (buildings.get(device.building, ""), device.location) if p)
    value, limit, unit = _reading(alert)
    return AlertFacts(
        alert_id=alert.id,
        site=alert.site,
        site_name=site.site.name,
        device=alert.device,
        device_name=name,
        location=location,
        rule=alert.rule,
        severity=alert.severity,
        food_safety=alert.food_safety,
        since=alert.fired_at or alert.pending_since,
        message=alert.message,
        value=value,
        limit=limit,
        unit=unit,
        zone=site.site.timezone,
        resolved_at=alert.resolved_at,
    )


def _reading(alert: Alert) -> tuple[float | None, float | None, str | None]:
    """The value, the limit and their unit the rule's evidence holds: an energy rule's observed
    rate against its baseline (kW, or m³/h for a night water flow, where the baseline is the
    leak threshold; `energy.anomaly_model`), a temperature rule's reading against its limit."""
    evidence = alert.evidence
    if alert.rule in ENERGY_RULES:
        value, limit = _number(evidence.get("observed")), _number(evidence.get("baseline"))
        unit = evidence.get("unit")
        shown = unit if isinstance(unit, str) and unit else None
    else:
        value, limit = _number(evidence.get("temp_c")), _number(evidence.get("limit_c"))
        shown = "°C"
    return value, limit, shown if value is not None or limit is not None else None


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def merge_digests(notices: list[Notice]) -> list[Notice]:
    """Notices of one step about silent devices of one site, for one channel, kind, level and
    set of recipients, merged into one DIGEST each."""
    groups: dict[tuple[Any, ...], list[Notice]] = {}
    out: list[Notice] = []
    for notice in notices:
        facts = notice.alerts[0]
        if facts.rule not in GROUPED_RULES:
            out.append(notice)
            continue
        key = (
            facts.site,
            notice.channel,
            notice.kind,
            notice.level,
            notice.recipients,
            notice.lang,
        )
        groups.setdefault(key, []).append(notice)
    for members in groups.values():
        if len(members) == 1:
            out.append(members[0])
            continue
        digest = hashlib.sha256("\n".join(sorted(m.key for m in members)).encode()).hexdigest()
        first = members[0]
        out.append(
            replace(
                first,
                key=f"digest/{digest[:24]}/{first.channel}",
                kind=NoticeKind.DIGEST,
                alerts=tuple(m.alerts[0] for m in members),
                ack_links={k: v for m in members for k, v in m.ack_links.items()},
                unacknowledged_since=min(
                    (m.unacknowledged_since for m in members if m.unacknowledged_since),
                    default=None,
                ),
            )
        )
    return out


def merge_told(told: list[Target], reached: list[Target]) -> None:
    """Add `reached` to `told`; a group channel told twice is one target with everyone."""
    for target in reached:
        same = next((i for i, t in enumerate(told) if _same_place(t, target)), None)
        if same is None:
            told.append(target)
        elif not target.personal:
            old = told[same]
            members = tuple(dict.fromkeys((*old.recipients, *target.recipients)))
            told[same] = replace(old, recipients=members)


def _same_place(a: Target, b: Target) -> bool:
    if a.personal or b.personal:
        return a == b
    return a.channel == b.channel


def told_names(told: list[Target]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for target in told for name in target.recipients))
