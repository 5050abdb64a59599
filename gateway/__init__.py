"""MQTT in: the topic scheme, payload decoding and validation, presence from status topics and
the dead-letter path. It hands columnar reading batches to a sink and acknowledges messages to the
broker only after the sink has stored them; it does not know which store that is."""

from gateway.codec import TimeWindow, decode_event, decode_status, decode_telemetry
from gateway.errors import BrokerError, GatewayError, PayloadError
from gateway.link import BrokerLink, Inbound
from gateway.service import Gateway, GatewaySink, GatewayStats
from gateway.topics import Channel, DeviceTopic, TopicScheme

__all__ = [
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
