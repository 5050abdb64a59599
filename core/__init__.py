"""Domain types (readings, devices, sites, buildings, meals, control limits), the clock, the
metric vocabulary and the validated site config. No I/O beyond reading the config file.
`core.records` holds the stored records of alerts and registers that the alerts package and a
store backend both speak."""

from core.clock import CatchUpClock, Clock, ManualClock, SystemClock, to_epoch_ms, utc_from_ms
from core.config import SiteConfig, load_config
from core.errors import ConfigError, ConfigProblem, StorageUnavailable
from core.metrics import METRICS, MetricSpec, ValueType
from core.model import (
    Building,
    BuildingKind,
    Device,
    DeviceKind,
    DeviceSource,
    Limits,
    Meal,
    Site,
    WireFormat,
)
from core.readings import (
    DeadLetter,
    DeviceEvent,
    PresenceChange,
    Reading,
    ReadingBatch,
    ReadingBatchBuilder,
)

__all__ = [
    "METRICS",
    "Building",
    "BuildingKind",
    "CatchUpClock",
    "Clock",
    "ConfigError",
    "ConfigProblem",
    "DeadLetter",
    "Device",
    "DeviceEvent",
    "DeviceKind",
    "DeviceSource",
    "Limits",
    "ManualClock",
    "Meal",
    "MetricSpec",
    "PresenceChange",
    "Reading",
    "ReadingBatch",
    "ReadingBatchBuilder",
    "Site",
    "SiteConfig",
    "StorageUnavailable",
    "SystemClock",
    "ValueType",
    "WireFormat",
    "load_config",
    "to_epoch_ms",
    "utc_from_ms",
]
