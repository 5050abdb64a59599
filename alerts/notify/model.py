"""What the notification parts hand each other: a `Notice` (one message about one alert, or a
digest of several, for one channel and its recipients), the `Channel` protocol every sender
implements, and the `Delivery` a channel reports back.

The planner (routing, escalation, reminders, quiet hours, grouping) decides *what* to say to
*whom* and when; the outbox persists each notice before it is sent and retries it; a channel only
renders and sends. `Notice.key` is the idempotency key: the same notice retried after a crash
or a timeout carries the same key, so a receiver can drop the duplicate, and the outbox never
creates a second notice for one (alert, step, recipient, channel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.records import Message, RuleId, Severity

__all__ = [
    "ENERGY_RULES",
    "AlertFacts",
    "Channel",
    "Delivery",
    "Notice",
    "NoticeKind",
    "Settled",
]


# Energy anomalies: their evidence says observed / baseline / unit (`energy.anomaly_model`), not
# temp_c / limit_c, and their messages call the reference what it is, the usual use, not a limit.
ENERGY_RULES = frozenset(
    {
        RuleId.ENERGY_NIGHT_BASE_LOAD,
        RuleId.ENERGY_HOLIDAY_BASE_LOAD,
        RuleId.ENERGY_NIGHT_WATER_FLOW,
        RuleId.ENERGY_KITCHEN_OFF_HOURS,
    }
)


class NoticeKind(StrEnum):
    """Why a notice goes out."""

    FIRED = "fired"  # the alert started firing (or fired again)
    REMINDER = "reminder"  # still firing, nobody acknowledged
    ESCALATED = "escalated"  # not acknowledged in time: the next level is told
    RESOLVED = "resolved"  # the condition cleared
    DIGEST = "digest"  # several alerts in one message (rate limit, one cause)


@dataclass(frozen=True, slots=True)
class Settled:
    """What a person (or the rules) did to an alert after a notice about it was written and
    before it went out: such a notice must not tell it as still needing action."""

    step: str  # acknowledged | resolved | closed (`AlertState` values)
    at: datetime  # UTC: when the notify side learnt of it
    by: str | None = None  # who, when the alert book says


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What every message says about one alert, in the site's words (never only ids)."""

    alert_id: int
    site: str
    site_name: str
    device: str
    device_name: str
    location: str  # building and room, as the site config names them
    rule: RuleId
    severity: Severity
    food_safety: bool
    since: datetime  # UTC; rendered in the site's zone
    message: Message  # the rule's own sentence
    value: float | None = None  # the current value, when the rule has one
    limit: float | None = None
    unit: str | None = None
    zone: str = "Asia/Shanghai"  # the site's IANA time zone: messages show local time
    resolved_at: datetime | None = None  # UTC, for a resolved notice
    # Acted on while the notice waited in the outbox (`outbox.settle`): said, never its link.
    settled: Settled | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """One message for one channel. `alerts` has one entry, or several for a digest."""

    key: str  # idempotency key, stable across retries and restarts
    kind: NoticeKind
    channel: str  # the configured channel's name
    recipients: tuple[str, ...]  # people (config names) this notice is for
    alerts: tuple[AlertFacts, ...]
    created_at: datetime  # UTC
    lang: str = "zh"
    level: int = 0  # escalation level that produced it
    # Signed, expiring acknowledge link per alert id (absent when no public URL is configured).
    ack_links: dict[int, str] = field(default_factory=dict)
    # The recipients' addresses on this channel (e-mail addresses for SMTP), from the people
    # config; robots and topics reach a group and leave it empty.
    addresses: tuple[str, ...] = ()
    # An escalated notice says who was told before and since when nobody acted.
    told_before: tuple[str, ...] = ()
    unacknowledged_since: datetime | None = None  # UTC

    @property
    def critical(self) -> bool:
        return any(a.severity is Severity.CRITICAL for a in self.alerts)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one send attempt came to.

    `ok`: the receiver accepted it. Otherwise `permanent` says retrying cannot help (bad
    secret, unknown robot), and `retry_after_s` carries the receiver's own hint (HTTP 429
    Retry-After, a vendor's rate-limit code) when it gave one.
    """

    ok: bool
    reason: str = ""
    status: int | None = None
    permanent: bool = False
    retry_after_s: float | None = None


class Channel(Protocol):
    """A configured way to reach people: one robot, one mailbox server, one topic."""

    @property
    def name(self) -> str: ...

    async def send(self, notice: Notice) -> Delivery:
        """Render and send; never raises for a receiver's refusal (that is a `Delivery`)."""
        ...
