"""Moved to `core.topics`: the topic scheme is a wire contract the simulator shares. This
re-export remains only for `bench/` until it imports `core.topics`; then it goes."""

from core.topics import BridgeChannel, BridgeTopic, Channel, DeviceTopic, TopicScheme

__all__ = ["BridgeChannel", "BridgeTopic", "Channel", "DeviceTopic", "TopicScheme"]
