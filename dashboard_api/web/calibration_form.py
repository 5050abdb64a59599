"""The calibration form of the register page: what staff typed (`CheckEntry`), read field by
field so each problem is shown beside its field in the person's language, then recorded by
`alerts.calibration.record_check` (the API's own logic, which judges the check against the
device's tolerance and refuses a failed check without a corrective action). The person who
checked is the one logged in, never a typed name."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request

from alerts import calibration as cal
from alerts.calibration import CalibrationStore
from core.config import SiteConfig
from core.records import CalibrationCheck, CalibrationMethod, Role
from dashboard_api.context import ApiContext
from dashboard_api.deps import current_person
from dashboard_api.params import query_value

__all__ = ["FIELDS", "CheckEntry", "page_context"]

# Field -> longest text accepted (the API's body allows 2000 characters for note and action).
FIELDS = {
    "device": 64,
    "method": 16,
    "reference_c": 32,
    "probe_c": 32,
    "note": 2000,
    "corrective_action": 2000,
}


@dataclass
class CheckEntry:
    """The form as typed, and the problems found: field -> (catalogue key, its values)."""

    values: dict[str, str]
    errors: dict[str, tuple[str, dict[str, object]]] = field(default_factory=dict)
    # The logic's own sentence for a refusal it made (English, like the API's).
    detail: str = ""

    @classmethod
    def blank(cls) -> CheckEntry:
        return cls({name: "" for name in FIELDS} | {"method": "ice_point", "reference_c": "0"})

    @classmethod
    def of(cls, form: FormData) -> CheckEntry:
        values: dict[str, str] = {}
        entry = cls(values)
        for name, longest in FIELDS.items():
            raw = form.get(name)
            text = raw.strip() if isinstance(raw, str) else ""
            values[name] = text[:longest]
            if len(text) > longest:
                entry.errors[name] = ("cal.too_long", {"n": longest})
        return entry

    def record(
        self, store: CalibrationStore, config: SiteConfig, now: datetime, by: str
    ) -> CalibrationCheck | None:
        """The stored check, or None with `errors` saying what to correct."""
        device = config.device(self.values["device"])
        if device is None or not cal.has_probe(device):
            self.errors["device"] = ("cal.bad_device", {})
        method = self._method()
        reference = self._number("reference_c")
        probe = self._number("probe_c")
        if self.errors or device is None or method is None or reference is None or probe is None:
            return None
        try:
            return cal.record_check(
                store,
                config,
                device,
                at=now,
                method=method,
                reference_c=reference,
                probe_c=probe,
                by=by,
                note=self.values["note"] or None,
                corrective_action=self.values["corrective_action"] or None,
            )
        except cal.CalibrationError as exc:
            key = "cal.needs_action" if exc.field == "corrective_action" else ""
            self.errors[exc.field] = (key, {})
            self.detail = exc.message
            return None

    def _method(self) -> CalibrationMethod | None:
        try:
            return CalibrationMethod(self.values["method"])
        except ValueError:
            self.errors["method"] = ("cal.bad_method", {})
            return None

    def _number(self, name: str) -> float | None:
        text = self.values[name].replace("，", ".").replace(",", ".")
        if not text:
            self.errors.setdefault(name, ("cal.required", {}))
            return None
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            self.errors.setdefault(name, ("cal.bad_number", {"value": self.values[name]}))
            return None
        return value


def page_context(request: Request, context: ApiContext, entry: CheckEntry | None) -> dict[str, Any]:
    """What the calibration page adds to a register page: the form, the devices with a
    probe, and the check just saved (`?saved=<id>`, after the form's redirect)."""
    person = current_person(request)
    saved = request.query_params.get("saved")
    just_saved = None
    if saved:
        wanted = query_value("saved", _check_id, saved)
        assert context.calibration is not None
        checks = context.calibration.checks(context.config.site.id, None)
        just_saved = next((c for c in checks if c.id == wanted), None)
    return {
        "entry": entry or CheckEntry.blank(),
        "probes": [d for d in context.config.devices if cal.has_probe(d)],
        "methods": [m.value for m in CalibrationMethod],
        "can_record": person is not None and person.role.allows(Role.STAFF),
        "saved": just_saved,
        "saved_device": _labels(context).get(just_saved.device) if just_saved else None,
    }


def _check_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise ValueError(f"{text[:32]!r} is not a check number; use the number the form gave")
    return int(text)


def _labels(context: ApiContext) -> Mapping[str, str]:
    return {d.id: d.label for d in context.config.devices}
