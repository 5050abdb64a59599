"""The `notify:` section of a site config: who is told about an alert, through which channel,
when, and in which language.

    channels     named ways of reaching people (`core.notify_channels`: webhook, WeCom,
                 DingTalk, Feishu, SMTP, MQTT)
    people       name -> display name, e-mail, phone, the channels that reach them, language
    roles        name -> duty roster (weekdays x local time ranges, overnight allowed) and the
                 default people reached when no shift covers the instant
    routes       first match wins: rule x site x building x device kind x severity -> escalation
                 levels [{roles, people, channels, after_min}], reminders, resolved notice
    quiet_hours  a local range in which alerts that are not about food safety wait
    retry        how a notice the receiver refused is tried again: attempts, backoff base, cap
    outbox_retention_days  how long sent notices stay in the outbox (the delivery log stays)

Every name referenced (a person's channel, a shift's people, a level's roles) must exist; an
error names the reference, where it is, and lists the known names, like the rest of the config.
A roster gap is not an error: `warnings()` lists each uncovered stretch of the week, and at
runtime the role falls back to its `default` people (`alerts.notify.roster`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from core.energy_model import Weekday
from core.model import DeviceKind
from core.notify_channels import ChannelConfig, is_personal
from core.records import RuleId, Severity

__all__ = [
    "Lang",
    "Level",
    "LocalRange",
    "NotifyConfig",
    "Person",
    "QuietHours",
    "Retry",
    "Role",
    "Route",
    "RouteMatch",
    "Shift",
]

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Lang = Literal["zh", "en"]
Warning_ = tuple[tuple[str | int, ...], str]  # (field path below `notify`, message)

_ALL_DAYS = list(Weekday)
_DAY = 24 * 60
_WEEK = 7 * _DAY
# A secret shorter than this is a password, not a key (RFC 2104 section 3); the same floor as
# alerts.notify.links.
_MIN_SECRET = 16


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocalRange(_Section):
    """A daily range of local wall-clock time starting on `days`: `start` < `end` within the
    day, `start` > `end` overnight (22:00-06:00 runs into the next morning), `start` == `end`
    a whole day from `start`."""

    days: list[Weekday] = Field(default_factory=lambda: list(_ALL_DAYS), min_length=1)
    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_hhmm(cls, value: object) -> object:
        # YAML reads 07:30 unquoted as a sexagesimal integer (450); accept it as minutes.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _DAY:
            return time(value // 60, value % 60)
        return value

    def minutes(self) -> list[tuple[int, int]]:
        """The covered stretches as [from, to) minutes of the week (Monday 00:00 is 0)."""
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        length = end - start if end > start else end - start + _DAY
        return [
            (day.number * _DAY + start, day.number * _DAY + start + length) for day in self.days
        ]

    def covers(self, local: datetime) -> bool:
        """Whether the local wall-clock instant falls in the range."""
        at = local.weekday() * _DAY + local.hour * 60 + local.minute
        return any(lo <= at < hi or lo <= at + _WEEK < hi for lo, hi in self.minutes())

    def ends_after(self, local: datetime) -> datetime:
        """The end of the stretch covering `local` (naive local wall-clock time)."""
        at = local.weekday() * _DAY + local.hour * 60 + local.minute
        week_start = (local - timedelta(days=local.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        for lo, hi in self.minutes():
            for shift in (0, _WEEK):
                if lo <= at + shift < hi:
                    return week_start + timedelta(minutes=hi - shift)
        return local


class Shift(LocalRange):
    """Who holds a role from `start` to `end` on `days` (the day the shift starts)."""

    people: list[Name] = Field(min_length=1)


class Role(_Section):
    """A role resolves to the people of the shifts covering the instant, or to `default`."""

    default: list[Name] = []
    roster: list[Shift] = []

    @model_validator(mode="after")
    def _someone(self) -> Role:
        if not self.default and not self.roster:
            raise ValueError("a role needs default people, a roster, or both")
        return self

    def gaps(self) -> list[tuple[int, int]]:
        """Stretches of the week (minutes, may wrap past Sunday) no shift covers; empty when the
        role has no roster (then its default people hold it all the time)."""
        if not self.roster:
            return []
        covered = [False] * _WEEK
        for shift in self.roster:
            for lo, hi in shift.minutes():
                for minute in range(lo, hi):
                    covered[minute % _WEEK] = True
        return _runs(covered)


class Person(_Section):
    display_name: str = ""  # shown in messages; the config name when empty
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 -]{5,20}$")
    channels: list[Name] = Field(min_length=1)
    lang: Lang | None = None  # the person's language; else the route's, else notify.lang


class RouteMatch(_Section):
    """Which alerts a route takes: each list empty means any."""

    rules: list[RuleId] = []
    sites: list[str] = []
    buildings: list[str] = []
    kinds: list[DeviceKind] = []
    severities: list[Severity] = []


class Level(_Section):
    """One step of escalation: told `after_min` minutes after the alert fired, if nobody has
    acknowledged it by then. `channels` are group channels told directly (a wall display)."""

    after_min: float = Field(default=0.0, ge=0, le=7 * _DAY)
    roles: list[Name] = []
    people: list[Name] = []
    channels: list[Name] = []

    @model_validator(mode="after")
    def _someone(self) -> Level:
        if not (self.roles or self.people or self.channels):
            raise ValueError("a level names roles, people or channels to tell")
        return self


class Route(_Section):
    name: Name
    match: RouteMatch = RouteMatch()
    levels: list[Level] = Field(min_length=1)
    # Repeated to everyone told while the alert fires and nobody acknowledged; null: never.
    reminder_every_min: float | None = Field(default=30.0, gt=0, le=7 * _DAY)
    resolved: bool = True  # a resolved notice to everyone who was told
    lang: Lang | None = None

    @model_validator(mode="after")
    def _ordered_levels(self) -> Route:
        if self.levels[0].after_min != 0:
            raise ValueError("levels[0].after_min: the first level is told at once; use 0")
        for index in range(1, len(self.levels)):
            if self.levels[index].after_min <= self.levels[index - 1].after_min:
                raise ValueError(
                    f"levels[{index}].after_min: {self.levels[index].after_min:g} must be later "
                    f"than levels[{index - 1}].after_min ({self.levels[index - 1].after_min:g})"
                )
        return self


class QuietHours(LocalRange):
    """Local hours in which notices about alerts that are not about food safety wait for the
    end of the range (energy anomalies wait for the morning)."""


class Retry(_Section):
    """Retries of a notice the receiver did not take: attempt n waits a random time up to
    min(cap_s, base_s * 2**(n-1)) (`alerts.notify.outbox.RetryPolicy`); after `attempts` tries
    the notice fails and stays in the outbox with its reason. A try a rate limit refused (the
    receiver said when to come back) is waited for and does not count against `attempts`."""

    attempts: int = Field(default=8, ge=1, le=100)
    base_s: float = Field(default=5.0, gt=0, le=3600)
    cap_s: float = Field(default=600.0, gt=0, le=86400)

    @model_validator(mode="after")
    def _cap_above_base(self) -> Retry:
        if self.cap_s < self.base_s:
            raise ValueError(
                f"cap_s ({self.cap_s:g} s) must be at least base_s ({self.base_s:g} s): the "
                "cap is the longest wait between two attempts"
            )
        return self


class NotifyConfig(_Section):
    lang: Lang = "zh"
    public_url: AnyHttpUrl | None = None  # where people reach the service (acknowledge links)
    link_secret: SecretStr | None = None
    link_ttl_h: float = Field(default=24.0, gt=0, le=14 * 24)
    # Offline alerts of one site within this window go out as one digest per channel.
    grouping_window_s: float = Field(default=120.0, ge=0, le=3600)
    quiet_hours: QuietHours | None = None
    retry: Retry = Retry()
    # Sent (and merged) notices leave the outbox after this; their delivery log rows stay as
    # the record of who was told.
    outbox_retention_days: float = Field(default=30.0, gt=0, le=3660)
    channels: dict[Name, ChannelConfig] = {}
    people: dict[Name, Person] = {}
    roles: dict[Name, Role] = {}
    routes: list[Route] = []

    @field_validator("link_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < _MIN_SECRET:
            raise ValueError(
                f"at least {_MIN_SECRET} bytes (a random string; "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    @model_validator(mode="after")
    def _references(self) -> NotifyConfig:
        for name, person in self.people.items():
            for index, channel in enumerate(person.channels):
                _known(f"people.{name}.channels[{index}]", channel, "channel", self.channels)
                if is_personal(self.channels[channel]) and person.email is None:
                    raise ValueError(
                        f"people.{name}.email: needed, channel {channel!r} is e-mail (smtp)"
                    )
        for name, role in self.roles.items():
            for index, who in enumerate(role.default):
                _known(f"roles.{name}.default[{index}]", who, "person", self.people)
            for s_index, shift in enumerate(role.roster):
                for index, who in enumerate(shift.people):
                    where = f"roles.{name}.roster[{s_index}].people[{index}]"
                    _known(where, who, "person", self.people)
        self._check_routes()
        return self

    def _check_routes(self) -> None:
        seen: set[str] = set()
        for r_index, route in enumerate(self.routes):
            if route.name in seen:
                raise ValueError(f"routes[{r_index}].name: {route.name!r} is used twice")
            seen.add(route.name)
            for l_index, level in enumerate(route.levels):
                where = f"routes[{r_index}].levels[{l_index}]"
                for field, what, refs, known in (
                    ("roles", "role", level.roles, set(self.roles)),
                    ("people", "person", level.people, set(self.people)),
                    ("channels", "channel", level.channels, set(self.channels)),
                ):
                    for index, ref in enumerate(refs):
                        _known(f"{where}.{field}[{index}]", ref, what, known)

    def check_site(self, buildings: set[str]) -> None:
        """Checks that name fields of the whole site config (called by it): route matches name
        buildings of the site; links are signed when they can be sent."""
        if self.public_url is not None and self.link_secret is None:
            raise ValueError(
                "notify.link_secret: needed when notify.public_url is set (acknowledge links "
                f"are signed with it); at least {_MIN_SECRET} bytes"
            )
        for r_index, route in enumerate(self.routes):
            for index, building in enumerate(route.match.buildings):
                where = f"notify.routes[{r_index}].match.buildings[{index}]"
                _known(where, building, "building", buildings)

    def warnings(self) -> list[Warning_]:
        """What loads but may not do what the school expects: roster gaps, alerts no route
        takes."""
        out: list[Warning_] = []
        for name, role in self.roles.items():
            gaps = role.gaps()
            if not gaps:
                continue
            spans = ", ".join(_span(lo, hi) for lo, hi in gaps)
            who = (
                f"its default people ({', '.join(role.default)}) are reached then"
                if role.default
                else "nobody holds it then (a level with only this role escalates at once)"
            )
            out.append((("roles", name, "roster"), f"no shift covers {spans}; {who}"))
        if self.routes and not any(_catch_all(route.match) for route in self.routes):
            out.append(
                (
                    ("routes",),
                    "no route matches every alert; an alert no route matches "
                    "reaches nobody (add a last route without `match`)",
                )
            )
        return out

    def link_secret_text(self) -> str | None:
        return None if self.link_secret is None else self.link_secret.get_secret_value()


def _known(where: str, name: str, what: str, known: Iterable[str]) -> None:
    names = sorted(known)
    if name not in names:
        raise ValueError(f"{where}: {name!r} is not a known {what}; expected one of {names}")


def _catch_all(match: RouteMatch) -> bool:
    return not (match.rules or match.sites or match.buildings or match.kinds or match.severities)


def _runs(covered: list[bool]) -> list[tuple[int, int]]:
    """The uncovered runs of a circular week as [from, to) minutes (`to` may pass the week)."""
    if not any(covered):
        return [(0, _WEEK)]
    start = covered.index(True)  # begin at a covered minute so no run is split by the wrap
    runs: list[tuple[int, int]] = []
    gap: int | None = None
    for step in range(1, _WEEK + 1):
        minute = start + step
        if not covered[minute % _WEEK]:
            gap = minute if gap is None else gap
        elif gap is not None:
            runs.append((gap % _WEEK, gap % _WEEK + minute - gap))
            gap = None
    return sorted(runs)


def _span(lo: int, hi: int) -> str:
    def at(minute: int) -> str:
        minute %= _WEEK
        day, rest = divmod(minute, _DAY)
        return f"{list(Weekday)[day].value} {rest // 60:02d}:{rest % 60:02d}"

    return f"{at(lo)}-{at(hi)}"
