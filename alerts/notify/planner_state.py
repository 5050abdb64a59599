"""The planner's state as plain JSON-able data (`NotifyPlanner.snapshot` / `restore`): each
tracked alert's timers, who was told, and the facts its messages repeat. Versioned, so a later
format can read an older one; instants are ISO 8601 UTC strings.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from alerts.notify.model import AlertFacts
from alerts.notify.routing import Target
from core.records import Message, RuleId, Severity

__all__ = ["VERSION", "dump", "load"]

VERSION = 1
_INSTANTS = ("due", "next_reminder", "unacked_since")


def dump(tracks: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """`tracks`: alert id -> the planner's fields of one track."""
    return {"version": VERSION, "tracks": [_dump_one(i, t) for i, t in sorted(tracks.items())]}


def load(data: dict[str, Any]) -> dict[int, dict[str, Any]]:
    if data.get("version") != VERSION:
        raise ValueError(f"planner state version {data.get('version')!r}; expected {VERSION}")
    out: dict[int, dict[str, Any]] = {}
    for item in data["tracks"]:
        fields = dict(item)
        alert_id = int(fields.pop("alert_id"))
        for name in _INSTANTS:
            fields[name] = _instant(fields[name])
        fields["facts"] = _facts(fields["facts"])
        fields["told"] = [_target(t) for t in fields["told"]]
        out[alert_id] = fields
    return out


def _dump_one(alert_id: int, track: dict[str, Any]) -> dict[str, Any]:
    out = {"alert_id": alert_id, **track}
    for name in _INSTANTS:
        out[name] = None if out[name] is None else out[name].isoformat()
    facts = asdict(track["facts"])
    for name in ("since", "resolved_at"):
        facts[name] = None if facts[name] is None else facts[name].isoformat()
    facts["rule"], facts["severity"] = facts["rule"].value, facts["severity"].value
    out["facts"] = facts
    out["told"] = [
        {**asdict(t), "recipients": list(t.recipients), "addresses": list(t.addresses)}
        for t in track["told"]
    ]
    return out


def _facts(data: dict[str, Any]) -> AlertFacts:
    return AlertFacts(
        **{
            **data,
            "rule": RuleId(data["rule"]),
            "severity": Severity(data["severity"]),
            "since": _instant(data["since"]),
            "resolved_at": _instant(data["resolved_at"]),
            "message": Message(**data["message"]),
        }
    )


def _target(data: dict[str, Any]) -> Target:
    return Target(
        channel=data["channel"],
        recipients=tuple(data["recipients"]),
        addresses=tuple(data["addresses"]),
        lang=data["lang"],
        personal=bool(data["personal"]),
    )


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
