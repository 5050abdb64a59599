"""Decoding a payload needs no MQTT client: the broker session and the service load on first use."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def test_the_codec_and_adapters_load_without_paho() -> None:
    loaded = loaded_after(
        "import gateway\n"
        "from gateway import PayloadError, TimeWindow, decode_telemetry\n"
        "from gateway.adapters import ForeignRouter"
    )
    assert not {m for m in loaded if m.split(".")[0] == "paho"}
    assert "gateway.link" not in loaded and "gateway.service" not in loaded


def test_the_service_is_still_exported_by_the_package() -> None:
    loaded = loaded_after("from gateway import BrokerLink, Gateway, Inbound")
    assert {"gateway.link", "gateway.service", "gateway.mqtt_wire"} <= loaded
    # The session speaks MQTT itself on the event loop; paho is left to the alert topic.
    assert "paho.mqtt.client" not in loaded
