"""The persisted outbox: what happens to a `Notice` after the planner made it.

A notice is written to the outbox (the same database as the alerts, `alerts.store.OutboxStore`)
before anything is sent, keyed by its idempotency key, so enqueuing the same notice twice is a
no-op and a restart loses nothing. Its life:

    pending --(dispatcher picks it)--> sending --> sent
       ^                                  |  \\--> failed   (permanent refusal / attempts used up)
       |__ retry after a backoff ________|
    pending --(channel rate limited)--> merged   (its alerts go out in a digest notice)
    pending --(every alert in a digest acted on)--> withdrawn   (`settle`; `withheld` when
                                                                 it was on its way then)

A person's step on an alert (acknowledged, resolved, closed) while a notice about it waits
makes part of that notice untrue: `settle` marks the alert in the waiting notice (it is then
said as acknowledged by whom, and its acknowledge link is left out), and withdraws a digest
whose every alert was acted on (a resolution in it stays news, so that digest goes out).

Delivery guarantee, plainly: the outbox sends each notice at least once until the receiver
accepts it or it fails for good. A notice whose send was interrupted by a crash (left
`sending`) is pending again on start and is sent again with the *same* key; a timed-out send
that did arrive is retried with the same key too. The receiver sees it at most once only if it
drops a second message with a key it has seen (our webhook, e-mail `Message-ID`, the retained
MQTT topic do; a vendor robot shows whatever it is given). That is the best a sender can do:
"sent" and "recorded as sent" cannot be one atomic step across a network.

This module holds the rules (the entry of a notice, a digest of notices, the outcome of an
attempt, the retry backoff); `alerts.notify.dispatcher` runs them.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from alerts.notify.model import AlertFacts, Delivery, Notice, NoticeKind, Settled
from core.records import DeliveryAttempt, DeliveryOutcome, OutboxEntry, OutboxState

__all__ = [
    "Attempted",
    "RetryPolicy",
    "digest_key",
    "digest_of",
    "entry_for",
    "mergeable",
    "notice_of",
    "outcome_of",
    "settle",
    "withheld",
]

_NOTICE: TypeAdapter[Notice] = TypeAdapter(Notice)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits a uniform random time in
    [0, min(cap_s, base_s * 2**(n-1))] (AWS Architecture Blog, "Exponential Backoff And
    Jitter", 2015: full jitter spreads retries of many senders best). A receiver's own
    Retry-After is a floor. A refusal that said when to come back (a rate limit) is waited
    for, never given up, and counts against no limit: after `max_attempts` tries refused
    otherwise the notice fails, and n counts those tries only."""

    base_s: float = 5.0
    cap_s: float = 600.0
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if self.base_s <= 0:
            raise ValueError(f"retry base_s must be > 0 s, got {self.base_s}")
        if self.cap_s < self.base_s:
            raise ValueError(f"retry cap_s ({self.cap_s}) must be >= base_s ({self.base_s})")
        if self.max_attempts < 1:
            raise ValueError(f"retry max_attempts must be >= 1, got {self.max_attempts}")

    def ceiling_s(self, attempt: int) -> float:
        """The longest wait after failed attempt number `attempt` (1 for the first)."""
        # min() before the power would overflow: 2**1100 is a float overflow.
        exponent = min(attempt - 1, 64)
        return min(self.cap_s, self.base_s * 2.0**exponent)

    def delay_s(self, attempt: int, rng: random.Random, retry_after_s: float | None) -> float:
        delay = rng.uniform(0.0, self.ceiling_s(attempt))
        if retry_after_s is not None and retry_after_s > delay:
            delay = retry_after_s
        return delay


# -- notices as stored entries ------------------------------------------------------------


def entry_for(notice: Notice, now: datetime) -> OutboxEntry:
    """A new pending entry for `notice`, due at once."""
    return OutboxEntry(
        key=notice.key,
        channel=notice.channel,
        kind=notice.kind.value,
        critical=notice.critical,
        alert_ids=tuple(a.alert_id for a in notice.alerts),
        notice=_NOTICE.dump_python(notice, mode="json"),
        state=OutboxState.PENDING,
        attempts=0,
        created_at=notice.created_at,
        next_attempt_at=now,
        updated_at=now,
    )


def notice_of(entry: OutboxEntry) -> Notice:
    """The notice an entry holds, as it was enqueued."""
    return _NOTICE.validate_python(entry.notice)


# -- digests ------------------------------------------------------------------------------


def mergeable(entries: Sequence[OutboxEntry]) -> list[list[OutboxEntry]]:
    """Groups of due entries that may become one digest: non-critical (a critical notice is
    never merged away, it waits for the next slot at the front), never tried (a notice that
    may already have reached the receiver keeps its key, or the receiver could not drop the
    duplicate), same language and the same addresses (one e-mail never carries another
    person's alerts). Only groups of two or more are worth a digest."""
    groups: dict[tuple[str, tuple[str, ...]], list[OutboxEntry]] = {}
    for entry in entries:
        if entry.critical or entry.attempts > 0:
            continue
        notice = entry.notice
        group = (str(notice.get("lang", "zh")), tuple(_strings(notice.get("addresses", ()))))
        groups.setdefault(group, []).append(entry)
    return [group for group in groups.values() if len(group) >= 2]


def digest_key(keys: Iterable[str]) -> str:
    """A key for the digest of `keys`: the same set gives the same key (a merge redone after a
    crash is the same digest), any other set another."""
    digest = hashlib.sha256("\n".join(sorted(set(keys))).encode()).hexdigest()
    return f"digest-{digest[:32]}"


def digest_of(notices: Sequence[Notice], now: datetime) -> Notice:
    """One DIGEST notice carrying every alert of `notices` (each alert once, with the facts of
    the newest notice about it), for everyone they were for."""
    if not notices:
        raise ValueError("a digest needs at least one notice")
    ordered = sorted(notices, key=lambda n: n.created_at)
    alerts: dict[int, AlertFacts] = {}
    links: dict[int, str] = {}
    for notice in ordered:
        for facts in notice.alerts:
            alerts.pop(facts.alert_id, None)
            alerts[facts.alert_id] = facts
        links.update(notice.ack_links)
    since = [n.unacknowledged_since for n in ordered if n.unacknowledged_since is not None]
    return Notice(
        key=digest_key(n.key for n in ordered),
        kind=NoticeKind.DIGEST,
        channel=ordered[0].channel,
        recipients=_union(n.recipients for n in ordered),
        alerts=tuple(alerts.values()),
        created_at=now,
        lang=ordered[0].lang,
        level=max(n.level for n in ordered),
        ack_links=links,
        addresses=_union(n.addresses for n in ordered),
        told_before=_union(n.told_before for n in ordered),
        unacknowledged_since=min(since) if since else None,
    )


# -- alerts acted on while their notice waits --------------------------------------------


def settle(entry: OutboxEntry, steps: Mapping[int, Settled], now: datetime) -> OutboxEntry | None:
    """`entry` (pending) with the alerts of `steps` marked as acted on; withdrawn when it is a
    digest whose every alert is acted on and none of them is a resolution. None: nothing to
    change (a resolved notice, whose news stays true, or alerts already marked)."""
    if entry.kind == NoticeKind.RESOLVED.value:
        return None
    notice = notice_of(entry)
    alerts = tuple(_marked(facts, steps) for facts in notice.alerts)
    if alerts == notice.alerts:
        return None
    links = {i: url for i, url in notice.ack_links.items() if i not in steps}
    revised = replace(notice, alerts=alerts, ack_links=links)
    done = replace(entry, notice=_NOTICE.dump_python(revised, mode="json"), updated_at=now)
    if entry.kind == NoticeKind.DIGEST.value and all(_untrue(f) for f in alerts):
        reason = f"withdrawn, not sent: every alert in it was {_steps(alerts)} before it went out"
        done = replace(done, state=OutboxState.WITHDRAWN, last_error=reason)
    return done


# What a step on its alert makes untrue: a reminder says nobody acknowledged, an escalation
# that nobody acted; a digest may say either of each of its alerts.
_UNTRUE_KINDS = frozenset(k.value for k in (NoticeKind.REMINDER, NoticeKind.ESCALATED))


def withheld(entry: OutboxEntry, now: datetime) -> Attempted | None:
    """A reminder or escalation whose alert, or a digest whose every alert, is marked acted
    on, withdrawn instead of sent (with its delivery log row): it was on its way when the
    last of them was acted on, so `settle` could only mark it, and that attempt failed.
    None: send it."""
    digest = entry.kind == NoticeKind.DIGEST.value
    if not digest and entry.kind not in _UNTRUE_KINDS:
        return None
    try:
        alerts = notice_of(entry).alerts
    except ValueError:  # the send says what is wrong with it
        return None
    if not alerts or not all(_untrue(facts) for facts in alerts):
        return None
    if digest:
        reason = f"withdrawn, not sent: every alert in it was {_steps(alerts)} before it went out"
    else:
        reason = f"withdrawn, not sent: its alert was {_step(alerts[0])} before it went out"
    done = replace(entry, state=OutboxState.WITHDRAWN, updated_at=now, last_error=reason)
    row = _log_row(entry, Delivery(ok=False, reason=reason), 0, now, DeliveryOutcome.WITHDRAWN, 0.0)
    return Attempted(done, row)


def _marked(facts: AlertFacts, steps: Mapping[int, Settled]) -> AlertFacts:
    step = steps.get(facts.alert_id)
    if step is None or facts.settled is not None or facts.resolved_at is not None:
        return facts  # a resolution (resolved_at) is news whatever happened after it
    return replace(facts, settled=step)


def _untrue(facts: AlertFacts) -> bool:
    return facts.settled is not None and facts.resolved_at is None


def _steps(alerts: Iterable[AlertFacts]) -> str:
    """`acknowledged by wang (42), resolved (43)`."""
    return ", ".join(f"{_step(f)} ({f.alert_id})" for f in alerts if f.settled is not None)


def _step(facts: AlertFacts) -> str:
    """`acknowledged by wang`, `resolved`."""
    step = facts.settled
    if step is None:
        return ""
    return f"{step.step} by {step.by}" if step.by else step.step


# -- the outcome of an attempt ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempted:
    """An attempt's result: the entry as it is now, and its delivery log row."""

    entry: OutboxEntry
    log: DeliveryAttempt


def outcome_of(
    entry: OutboxEntry,
    delivery: Delivery,
    *,
    started: datetime,
    now: datetime,
    latency_ms: float,
    policy: RetryPolicy,
    rng: random.Random,
) -> Attempted:
    """The entry after the attempt `delivery` reports (it was `entry.attempts + 1`; the
    delivery log numbers every try, rate-limited or not)."""
    attempt = entry.attempts + 1
    limited = entry.rate_limited + (1 if _rate_limited(delivery) else 0)
    counted = attempt - limited  # the tries that count against `max_attempts`
    done = replace(
        entry,
        attempts=attempt,
        rate_limited=limited,
        updated_at=now,
        last_error=delivery.reason or None,
    )
    if delivery.ok:
        done = replace(done, state=OutboxState.SENT, sent_at=now, last_error=None)
        outcome = DeliveryOutcome.SENT
    elif delivery.permanent:
        reason = f"refused for good: {delivery.reason}"
        done = replace(done, state=OutboxState.FAILED, last_error=reason)
        outcome = DeliveryOutcome.FAILED
    elif counted >= policy.max_attempts and not _rate_limited(delivery):
        reason = f"gave up after {_tries(counted, limited)}: {delivery.reason}"
        done = replace(done, state=OutboxState.FAILED, last_error=reason)
        outcome = DeliveryOutcome.FAILED
    else:
        delay = policy.delay_s(max(counted, 1), rng, delivery.retry_after_s)
        due = now + timedelta(seconds=delay)
        done = replace(done, state=OutboxState.PENDING, next_attempt_at=due)
        outcome = DeliveryOutcome.RETRY
    return Attempted(done, _log_row(entry, delivery, attempt, started, outcome, latency_ms))


def _rate_limited(delivery: Delivery) -> bool:
    """A refusal that said when to come back (HTTP 429, WeCom 45009, DingTalk 130101, Feishu
    11232; a 503 with Retry-After): the notice did not reach the receiver, which is busy, not
    broken. Such refusals are waited for however often they come, and never use up the
    attempts of the other refusals: a critical notice must not be dropped because a busy robot
    was followed by one blip."""
    return not delivery.ok and not delivery.permanent and delivery.retry_after_s is not None


def _tries(counted: int, limited: int) -> str:
    """`3 attempts`, or `3 attempts (and 10 refused by a rate limit)`."""
    said = f"{counted} attempts"
    return f"{said} (and {limited} refused by a rate limit)" if limited else said


def _log_row(
    entry: OutboxEntry,
    delivery: Delivery,
    attempt: int,
    started: datetime,
    outcome: DeliveryOutcome,
    latency_ms: float,
) -> DeliveryAttempt:
    return DeliveryAttempt(
        notice_key=entry.key,
        alert_ids=entry.alert_ids,
        channel=entry.channel,
        recipients=tuple(_strings(entry.notice.get("recipients", ()))),
        attempt=attempt,
        at=started,
        outcome=outcome,
        reason=delivery.reason,
        status=delivery.status,
        latency_ms=round(latency_ms, 3),
        kind=entry.kind,
    )


def _union(groups: Iterable[Iterable[str]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for group in groups for item in group))


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list | tuple) else []
