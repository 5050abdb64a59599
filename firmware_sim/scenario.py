"""Scenarios: a site, a span of time, a seed, the school's holidays and the faults to inject, in
one YAML file that is checked against its site before anything runs::

    name: seal-degradation
    site: ../demo-school.yaml        # the site config, relative to this file
    start: 2024-11-25                # local midnight in the site's time zone, or RFC 3339
    duration: 14d
    seed: 7
    devices: [fridge-2, steam-cabinet-1]    # optional; default every device of the site
    holidays:
      - {name: National Day, start: 2024-10-01, end: 2024-10-07}     # local dates, inclusive
    faults:
      - {device: fridge-2, type: seal_leak, onset: +2d, severity: 0.5, ramp: 3d}
      - {device: disinfect-1, type: disinfection_missed, onset: 2024-11-27, meal: lunch}

A broken file fails with a `ConfigError` naming the file, the line and the field, as a broken
site config does (`core.config`). The fault types and their parameters are in `faults.py` and
`scenario_schema.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

# The site config's own helpers, so a scenario's errors read exactly like a site's.
from core.config import SiteConfig, config_problem, load_config, read_yaml_mapping
from core.config import YamlLines as Lines
from core.errors import ConfigError, ConfigProblem
from core.metrics import METRICS, ValueType
from core.model import Device
from firmware_sim.faults import FAULT_KINDS, Fault, FaultType
from firmware_sim.models import SimModel, build_model, metrics_of
from firmware_sim.models.base import DEFAULT_BLOCK_STEPS
from firmware_sim.models.heated import CYCLE_LOG
from firmware_sim.scenario_schema import PointInTime, ScenarioFile, fault_params

__all__ = ["Scenario", "load_scenario"]


@dataclass(frozen=True, slots=True)
class Scenario:
    path: Path
    name: str
    description: str
    config: SiteConfig
    site_path: Path
    start_s: float
    end_s: float
    seed: int
    devices: tuple[Device, ...]
    holidays: frozenset[date]
    faults: tuple[Fault, ...]

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_s, UTC)

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.end_s, UTC)

    def faults_of(self, device_id: str) -> tuple[Fault, ...]:
        return tuple(f for f in self.faults if f.device == device_id)

    def build_model(
        self,
        device: Device,
        *,
        faults: bool = True,
        block_steps: int = DEFAULT_BLOCK_STEPS,
        keep_cycles: int | None = CYCLE_LOG,
    ) -> SimModel:
        """The device's model in this scenario; `faults=False` gives its healthy twin. For
        live mode: `Fleet(..., model_factory=lambda _c, d, _s: scenario.build_model(d))`."""
        return build_model(
            self.config,
            device,
            self.seed,
            self.faults_of(device.id) if faults else (),
            holidays=self.holidays,
            block_steps=block_steps,
            keep_cycles=keep_cycles,
        )


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario, its site config, and check one against the other."""
    path = Path(path)
    data, lines = read_yaml_mapping(
        path, "expected a mapping with site, start, duration and faults"
    )
    try:
        spec = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            path, [config_problem(_untagged(e), lines) for e in exc.errors()]
        ) from exc
    site_path = (path.parent / spec.site).resolve()
    if not site_path.is_file():
        problem = ConfigProblem("site", lines.get(("site",)), f"no site config at {site_path}")
        raise ConfigError(path, [problem])
    config = load_config(site_path)
    return _Resolver(path, spec, config, site_path, lines).scenario()


def _untagged(error: Any) -> Any:
    """A pydantic error without the discriminator's tag in its location (faults[2].seal_leak.x
    reads faults[2].x), and an unknown fault type reported on its `type` field."""
    loc = tuple(error["loc"])
    tag = None
    if len(loc) >= 3 and loc[0] == "faults" and loc[2] in FaultType.__members__.values():
        tag, loc = loc[2], loc[:2] + loc[3:]
    error = {**error, "loc": loc}
    if error["type"] == "extra_forbidden":
        what = f"a parameter of {tag}" if tag else "a known field"
        return {**error, "type": "value_error", "msg": f"{loc[-1]!r} is not {what}"}
    if error["type"] == "union_tag_invalid":
        known = ", ".join(sorted(FaultType))
        message = f"{error['ctx']['tag']!r} is not a fault type; expected one of {known}"
        return {**error, "loc": (*loc, "type"), "type": "value_error", "msg": message}
    if error["type"] == "union_tag_not_found":
        return {**error, "loc": (*loc, "type"), "type": "missing", "msg": "Field required"}
    return error


class _Resolver:
    """Turns a validated scenario file into a `Scenario`, collecting every problem with the
    site on the way."""

    def __init__(
        self, path: Path, spec: ScenarioFile, config: SiteConfig, site_path: Path, lines: Lines
    ) -> None:
        self.path, self.spec, self.config, self.site_path = path, spec, config, site_path
        self.lines = lines
        self.problems: list[ConfigProblem] = []
        self.start_s = self.instant(spec.start, 0.0)
        self.end_s = self.start_s + spec.duration

    def scenario(self) -> Scenario:
        devices = self.devices()
        simulated = {d.id for d in devices}
        faults = [self.fault(i, f, simulated) for i, f in enumerate(self.spec.faults)]
        self.check_registers(faults)
        if self.problems:
            raise ConfigError(self.path, self.problems)
        return Scenario(
            path=self.path,
            name=self.spec.name or self.path.stem,
            description=self.spec.description,
            config=self.config,
            site_path=self.site_path,
            start_s=self.start_s,
            end_s=self.end_s,
            seed=self.spec.seed,
            devices=tuple(devices),
            holidays=frozenset(self.holiday_dates()),
            faults=tuple(f for f in faults if f is not None),
        )

    def problem(self, loc: tuple[str | int, ...], message: str) -> None:
        line = next(
            (self.lines[loc[:cut]] for cut in range(len(loc), -1, -1) if loc[:cut] in self.lines),
            None,
        )
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        self.problems.append(ConfigProblem(field, line, message))

    def instant(self, point: PointInTime, start_s: float) -> float:
        if point.after_s is not None:
            return start_s + point.after_s
        assert point.at is not None
        at = point.at if point.at.tzinfo else point.at.replace(tzinfo=self.config.site.zone)
        return at.timestamp()

    def devices(self) -> list[Device]:
        if self.spec.devices is None:
            return list(self.config.devices)
        found = []
        for index, device_id in enumerate(self.spec.devices):
            device = self.config.device(device_id)
            if device is None:
                self.problem(("devices", index), self.unknown(device_id))
            else:
                found.append(device)
        return found

    def unknown(self, device_id: str) -> str:
        known = ", ".join(d.id for d in self.config.devices)
        return f"{device_id!r} is not a device of site {self.config.site.id!r}; known: {known}"

    def fault(self, index: int, spec: Any, simulated: set[str]) -> Fault | None:
        loc: tuple[str | int, ...] = ("faults", index)
        device = self.config.device(spec.device)
        if device is None or device.id not in simulated:
            message = (
                self.unknown(spec.device)
                if device is None
                else (f"{spec.device!r} is not simulated in this scenario (see devices)")
            )
            self.problem((*loc, "device"), message)
            return None
        fault_type = FaultType(spec.type)
        if device.kind not in FAULT_KINDS[fault_type]:
            kinds = ", ".join(sorted(k.value for k in FAULT_KINDS[fault_type]))
            self.problem(
                (*loc, "type"),
                f"{spec.type} does not apply to a {device.kind.value} "
                f"({device.id}); it applies to {kinds}",
            )
            return None
        onset, end = self.window(loc, spec)
        for problem in _param_problems(fault_type, spec, device, self.config):
            self.problem((*loc, problem[0]), problem[1])
        return Fault(fault_type, device.id, onset, end, spec.severity, index, **fault_params(spec))

    def window(self, loc: tuple[str | int, ...], spec: Any) -> tuple[float, float | None]:
        onset = self.instant(spec.onset, self.start_s)
        end = None if spec.end is None else self.instant(spec.end, self.start_s)
        if spec.lasting is not None:
            end = onset + spec.lasting
        if not self.start_s <= onset < self.end_s:
            self.problem(
                (*loc, "onset"),
                f"{self.local(onset)} is outside the scenario "
                f"({self.local(self.start_s)} to {self.local(self.end_s)})",
            )
        if end is not None and end <= onset:
            self.problem((*loc, "end"), f"{self.local(end)} is not after the onset")
        return onset, end

    def local(self, epoch_s: float) -> str:
        return datetime.fromtimestamp(epoch_s, self.config.site.zone).isoformat(timespec="minutes")

    def check_registers(self, faults: Sequence[Fault | None]) -> None:
        """A rollover is placed by the register's value at its onset, which a reset or a
        replacement of the same meter would make ambiguous: one register fault kind a meter."""
        by_device: dict[str, list[Fault]] = {}
        for fault in faults:
            if fault is not None:
                by_device.setdefault(fault.device, []).append(fault)
        for device_id, mine in by_device.items():
            rollovers = [f for f in mine if f.type is FaultType.COUNTER_ROLLOVER]
            others = [
                f for f in mine if f.type in (FaultType.METER_RESET, FaultType.METER_REPLACEMENT)
            ]
            if len(rollovers) > 1 or (rollovers and others):
                message = (
                    f"{device_id}: a counter_rollover cannot be combined with another rollover, "
                    "a reset or a replacement of the same meter"
                )
                self.problem(("faults", rollovers[-1].index, "type"), message)

    def holiday_dates(self) -> Iterator[date]:
        for holiday in self.spec.holidays:
            day, last = holiday.start, holiday.end or holiday.start
            while day <= last:
                yield day
                day += timedelta(days=1)


def _param_problems(
    fault_type: FaultType, spec: Any, device: Device, config: SiteConfig
) -> Iterator[tuple[str, str]]:
    meal = getattr(spec, "meal", None)
    if meal is not None and meal not in {m.name for m in config.meals}:
        known = ", ".join(m.name for m in config.meals)
        yield "meal", f"{meal!r} is not a meal of the site; known: {known}"
    if fault_type in (FaultType.SENSOR_DRIFT, FaultType.SENSOR_SPIKES, FaultType.SENSOR_STUCK):
        metric = spec.metric or metrics_of(device)[0]
        reported = metrics_of(device)
        if metric not in reported:
            yield (
                "metric",
                f"{device.id} does not report {metric!r}; it reports {', '.join(reported)}",
            )
        elif (
            fault_type is not FaultType.SENSOR_STUCK
            and METRICS[metric].value_type is ValueType.BOOLEAN
        ):
            yield "metric", f"{metric} is a flag; only sensor_stuck applies to it"
