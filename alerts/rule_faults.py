"""A rule that fails on a reading fails alone.

The rules run on every reading of every device; a defect in one of them that some data brings
out (a held-out cohort's replay met a `KeyError` in the seal rule's reading of a coarse
probe's norms) must not stop the others: not the same device's over-temperature rule, not the
other devices, not ingest. Uncaught, it ended the alerts task, and with it the service's task
group: the API, the gateway and every rule. So each rule's call is guarded (`engine`), and a
failure is

- logged with its traceback the first time a (device, rule) fails, then again at the 10th,
  100th... failure, so a fault on every reading does not flood the log;
- counted per device and rule, with the last error and the reading's time, for
  `/api/health` (`rules.faults`), whose `faults` list names it and says the service is
  `degraded`: a monitor sees it, and a person knows which alerts may be missing;
- otherwise passed over: the reading still reaches the device's other rules, and the failing
  rule gets the next reading (a fault some data brings out leaves the rule working on the
  rest).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from core.clock import utc_from_ms

__all__ = ["RuleFault", "RuleFaults"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RuleFault:
    count: int
    error: str  # the last one: its type and first line
    last_ms: int  # the reading (or tick) it failed on


class RuleFaults:
    """The failures of one device's rules (`note`), read by `/api/health` (`figures`)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._by_rule: dict[str, RuleFault] = {}
        self._lock = threading.Lock()  # the health answer reads while the rules' owner writes

    def note(self, rule: str, at_ms: int, exc: Exception) -> None:
        """`rule` (its id, or "sensor", "disturbances") raised `exc` on the reading or tick
        at `at_ms`."""
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        error = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
        with self._lock:
            fault = self._by_rule.get(rule)
            count = 1 if fault is None else fault.count + 1
            self._by_rule[rule] = RuleFault(count, error, at_ms)
        if _worth_logging(count):
            log.error(
                "alerts: rule %s of device %s failed on the reading at %s (%d time%s so far); "
                "its other rules and the other devices judge on",
                rule,
                self.device,
                utc_from_ms(at_ms).isoformat(timespec="seconds"),
                count,
                "" if count == 1 else "s",
                exc_info=exc,
            )

    def figures(self) -> dict[str, dict[str, Any]]:
        """Per failing rule: how often, the last error, and the reading's time (UTC)."""
        with self._lock:
            faults = list(self._by_rule.items())
        return {
            rule: {
                "count": f.count,
                "error": f.error,
                "last_reading": utc_from_ms(f.last_ms).isoformat(timespec="seconds"),
            }
            for rule, f in faults
        }

    def __bool__(self) -> bool:
        return bool(self._by_rule)


def _worth_logging(count: int) -> bool:
    """The 1st, 10th, 100th... failure."""
    while count % 10 == 0:
        count //= 10
    return count == 1
