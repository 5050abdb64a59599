"""The site config: one YAML file, validated before anything starts.

A broken file fails with a `ConfigError` that names the file, the line, the field path, the bad
value and what is allowed, e.g.::

    examples/school.yaml:41: devices[3].kind: 'fridg' is not allowed; expected one of
    'fridge', 'freezer', ...

Where the service runs (the `mqtt`, `storage` and `api` sections, `RuntimeSettings`) may be
overridden by environment variables `CANTEEN_<SECTION>__<FIELD>`, e.g. `CANTEEN_MQTT__PASSWORD`,
so a deployment keeps its secrets and host names out of the file. Precedence: a command-line
flag (applied by the `canteen` command), then the environment, then the file, then the default.
The MQTT password is a `SecretStr`: it shows as `**********` in logs, reprs and dumps.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.defaults import DEFAULT_LIMITS, DISINFECTION_LIMITS
from core.energy_model import SchoolCalendar, Tariff
from core.errors import ConfigError, ConfigProblem
from core.limit_bounds import limit_problem
from core.model import Building, Carrier, Device, DeviceKind, Limits, Meal, Site
from core.notify_config import NotifyConfig
from core.rule_settings import RuleSettings, SiteRules

__all__ = [
    "ENV_PREFIX",
    "ApiSettings",
    "AuthSettings",
    "CalibrationPolicy",
    "CalibrationSettings",
    "EnergySettings",
    "GatewaySettings",
    "MqttSettings",
    "RuntimeSettings",
    "SiteConfig",
    "StorageSettings",
    "YamlLines",
    "config_problem",
    "load_config",
    "load_tariff",
    "parse_broker_url",
    "parse_listen",
    "read_yaml_mapping",
]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MqttSettings(_Section):
    broker: str = "mqtt://127.0.0.1:1883"
    client_id: str = Field(default="canteen-gateway-0", min_length=1, max_length=64)
    topic_prefix: str = Field(default="canteen/v1", pattern=r"^[^#+]+[^/#+]$")
    username: str | None = None
    password: SecretStr | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        parse_broker_url(value)
        return value

    def password_text(self) -> str | None:
        """The password in clear, for the broker connection only."""
        return None if self.password is None else self.password.get_secret_value()


class StorageSettings(_Section):
    backend: str = Field(default="duckdb", pattern=r"^duckdb$")
    path: str = "data/canteen.duckdb"


class ApiSettings(_Section):
    listen: str = "127.0.0.1:8000"

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen(value)
        return value


class AuthSettings(_Section):
    """Login sessions and the login rate limit of the web UI and the API."""

    # OWASP Session Management Cheat Sheet: an idle timeout plus an absolute one; a working
    # day (8 h) idle keeps the cook on duty logged in through a shift, a week bounds a
    # stolen cookie's life.
    session_idle_h: float = Field(default=8.0, gt=0, le=24 * 7)
    session_max_days: float = Field(default=7.0, gt=0, le=90)
    # OWASP Authentication Cheat Sheet (account lockout): a few failures, a lockout that
    # makes guessing impractical without locking people out for a day.
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_window_min: float = Field(default=15.0, gt=0, le=24 * 60)
    login_lockout_min: float = Field(default=15.0, gt=0, le=24 * 60)
    # The cost of each password's argon2id hash. Defaults: RFC 9106 section 4, the second
    # recommended option (64 MiB, 3 passes). Floors: the OWASP Password Storage Cheat Sheet's
    # least argon2id setting (19 MiB, 2 passes). A small board (a 1 GiB single-board computer)
    # may go lower so several logins at once fit; a stored hash keeps the cost it was made with
    # until its person next logs in.
    password_memory_mib: int = Field(default=64, ge=19, le=1024)
    password_passes: int = Field(default=3, ge=2, le=10)


ENV_PREFIX = "CANTEEN_"
log = logging.getLogger(__name__)
_RUNTIME_SECTIONS = ("mqtt", "storage", "api")


class RuntimeSettings(BaseSettings):
    """The sections of a site config that say where the service runs: the file's values
    (given as arguments), overridden field by field by `CANTEEN_<SECTION>__<FIELD>`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    mqtt: MqttSettings = MqttSettings()
    storage: StorageSettings = StorageSettings()
    api: ApiSettings = ApiSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file; no .env or secrets directory is read behind the
        # operator's back.
        return (env_settings, init_settings)


class GatewaySettings(_Section):
    # Device clocks drift; beyond this a timestamp is not trusted (dead-lettered).
    max_future_skew_s: float = Field(default=300.0, ge=0)
    # Devices replay their buffer after an outage; older than this is refused as implausible.
    max_age_days: float = Field(default=30.0, gt=0)
    max_payload_bytes: int = Field(default=256 * 1024, ge=1024)
    deadletter_keep_bytes: int = Field(default=16 * 1024, ge=0)
    batch_max_messages: int = Field(default=5000, ge=1)
    batch_linger_ms: float = Field(default=50.0, ge=0)


class EnergySettings(_Section):
    """Thresholds of energy accounting and of its anomalies; each says why it has its default."""

    # Two readings further apart than this many reporting intervals leave a gap: the use across
    # it is known in total only. 3 tolerates a lost message or two at QoS 1.
    gap_intervals: float = Field(default=3.0, ge=1.0)
    # How far before (after) a period the store looks for the reading that closes a gap across
    # its start (end); a longer outage across the edge stays unattributed.
    bridge_days: int = Field(default=31, ge=1, le=366)
    # Baselines: the median of the same day type over this many preceding days.
    baseline_days: int = Field(default=28, ge=7, le=180)
    baseline_min_days: int = Field(default=3, ge=1)
    # An anomaly needs both: this much above the baseline in percent, and at least the absolute
    # excess per carrier (kW for electricity, m³/h for water and gas), so that near-zero
    # baselines (gas at night) do not turn every drip into an alert.
    tolerance_pct: float = Field(default=30.0, ge=0)
    min_excess_kw: float = Field(default=2.0, ge=0)
    min_excess_water_m3_h: float = Field(default=0.05, ge=0)
    min_excess_gas_m3_h: float = Field(default=0.5, ge=0)
    # Minimum night flow above this is a leak (a running toilet is ~0.1 m³/h; assumption).
    leak_min_flow_m3_h: float = Field(default=0.02, gt=0)
    # Kitchen equipment may run this long before the first and after the last meal (same
    # assumption as the simulator's kitchen routine; calibrate per site).
    kitchen_prep_min: int = Field(default=90, ge=0, le=600)
    kitchen_clean_up_min: int = Field(default=60, ge=0, le=600)
    # Completeness below this makes a meter-day unfit as evidence or as a baseline day.
    min_completeness: float = Field(default=0.9, ge=0, le=1)

    def min_excess(self, carrier: Carrier) -> float:
        return {
            Carrier.ELECTRICITY: self.min_excess_kw,
            Carrier.WATER: self.min_excess_water_m3_h,
            Carrier.GAS: self.min_excess_gas_m3_h,
        }[carrier]


class CalibrationPolicy(_Section):
    """Tolerance and interval of probe checks; unset fields fall back to the level above."""

    tolerance_k: float | None = Field(default=None, gt=0, le=5)
    interval_days: int | None = Field(default=None, ge=1, le=366)


class CalibrationSettings(_Section):
    """Probe calibration checks (the calibration register): the site's tolerance and interval,
    overridden per device kind and per device id."""

    # UK Food Standards Agency, "Safer food, better business" (probe thermometer checks):
    # check at least monthly; in iced water the probe should read -1 °C to +1 °C. The same
    # ±1 °C is common HACCP practice for food thermometers (secondary).
    tolerance_k: float = Field(default=1.0, gt=0, le=5)
    interval_days: int = Field(default=30, ge=1, le=366)
    kinds: dict[DeviceKind, CalibrationPolicy] = {}
    devices: dict[str, CalibrationPolicy] = {}

    def for_device(self, device: Device) -> tuple[float, int]:
        """(tolerance K, interval days) of one device: its own, its kind's, the site's."""
        tolerance, interval = self.tolerance_k, self.interval_days
        for level in (self.kinds.get(device.kind), self.devices.get(device.id)):
            if level is not None:
                tolerance = level.tolerance_k if level.tolerance_k is not None else tolerance
                interval = level.interval_days if level.interval_days is not None else interval
        return tolerance, interval


class SiteConfig(_Section):
    site: Site
    mqtt: MqttSettings = MqttSettings()
    storage: StorageSettings = StorageSettings()
    api: ApiSettings = ApiSettings()
    auth: AuthSettings = AuthSettings()
    gateway: GatewaySettings = GatewaySettings()
    limits: dict[DeviceKind, Limits] = {}
    buildings: list[Building] = Field(min_length=1)
    meals: list[Meal] = []
    devices: list[Device] = []
    calendar: SchoolCalendar = SchoolCalendar()
    tariffs: list[Tariff] = []
    energy: EnergySettings = EnergySettings()
    rules: SiteRules = SiteRules()
    calibration: CalibrationSettings = CalibrationSettings()
    notify: NotifyConfig = NotifyConfig()

    @model_validator(mode="after")
    def _references(self) -> SiteConfig:
        _unique("buildings", [b.id for b in self.buildings])
        _unique("devices", [d.id for d in self.devices])
        _unique("meals", [m.name for m in self.meals])
        _unique("tariffs", [t.id for t in self.tariffs])
        sources: dict[tuple[str, str], str] = {}
        for index, device in enumerate(self.devices):
            if device.source.id is None:
                continue
            key = (device.source.format.value, device.source.id)
            if key in sources:
                raise ValueError(
                    f"devices[{index}].source.id: {device.source.id!r} is already the "
                    f"{key[0]} source of device {sources[key]!r}"
                )
            sources[key] = device.id
        known = {b.id for b in self.buildings}
        for index, device in enumerate(self.devices):
            if device.building not in known:
                raise ValueError(
                    f"devices[{index}].building: {device.building!r} is not a building of this "
                    f"site; expected one of {sorted(known)}"
                )
        _check_meters(self.devices, {t.id: t for t in self.tariffs})
        for device_id in self.calibration.devices:
            if device_id not in {d.id for d in self.devices}:
                raise ValueError(
                    f"calibration.devices.{device_id}: not a device of this site; expected "
                    f"one of {sorted(d.id for d in self.devices)}"
                )
        _check_neighbours(self.devices)
        self.notify.check_site(known)
        self._check_limits()
        self.__dict__["_rules"] = self._device_rules()
        return self

    def _check_limits(self) -> None:
        """Each kind's `limits:` over the built-in defaults, then each device's limits as its
        rules will see them, within what `core.limit_bounds` allows."""
        for kind, override in self.limits.items():
            changed = override.model_dump(exclude_none=True)
            problem = limit_problem(
                override.over(DEFAULT_LIMITS[kind]), kind, any_method=True, changed=changed
            )
            if problem is not None:
                raise ValueError(f"limits.{kind.value}.{problem[0]}: {problem[1]}")
        for index, device in enumerate(self.devices):
            own = device.limits.model_dump(exclude_none=True)
            problem = limit_problem(
                self.limits_for(device), device.kind, device.method, changed=own
            )
            if problem is None:
                continue
            field, message = problem
            if field not in own and device.kind in self.limits:
                message += f"; set by limits.{device.kind.value}"
            raise ValueError(f"devices[{index}].limits.{field}: {message}")

    def device(self, device_id: str) -> Device | None:
        return self._device_index().get(device_id)

    def _device_index(self) -> dict[str, Device]:
        index: dict[str, Device] | None = self.__dict__.get("_index")
        if index is None:
            index = {d.id: d for d in self.devices}
            self.__dict__["_index"] = index
        return index

    def limits_for(self, device: Device) -> Limits:
        """Kind default, then the method's (disinfection), then the site's kind override, then
        the device's own, then an admin's override (`set_limit_override`)."""
        admin = self.limit_overrides().get(device.id)
        limits = self.configured_limits_for(device)
        return limits if admin is None else admin.over(limits)

    def configured_limits_for(self, device: Device) -> Limits:
        """The device's limits as this file sets them, without an admin's override."""
        limits = DEFAULT_LIMITS[device.kind]
        if device.method is not None:
            limits = DISINFECTION_LIMITS[device.method].over(limits)
        if device.kind in self.limits:
            limits = self.limits[device.kind].over(limits)
        return device.limits.over(limits)

    def limit_overrides(self) -> Mapping[str, Limits]:
        """The limits admins set per device over the file (device id -> the fields set)."""
        found: Mapping[str, Limits] = self.__dict__.get("_limit_overrides", {})
        return found

    def set_limit_override(self, device_id: str, limits: Limits) -> None:
        """Lay an admin's limits over the device's from now on (`Limits()` clears them); the
        caller checks them against `core.limit_bounds`. The mapping is replaced whole, so a
        reader on another thread sees either the old one or the new one."""
        current = dict(self.limit_overrides())
        if limits == Limits():
            current.pop(device_id, None)
        else:
            current[device_id] = limits
        self.__dict__["_limit_overrides"] = current

    def rules_for(self, device: Device) -> RuleSettings:
        """The rule settings of one of this site's devices: the site's `rules:`, then its
        override for the device's kind, then the device's own (defaults in
        `core.rule_settings`). Laid over each other once, when the config is validated."""
        settings: dict[str, RuleSettings] = self.__dict__["_rules"]
        return settings[device.id]

    def _device_rules(self) -> dict[str, RuleSettings]:
        site = self.rules.base()
        kinds = {
            kind: site.over(overrides, f"rules.kinds.{kind.value}")
            for kind, overrides in self.rules.kinds.items()
        }
        out: dict[str, RuleSettings] = {}
        for index, device in enumerate(self.devices):
            base = kinds.get(device.kind, site)
            own = device.rules
            out[device.id] = base.over(own, f"devices[{index}].rules") if own else base
        return out


def _check_meters(devices: list[Device], tariffs: dict[str, Tariff]) -> None:
    """A sub-meter's parent is a meter of the same carrier in the same building, with no
    cycle; a meter's tariff exists and prices its carrier."""
    by_id = {d.id: d for d in devices}
    for index, device in enumerate(devices):
        carrier = device.kind.carrier
        if device.parent is not None:
            parent = by_id.get(device.parent)
            if parent is None or parent.kind.carrier is not carrier or parent.id == device.id:
                same = sorted(d.id for d in devices if d.kind.carrier is carrier and d != device)
                raise ValueError(
                    f"devices[{index}].parent: {device.parent!r} is not another {carrier} meter "
                    f"of this site; expected one of {same}"
                )
            if parent.building != device.building:
                raise ValueError(
                    f"devices[{index}].parent: {parent.id!r} is in building {parent.building!r}, "
                    f"not {device.building!r}; a sub-meter hangs below a meter of its building"
                )
            _check_no_cycle(by_id, device, index)
        if device.tariff is not None:
            tariff = tariffs.get(device.tariff)
            if tariff is None or tariff.carrier is not carrier:
                fitting = sorted(t.id for t in tariffs.values() if t.carrier is carrier)
                raise ValueError(
                    f"devices[{index}].tariff: {device.tariff!r} is not a {carrier} tariff of "
                    f"this site; expected one of {fitting}"
                )


def _check_neighbours(devices: list[Device]) -> None:
    by_id = {d.id: d for d in devices}
    for index, device in enumerate(devices):
        if device.neighbour is None:
            continue
        other = by_id.get(device.neighbour)
        if other is None or other.id == device.id or other.kind.is_meter or device.kind.is_meter:
            probes = sorted(d.id for d in devices if not d.kind.is_meter and d.id != device.id)
            raise ValueError(
                f"devices[{index}].neighbour: {device.neighbour!r} is not another temperature "
                f"device of this site; expected one of {probes}"
            )


def _check_no_cycle(by_id: dict[str, Device], device: Device, index: int) -> None:
    seen = [device.id]
    parent = device.parent
    while parent is not None:
        if parent in seen:
            chain = " -> ".join([*seen, parent])
            raise ValueError(f"devices[{index}].parent: meters form a cycle: {chain}")
        seen.append(parent)
        parent = by_id[parent].parent if parent in by_id else None


def _unique(section: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for index, item in enumerate(ids):
        if item in seen:
            raise ValueError(f"{section}[{index}]: id {item!r} is used twice; ids must be unique")
        seen.add(item)


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(
            f"{value!r} is not HOST:PORT (for example 127.0.0.1:8000; port 0 picks a free one)"
        )
    return host, int(port)


def parse_broker_url(value: str) -> tuple[str, int]:
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        # Not echoed: the URL holds a password. A URL is logged and shown by /api/health.
        raise ValueError(
            "a broker URL carries no credentials (it is logged and shown by /api/health); "
            "set mqtt.username and mqtt.password, or CANTEEN_MQTT__USERNAME and "
            "CANTEEN_MQTT__PASSWORD"
        )
    if parts.scheme != "mqtt" or not parts.hostname:
        raise ValueError(f"{value!r} is not a broker URL; expected mqtt://HOST:PORT")
    try:
        port = parts.port or 1883
    except ValueError:
        raise ValueError(f"{value!r} has a bad port; expected mqtt://HOST:PORT") from None
    return parts.hostname, port


def load_config(path: str | Path) -> SiteConfig:
    """Read and validate a site config; every problem is reported with its line, or with the
    environment variable that overrode the field (see `RuntimeSettings`).

    A tariff may live in its own file, named relative to the config: `tariffs: [{file:
    tariffs/guangdong-2021.yaml}]`; a problem in it is reported with that file's line."""
    path = Path(path)
    data, lines = read_yaml_mapping(path, "expected a mapping with a 'site' section")
    data["tariffs"] = _include_tariffs(path, data.get("tariffs"), lines)
    data.update(_runtime_sections(path, data, lines))
    try:
        config = SiteConfig.model_validate(data)
    except ValidationError as exc:
        problems = [config_problem(error, lines) for error in exc.errors()]
        raise ConfigError(path, problems) from exc
    for loc, message in config.notify.warnings():
        line = lines.get(("notify", *loc))
        log.warning("%s", ConfigProblem(_format_path(("notify", *loc)), line, message).render(path))
    return config


def _runtime_sections(path: Path, data: dict[str, Any], lines: YamlLines) -> dict[str, Any]:
    """The runtime sections with the environment laid over the file's values."""
    from_file = {name: data[name] for name in _RUNTIME_SECTIONS if name in data}
    try:
        settings = RuntimeSettings(**from_file)
    except ValidationError as exc:
        problems = [_runtime_problem(error, lines) for error in exc.errors()]
        raise ConfigError(path, problems) from exc
    return {name: getattr(settings, name) for name in _RUNTIME_SECTIONS}


def _runtime_problem(error: Any, lines: YamlLines) -> ConfigProblem:
    problem = config_problem(error, lines)
    variable = ENV_PREFIX + "__".join(str(part) for part in error["loc"][:2]).upper()
    if variable not in {name.upper() for name in os.environ}:
        return problem
    return ConfigProblem(problem.field, None, f"{problem.message} (set by {variable})")


def load_tariff(path: str | Path) -> Tariff:
    """Read and validate one tariff file (the form `tariffs: [{file: ...}]` includes)."""
    path = Path(path)
    data, lines = read_yaml_mapping(path, "expected a mapping describing one tariff")
    try:
        return Tariff.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, [config_problem(error, lines) for error in exc.errors()]) from exc


YamlLines = dict[tuple[str | int, ...], int]


def read_yaml_mapping(path: Path, expected: str) -> tuple[dict[str, Any], YamlLines]:
    """The mapping in a YAML file and the line of every field in it, or a ConfigError saying
    why not (`expected` describes what the file should hold)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [ConfigProblem("", None, f"cannot read the file: {exc}")]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(path, [ConfigProblem("", line, f"not valid YAML: {exc}")]) from exc
    if not isinstance(data, dict):
        raise ConfigError(path, [ConfigProblem("", 1, expected)])
    return data, {(): 1, **dict(_line_index(node, ()))}


def _include_tariffs(path: Path, items: object, lines: YamlLines) -> object:
    if not isinstance(items, list):
        return items if items is not None else []
    out: list[object] = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and set(item) == {"file"}:
            if not isinstance(item["file"], str):
                where = ("tariffs", index, "file")
                problem = ConfigProblem(_format_path(where), lines.get(where), "expected a path")
                raise ConfigError(path, [problem])
            item = load_tariff(path.parent / item["file"])
        out.append(item)
    return out


def config_problem(error: Any, lines: YamlLines) -> ConfigProblem:
    loc = _without_type_tags(tuple(part for part in error["loc"] if not _is_tag(part)), lines)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "value_error" and _names_field(message.split(": ")[0]):
        # A check names its own field path first ("devices[3].building: ..."), below the
        # model that raised it (the root for cross-reference checks).
        field, message = message.split(": ", 1)
        loc = (*loc, *_parse_path(field))
    elif error["type"] not in ("missing", "value_error") and "input" in error and not _secret(loc):
        message = f"{error['input']!r} is not allowed; {message[:1].lower()}{message[1:]}"
    line = None
    for cut in range(len(loc), -1, -1):
        line = lines.get(loc[:cut])
        if line is not None:
            break
    return ConfigProblem(_format_path(loc), line, message)


# Fields holding secrets (the MQTT password, the channels' keys and tokens, the link secret):
# a bad value is never echoed in an error.
_SECRET_FIELDS = frozenset({"password", "secret", "link_secret", "key", "access_token", "token"})


def _without_type_tags(loc: tuple[str | int, ...], lines: YamlLines) -> tuple[str | int, ...]:
    """`loc` without the member names pydantic puts in the path of a union discriminated on
    `type` (notify.channels.robot.wecom.key is notify.channels.robot.key in the file)."""
    out: list[str | int] = []
    for index, part in enumerate(loc):
        here = tuple(out)
        tag = index + 1 < len(loc) and part != "type" and (*here, part) not in lines
        if tag and (*here, "type") in lines:
            continue  # a member's name: not the last part, not a key of the file
        out.append(part)
    return tuple(out)


def _secret(loc: tuple[str | int, ...]) -> bool:
    return bool(loc) and loc[-1] in _SECRET_FIELDS


def _names_field(text: str) -> bool:
    return " " not in text and ("[" in text or "." in text)


def _is_tag(part: object) -> bool:
    # pydantic inserts union/function tags like 'function-after[...]' into locations.
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _format_path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# A part of a field path a check names: `.name`, `[3]`, or a key that has dots in it, quoted
# as repr() quotes it (`fields['DS18B20-2.Temperature']`).
_PATH_PART = re.compile(r"\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]|\.?([^.\[\]]+)")


def _parse_path(text: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for match in _PATH_PART.finditer(text):
        index, single, double, name = match.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(single if single is not None else double if double is not None else name)
    return tuple(parts)


def _line_index(
    node: yaml.Node | None, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], int]]:
    """(field path, 1-based line) for every key and item below `node` in the composed YAML."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child: tuple[str | int, ...] = (*path, str(key.value))
            yield child, key.start_mark.line + 1
            yield from _line_index(value, child)
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            child = (*path, index)
            yield child, value.start_mark.line + 1
            yield from _line_index(value, child)
