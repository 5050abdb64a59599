"""The device simulator: physics of every device kind of a site (fridges, freezers, sample
fridges, steam and disinfection cabinets, electricity/water/gas meters), deterministic given a
seed and driven by a `Clock`, and the `Fleet` that publishes a whole site over MQTT the way real
devices do (a connection each, or many on one bridge as a Zigbee coordinator does; QoS 1
telemetry in our format or Zigbee2MQTT, Tasmota or Shelly style; cycle events; retained presence
with a Last Will). It talks to the broker only; it never imports ingest or alerts."""

from firmware_sim.device import DeviceCounters, SimulatedDevice
from firmware_sim.errors import LinkDownError, SimulatorError
from firmware_sim.fleet import Fleet, FleetStats
from firmware_sim.models import DeviceModel, Metrics, SimEvent, build_model

__all__ = [
    "DeviceCounters",
    "DeviceModel",
    "Fleet",
    "FleetStats",
    "LinkDownError",
    "Metrics",
    "SimEvent",
    "SimulatedDevice",
    "SimulatorError",
    "build_model",
]
