"""What every rule shares: the device it watches (`DeviceSetup`), the `Rule` interface the engine
calls, and saving a rule's state as JSON so a restart resumes where it stopped.

A rule sees one device's samples in event-time order (`observe`) and the clock passing
deadlines (`at`); it appends `Finding`s only when its verdict changes, never per sample.
A verdict on data not yet seen is given when `LateData` says it is due.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

from alerts.model import (
    DisinfectionRecord,
    Evidence,
    Finding,
    Message,
    Phase,
    RetentionRecord,
    RuleId,
    SealHealthPoint,
    Severity,
)
from alerts.samples import Sample
from alerts.timetable import Timetable
from core.model import Device, Limits
from core.rule_settings import RuleSettings

__all__ = [
    "HOUR_MS",
    "MINUTE_MS",
    "DeviceSetup",
    "LateData",
    "RegisterRecord",
    "Rule",
    "StatefulRule",
    "dump_state",
    "load_state",
]

S = TypeVar("S")

RegisterRecord = DisinfectionRecord | RetentionRecord | SealHealthPoint

MINUTE_MS = 60_000
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class DeviceSetup:
    """A device as its rules see it: identity, limits after overrides, shared settings."""

    site: str
    device: Device
    limits: Limits
    settings: RuleSettings
    timetable: Timetable
    # Worked out once: rules read them for every reading (the silence alone was called more
    # than twice a reading, ~5 % of the rules' time on 1,000 fridges).
    interval_ms: int = field(init=False, repr=False, compare=False)
    silence_ms: int = field(init=False, repr=False, compare=False)
    lateness_ms: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        interval_s = self.device.interval_s
        object.__setattr__(self, "interval_ms", int(interval_s * 1000))
        # No reading for this long means the device is silent (offline rule); a gap this long
        # also breaks a running duration, because nobody saw what happened in it.
        object.__setattr__(self, "silence_ms", int(self.settings.silence_s(interval_s) * 1000))
        # How long the device may deliver nothing new before a verdict on data not yet seen is
        # given without it (`LateData`).
        object.__setattr__(self, "lateness_ms", int(self.settings.lateness_s(interval_s) * 1000))

    @property
    def id(self) -> str:
        return self.device.id

    @property
    def label(self) -> str:
        return self.device.label


class LateData:
    """When a verdict on data not yet seen is due (DESIGN.md, time): a meal's disinfection, a
    sample's retention.

    A deadline in event time is due once the device's own watermark (the newest reading it
    has delivered) passes it, or once the device has delivered nothing new for the lateness
    by the real clock; only then is "no data" the right verdict. A device whose history is
    still arriving (the demo's catch-up, a buffer uploaded after an outage) keeps moving its
    watermark, so it is judged on what it delivers, never on the part still to come.

    The engine says when a live batch was delivered (`Rule.delivered`). A watermark moved by
    a replay of the store counts from the next tick, and nothing of this is saved: after a
    restart each device has the lateness again to deliver what the broker kept for it.
    """

    def __init__(self, lateness_ms: int) -> None:
        self.lateness_ms = lateness_ms
        self._moved_at_ms: int | None = None  # the real-clock instant the watermark last moved
        self._mark_ms: int | None = None  # the watermark then

    def delivered(self, now_ms: int, watermark_ms: int | None) -> None:
        """The device delivered readings at `now_ms`; old ones alone move nothing."""
        if watermark_ms is not None and watermark_ms != self._mark_ms:
            self._moved_at_ms, self._mark_ms = now_ms, watermark_ms

    def due_until(self, now_ms: int, watermark_ms: int) -> int:
        """The event time up to which deadlines are due when the clock reads `now_ms`."""
        if self._moved_at_ms is None or watermark_ms != self._mark_ms:
            self._moved_at_ms, self._mark_ms = now_ms, watermark_ms
        if now_ms - self._moved_at_ms >= self.lateness_ms:
            return max(now_ms, watermark_ms)
        return watermark_ms


class Rule(ABC):
    rule: RuleId

    def __init__(self, setup: DeviceSetup) -> None:
        self.setup = setup
        # Register lines this rule wrote since the engine last collected them.
        self.records: list[RegisterRecord] = []

    @abstractmethod
    def observe(self, sample: Sample, out: list[Finding]) -> None:
        """Take the next sample of the device (never older than the previous one)."""

    def at(self, now_ms: int, out: list[Finding]) -> None:  # noqa: B027 - optional hook
        """The clock reached `now_ms`: act on deadlines (absence rules)."""

    def delivered(self, now_ms: int) -> None:  # noqa: B027 - optional hook
        """The samples just observed arrived live at `now_ms` by the real clock (`LateData`)."""

    def observe_late(self, sample: Sample) -> None:  # noqa: B027 - optional hook
        """A sample older than one already observed (out of order, or a replay): a rule that
        judges a period not yet closed may still count it; nothing closed re-opens."""

    @abstractmethod
    def snapshot(self) -> Any:
        """The rule's state as JSON-ready data."""

    @abstractmethod
    def restore(self, data: Any) -> None: ...

    def finding(
        self,
        phase: Phase,
        at_ms: int,
        since_ms: int,
        severity: Severity,
        message: Message,
        evidence: Evidence | None = None,
        *,
        latched: bool = False,
    ) -> Finding:
        return Finding(
            self.setup.id,
            self.rule,
            phase,
            at_ms,
            since_ms,
            severity,
            message,
            evidence or {},
            latched,
        )


class StatefulRule(Rule, Generic[S]):
    """A rule whose whole state is one dataclass, saved and restored through pydantic."""

    state: S

    def snapshot(self) -> Any:
        return dump_state(self.state)

    def restore(self, data: Any) -> None:
        self.state = load_state(type(self.state), data)


def dump_state(state: object) -> Any:
    """A state dataclass as JSON-ready data."""
    return _adapter(type(state)).dump_python(state, mode="json")


def load_state(kind: type[S], data: Any) -> S:
    state: S = _adapter(kind).validate_python(data)
    return state


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(kind: type[Any]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter
