"""MQTT in: the topic scheme, payload decoding and validation, adapters from foreign formats
(Zigbee2MQTT, Tasmota, Shelly Gen2), presence from status topics and bridges' Last Wills, and the
dead-letter path. It hands columnar reading batches to a sink and acknowledges messages to the
broker only after the sink has stored them; it does not know which store that is."""

from gateway.bridges import BridgeRoster
from gateway.codec import TimeWindow, decode_event, decode_status, decode_telemetry
from gateway.errors import BrokerError, GatewayError, PayloadError
from gateway.link import BrokerLink, Inbound
from gateway.service import Gateway, GatewaySink, GatewayStats
from gateway.topics import BridgeChannel, BridgeTopic, Channel, DeviceTopic, TopicScheme

__all__ = [
    "BridgeChannel",
    "BridgeRoster",
    "BridgeTopic",
    "BrokerError",
    "BrokerLink",
    "Channel",
    "DeviceTopic",
    "Gateway",
    "GatewayError",
    "GatewaySink",
    "GatewayStats",
    "Inbound",
    "PayloadError",
    "TimeWindow",
    "TopicScheme",
    "decode_event",
    "decode_status",
    "decode_telemetry",
]
