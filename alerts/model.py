"""The vocabulary of alerts: what a rule reports (`Finding`, `Phase`) and which rules are about
food safety. The stored records (the persisted `Alert`, its history, the register records, rule
ids, severities, lifecycle states) live in `core.records`, because a store backend persists them
too; they are re-exported here, so the alerts package speaks one vocabulary.

Instants in records are UTC-aware datetimes; rules work on epoch milliseconds for speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from core.records import (
    Alert,
    AlertAction,
    AlertHistoryEntry,
    AlertQuery,
    AlertState,
    DailyTemperature,
    DisinfectionRecord,
    DisinfectionStatus,
    Evidence,
    FoodDecision,
    Message,
    RetentionRecord,
    RetentionStatus,
    RuleId,
    SealHealthPoint,
    Severity,
)

__all__ = [
    "FOOD_SAFETY_RULES",
    "Alert",
    "AlertAction",
    "AlertHistoryEntry",
    "AlertQuery",
    "AlertState",
    "DailyTemperature",
    "DisinfectionRecord",
    "DisinfectionStatus",
    "Evidence",
    "Finding",
    "FoodDecision",
    "Message",
    "Phase",
    "RetentionRecord",
    "RetentionStatus",
    "RuleId",
    "SealHealthPoint",
    "Severity",
]

# Alerts about food that may have been unsafe: they close only with a corrective action and a
# decision on the food (kept or discarded, with a reason).
FOOD_SAFETY_RULES = frozenset(
    {RuleId.OVER_TEMPERATURE, RuleId.DISINFECTION, RuleId.SAMPLE_RETENTION}
)


class Phase(StrEnum):
    """What a rule says about its condition on one device."""

    PENDING = "pending"
    FIRING = "firing"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule's verdict on one device at one event time.

    `since_ms` is when the condition began (a pending duration counts from it). `latched`
    findings are discrete verdicts (a missed disinfection): nothing clears them by itself, so a
    person may resolve them. `actor` and `note`: a finding a person's request caused (a seal
    baseline re-learned), for the alert's history.
    """

    device: str
    rule: RuleId
    phase: Phase
    at_ms: int
    since_ms: int
    severity: Severity
    message: Message
    evidence: Evidence = field(default_factory=dict)
    latched: bool = False
    actor: str | None = None
    note: str | None = None
