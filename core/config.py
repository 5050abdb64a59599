"""The site config: one YAML file, validated before anything starts.

A broken file fails with a `ConfigError` that names the file, the line, the field path, the bad
value and what is allowed, e.g.::

    examples/school.yaml:41: devices[3].kind: 'fridg' is not allowed; expected one of
    'fridge', 'freezer', ...
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.defaults import DEFAULT_LIMITS, DISINFECTION_LIMITS
from core.errors import ConfigError, ConfigProblem
from core.model import Building, Device, DeviceKind, Limits, Meal, Site

__all__ = [
    "ApiSettings",
    "GatewaySettings",
    "MqttSettings",
    "SiteConfig",
    "StorageSettings",
    "load_config",
    "parse_broker_url",
    "parse_listen",
]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MqttSettings(_Section):
    broker: str = "mqtt://127.0.0.1:1883"
    client_id: str = Field(default="canteen-gateway-0", min_length=1, max_length=64)
    topic_prefix: str = Field(default="canteen/v1", pattern=r"^[^#+]+[^/#+]$")
    username: str | None = None
    password: str | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        parse_broker_url(value)
        return value


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


class GatewaySettings(_Section):
    # Device clocks drift; beyond this a timestamp is not trusted (dead-lettered).
    max_future_skew_s: float = Field(default=300.0, ge=0)
    # Devices replay their buffer after an outage; older than this is refused as implausible.
    max_age_days: float = Field(default=30.0, gt=0)
    max_payload_bytes: int = Field(default=256 * 1024, ge=1024)
    deadletter_keep_bytes: int = Field(default=16 * 1024, ge=0)
    batch_max_messages: int = Field(default=5000, ge=1)
    batch_linger_ms: float = Field(default=50.0, ge=0)


class SiteConfig(_Section):
    site: Site
    mqtt: MqttSettings = MqttSettings()
    storage: StorageSettings = StorageSettings()
    api: ApiSettings = ApiSettings()
    gateway: GatewaySettings = GatewaySettings()
    limits: dict[DeviceKind, Limits] = {}
    buildings: list[Building] = Field(min_length=1)
    meals: list[Meal] = []
    devices: list[Device] = []

    @model_validator(mode="after")
    def _references(self) -> SiteConfig:
        _unique("buildings", [b.id for b in self.buildings])
        _unique("devices", [d.id for d in self.devices])
        _unique("meals", [m.name for m in self.meals])
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
        return self

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
        the device's own."""
        limits = DEFAULT_LIMITS[device.kind]
        if device.method is not None:
            limits = DISINFECTION_LIMITS[device.method].over(limits)
        if device.kind in self.limits:
            limits = self.limits[device.kind].over(limits)
        return device.limits.over(limits)


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
    if parts.scheme != "mqtt" or not parts.hostname:
        raise ValueError(f"{value!r} is not a broker URL; expected mqtt://HOST:PORT")
    try:
        port = parts.port or 1883
    except ValueError:
        raise ValueError(f"{value!r} has a bad port; expected mqtt://HOST:PORT") from None
    return parts.hostname, port


def load_config(path: str | Path) -> SiteConfig:
    """Read and validate a site config; every problem is reported with its line."""
    path = Path(path)
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
        raise ConfigError(path, [ConfigProblem("", 1, "expected a mapping with a 'site' section")])
    lines = {(): 1, **dict(_line_index(node, ()))}
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(error, lines) for error in exc.errors()]
        raise ConfigError(path, problems) from exc


def _problem(error: Any, lines: dict[tuple[str | int, ...], int]) -> ConfigProblem:
    loc = tuple(part for part in error["loc"] if not _is_tag(part))
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "value_error" and ": " in message and message.split(": ")[0].count("["):
        # A cross-reference check names its own field path first ("devices[3].building: ...").
        field, message = message.split(": ", 1)
        loc = _parse_path(field)
    elif error["type"] not in ("missing", "value_error") and "input" in error:
        message = f"{error['input']!r} is not allowed; {message[:1].lower()}{message[1:]}"
    line = None
    for cut in range(len(loc), -1, -1):
        line = lines.get(loc[:cut])
        if line is not None:
            break
    return ConfigProblem(_format_path(loc), line, message)


def _is_tag(part: object) -> bool:
    # pydantic inserts union/function tags like 'function-after[...]' into locations.
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _format_path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _parse_path(text: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for chunk in text.replace("]", "").split("."):
        name, *indexes = chunk.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indexes)
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
