"""The stored records of alerts and food-safety registers, as the alerts package and a store
backend both speak them (DESIGN.md, packages: what two packages both speak lives in core).

The alerts package owns their behaviour (rules, lifecycle, verdicts); a store only persists
them and answers queries (`AlertQuery`, `DayWindow`). These types hold data and trivially
derived properties, nothing more. Instants are UTC-aware datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from typing_extensions import TypedDict  # pydantic reads it on Python < 3.12

__all__ = [
    "Alert",
    "AlertAction",
    "AlertHistoryEntry",
    "AlertQuery",
    "AlertState",
    "ApiToken",
    "CalibrationCheck",
    "CalibrationMethod",
    "DailyTemperature",
    "DayWindow",
    "DeliveryAttempt",
    "DeliveryOutcome",
    "DisinfectionRecord",
    "DisinfectionStatus",
    "Evidence",
    "FoodDecision",
    "LoginSession",
    "Message",
    "OutboxEntry",
    "OutboxState",
    "RetentionRecord",
    "RetentionStatus",
    "Role",
    "RuleId",
    "SealHealthPoint",
    "Severity",
    "User",
]

Evidence = Mapping[str, float | int | str | None]


class RuleId(StrEnum):
    OVER_TEMPERATURE = "over_temperature"
    UNDER_TEMPERATURE = "under_temperature"
    OFFLINE = "offline"
    SITE_OFFLINE = "site_offline"
    SENSOR_FAULT = "sensor_fault"
    SEAL_DEGRADATION = "seal_degradation"
    DISINFECTION = "disinfection"
    # A meal judged while its cabinet was silent: a warning until the cabinet's data arrives.
    DISINFECTION_UNCONFIRMED = "disinfection_unconfirmed"
    SAMPLE_RETENTION = "sample_retention"
    # Energy anomalies (energy.anomalies), raised as alerts by the service (canteen.energy_alerts)
    ENERGY_NIGHT_BASE_LOAD = "energy_night_base_load"
    ENERGY_HOLIDAY_BASE_LOAD = "energy_holiday_base_load"
    ENERGY_NIGHT_WATER_FLOW = "energy_night_water_flow"
    ENERGY_KITCHEN_OFF_HOURS = "energy_kitchen_off_hours"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return (Severity.INFO, Severity.WARNING, Severity.CRITICAL).index(self)


class AlertState(StrEnum):
    PENDING = "pending"  # condition true, duration not yet met
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"  # condition cleared (by the rule, or declared by a person)
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self is not AlertState.CLOSED


class FoodDecision(StrEnum):
    KEPT = "kept"
    DISCARDED = "discarded"


class AlertAction(StrEnum):
    """What happened to an alert, for its history."""

    PENDING = "pending"
    FIRED = "fired"
    ESCALATED = "escalated"
    REFIRED = "refired"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Message:
    """User-facing text in Chinese (the default) and English."""

    zh: str
    en: str

    def in_language(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    site: str
    device: str
    rule: RuleId
    severity: Severity
    state: AlertState
    food_safety: bool
    # True while the rule still sees its condition; a person cannot resolve an active alert.
    condition_active: bool
    pending_since: datetime
    message: Message
    evidence: Evidence
    updated_at: datetime
    fired_at: datetime | None = None
    occurrences: int = 1
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    corrective_action: str | None = None
    food_decision: FoodDecision | None = None
    food_reason: str | None = None
    note: str | None = None
    # Event time of the last finding applied: a replay after a restart re-sends older ones.
    last_finding_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AlertHistoryEntry:
    alert_id: int
    at: datetime
    action: AlertAction
    state: AlertState
    actor: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class AlertQuery:
    site: str
    states: tuple[AlertState, ...] = ()
    device: str | None = None
    rule: RuleId | None = None
    severity: Severity | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


# -- the notification outbox and its delivery log (alerts.notify owns their behaviour) ---------


class OutboxState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (`next_attempt_at`)
    SENDING = "sending"  # handed to its channel; back to pending if the process died meanwhile
    SENT = "sent"
    FAILED = "failed"  # a permanent refusal or attempts exhausted; `last_error` says which
    MERGED = "merged"  # folded into the digest `merged_into` while its channel was rate limited
    WITHDRAWN = "withdrawn"  # not sent: someone acted on its alert first; `last_error` says who


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One notice in the persisted outbox. `notice` is the notice itself as JSON (the alerts
    package writes and reads it); the other fields are what the dispatcher selects and orders
    by. `key` is the notice's idempotency key: one entry per key, ever."""

    key: str
    channel: str
    kind: str
    critical: bool
    alert_ids: tuple[int, ...]
    notice: Mapping[str, object]
    state: OutboxState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    updated_at: datetime
    last_error: str | None = None
    merged_into: str | None = None
    sent_at: datetime | None = None
    # Of `attempts`, those a rate limit refused (the receiver said when to come back): they
    # count against no retry limit, only the other refusals do.
    rate_limited: int = 0


class DeliveryOutcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # refused or unreachable, tried again later
    FAILED = "failed"  # given up: a permanent refusal or the last attempt
    WITHDRAWN = "withdrawn"  # never sent: someone acted on its alert first (attempt 0)


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One row of the delivery log: one attempt to send one notice."""

    notice_key: str
    alert_ids: tuple[int, ...]
    channel: str
    recipients: tuple[str, ...]
    attempt: int  # 1 for the first try
    at: datetime
    outcome: DeliveryOutcome
    reason: str = ""
    status: int | None = None  # the receiver's HTTP status, when it answered over HTTP
    latency_ms: float = 0.0
    kind: str = ""  # the notice's kind (fired, reminder, digest...)


class DisinfectionStatus(StrEnum):
    COMPLIANT = "compliant"
    INCOMPLETE = "incomplete"  # a cycle ran but did not reach or hold the target
    MISSED = "missed"  # no cycle in the window
    # The cabinet was silent (no data by the real clock): provisional until its data arrives.
    UNCONFIRMED = "unconfirmed"


class DisinfectionAmendment(TypedDict):
    """A register line's earlier verdict that data received later replaced (append-only):
    what it said and when (UTC, ISO 8601), and when the line was corrected and why."""

    status: str
    decided_at: str
    reason_zh: str
    reason_en: str
    amended_at: str
    note_zh: str
    note_en: str


@dataclass(frozen=True, slots=True)
class DisinfectionRecord:
    """One line of the electronic disinfection register: a cabinet, a meal, a verdict."""

    site: str
    device: str
    meal: str
    service_date: date  # local date on which the meal started
    window_start: datetime
    window_end: datetime
    status: DisinfectionStatus
    target_c: float
    hold_threshold_c: float  # target less the documented probe tolerance (steam)
    required_hold_min: float
    decided_at: datetime
    reason: Message
    cycles: int = 0
    cycle_start: datetime | None = None
    cycle_end: datetime | None = None
    max_temp_c: float | None = None
    hold_min: float | None = None  # longest continuous time at or above the threshold
    # Earlier verdicts of this line that later data replaced, oldest first (an inspector sees
    # that the line was corrected, from what and when).
    amendments: tuple[DisinfectionAmendment, ...] = ()


class RetentionStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    KEPT = "kept"  # in band for the whole retention period
    BREACHED = "breached"  # out of band long enough to raise an over/under-temperature alert
    UNVERIFIED = "unverified"  # too little data to prove it


@dataclass(frozen=True, slots=True)
class RetentionRecord:
    """A meal's food samples in the sample fridge: kept in band for the retention period?"""

    site: str
    device: str
    meal: str
    service_date: date
    start: datetime
    end: datetime
    status: RetentionStatus
    low_c: float | None
    high_c: float | None
    updated_at: datetime
    min_c: float | None = None
    max_c: float | None = None
    minutes_out_of_band: float = 0.0
    completeness: float = 0.0
    longest_gap_min: float = 0.0
    # An unverified verdict given while the fridge was silent that its later data replaced.
    amendments: tuple[DisinfectionAmendment, ...] = ()


@dataclass(frozen=True, slots=True)
class SealHealthPoint:
    """A device's door-seal health at one instant: 1 is its own learned baseline, 0 a seal
    that has failed; `evidence` holds each feature now and at baseline."""

    site: str
    device: str
    ts: datetime
    health: float
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class DailyTemperature:
    """The daily temperature log of one device for one local day, computed by the store."""

    device: str
    day: date
    readings: int
    min_c: float | None
    max_c: float | None
    mean_c: float | None
    minutes_out_of_band: float
    completeness: float  # share of the (elapsed) day covered by readings, 0-1
    # The same figures of the food's temperature estimated from the air (alerts.rules.product)
    # at each reading; None for devices that store no food or a log computed without it.
    product_min_c: float | None = None
    product_max_c: float | None = None
    product_mean_c: float | None = None
    product_minutes_out_of_band: float | None = None


@dataclass(frozen=True, slots=True)
class DayWindow:
    """A local day as UTC instants [start, end); `end` may be cut at 'now' for today."""

    day: date
    start: datetime
    end: datetime


class CalibrationMethod(StrEnum):
    ICE_POINT = "ice_point"  # the probe in crushed ice and water, 0 °C
    REFERENCE = "reference"  # beside a calibrated reference thermometer


@dataclass(frozen=True, slots=True)
class CalibrationCheck:
    """One line of the probe calibration register: a person checked a device's probe against
    0 °C or a reference thermometer. `passed` was judged against `tolerance_k` when recorded,
    so a later change of the tolerance does not rewrite the register."""

    site: str
    device: str
    checked_at: datetime
    method: CalibrationMethod
    reference_c: float
    probe_c: float
    tolerance_k: float
    passed: bool
    by: str
    note: str | None = None
    corrective_action: str | None = None
    id: int = 0

    @property
    def difference_k(self) -> float:
        return round(self.probe_c - self.reference_c, 3)


# -- people of the web UI and the API (dashboard_api.auth owns their behaviour) ----------------


class Role(StrEnum):
    """What a person may do; each role may do everything of the roles before it."""

    VIEWER = "viewer"  # reads pages, registers and the API
    STAFF = "staff"  # acknowledges, resolves and closes alerts, asks for a seal re-learn
    ADMIN = "admin"  # manages users (and, later, thresholds and routing)

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_ROLE_RANK = {Role.VIEWER: 0, Role.STAFF: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class User:
    """A person who logs in; `password_hash` is an argon2 hash, never the password."""

    name: str
    role: Role
    password_hash: str
    disabled: bool
    created_at: datetime
    password_changed_at: datetime
    # Set by an admin's password reset: the person must choose a new password at their next
    # login before anything else opens (their API tokens are not affected).
    must_change_password: bool = False


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A machine's bearer token; `token_hash` is the SHA-256 of the token, shown only once."""

    name: str
    role: Role
    token_hash: str
    created_at: datetime
    disabled: bool


@dataclass(frozen=True, slots=True)
class LoginSession:
    """A browser's login; `key_hash` is the SHA-256 of the cookie's value."""

    key_hash: str
    user: str
    csrf: str
    created_at: datetime
    last_seen: datetime
