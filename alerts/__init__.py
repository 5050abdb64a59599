"""Rules, the alert lifecycle and the electronic food-safety registers.

The rules run in-stream on the gateway's reading batches, per device, on event time, with the
clock injected: over/under temperature (duration, hysteresis, door and defrost aware), offline
(per device and per site), sensor faults, door-seal degradation (from each device's own
physics), disinfection compliance per meal and food-sample retention. Their findings move
alerts through pending → firing → acknowledged → resolved → closed (`AlertBook`), persisted
through the `AlertPersistence` protocol that ingest implements in the readings' database.
`AlertService` wires it all for the running service, `canteen eval` and the tests.
`alerts.notify` tells people: channels (webhook, WeCom, DingTalk, Feishu, e-mail, the MQTT alert
topic), routing by rule, building, kind and severity to rostered roles, escalation, reminders,
quiet hours and grouping (the planner), and a persisted outbox with retries, rate limits,
digests and a delivery log. The probe calibration register (`alerts.calibration`) and the
registers' PDF and XLSX documents (`alerts.register_export`) live here too.
"""

from alerts.engine import EngineOutput, RuleEngine
from alerts.errors import (
    AlertError,
    AlertNotFoundError,
    ClosureIncompleteError,
    TransitionError,
)
from alerts.lifecycle import AlertBook, AlertChange
from alerts.model import (
    FOOD_SAFETY_RULES,
    Alert,
    AlertAction,
    AlertHistoryEntry,
    AlertQuery,
    AlertState,
    DailyTemperature,
    DisinfectionRecord,
    DisinfectionStatus,
    Finding,
    FoodDecision,
    Message,
    Phase,
    RetentionRecord,
    RetentionStatus,
    RuleId,
    SealHealthPoint,
    Severity,
)
from alerts.service import AlertService
from alerts.store import AlertPersistence, AlertStore, DayWindow, RegisterStore, RuleStateStore
from core.rule_settings import RuleSettings

__all__ = [
    "FOOD_SAFETY_RULES",
    "Alert",
    "AlertAction",
    "AlertBook",
    "AlertChange",
    "AlertError",
    "AlertHistoryEntry",
    "AlertNotFoundError",
    "AlertPersistence",
    "AlertQuery",
    "AlertService",
    "AlertState",
    "AlertStore",
    "ClosureIncompleteError",
    "DailyTemperature",
    "DayWindow",
    "DisinfectionRecord",
    "DisinfectionStatus",
    "EngineOutput",
    "Finding",
    "FoodDecision",
    "Message",
    "Phase",
    "RegisterStore",
    "RetentionRecord",
    "RetentionStatus",
    "RuleEngine",
    "RuleId",
    "RuleSettings",
    "RuleStateStore",
    "SealHealthPoint",
    "Severity",
    "TransitionError",
]
