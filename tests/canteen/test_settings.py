"""Environment overrides of the site config's runtime settings, as a deployment sets them:
precedence command-line flag > environment > file, and the MQTT password never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from canteen.runtime import Overrides, Service
from core.clock import SystemClock
from core.config import load_config
from core.errors import ConfigError
from tests.conftest import EXAMPLES

DEMO = EXAMPLES / "demo-school.yaml"
SECRET = "s3cret-of-the-school"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    db = tmp_path / "from-env.duckdb"
    monkeypatch.setenv("CANTEEN_MQTT__BROKER", "mqtt://broker.school.lan:1884")
    monkeypatch.setenv("CANTEEN_MQTT__USERNAME", "gateway")
    monkeypatch.setenv("CANTEEN_MQTT__PASSWORD", SECRET)
    monkeypatch.setenv("CANTEEN_STORAGE__PATH", str(db))
    monkeypatch.setenv("canteen_api__listen", "127.0.0.1:0")  # names are case-insensitive
    return db


def test_the_environment_overrides_the_file_field_by_field(environment: Path) -> None:
    config = load_config(DEMO)
    assert config.mqtt.broker == "mqtt://broker.school.lan:1884"
    assert config.mqtt.username == "gateway" and config.mqtt.password_text() == SECRET
    assert config.mqtt.client_id == "canteen-gateway-0"  # the file's, not overridden
    assert config.mqtt.topic_prefix == "canteen/v1"
    assert config.storage.path == str(environment)
    assert config.api.listen == "127.0.0.1:0"


def test_a_command_line_flag_wins_over_the_environment(environment: Path) -> None:
    config = Overrides(db="flag.duckdb").applied_to(load_config(DEMO))
    assert config.storage.path == "flag.duckdb"
    assert config.mqtt.broker == "mqtt://broker.school.lan:1884"


def test_without_the_environment_the_file_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CANTEEN_MQTT__BROKER", raising=False)
    config = load_config(DEMO)
    assert config.mqtt.broker == "mqtt://127.0.0.1:1883"
    assert config.mqtt.password is None


def test_a_bad_value_names_the_variable_that_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANTEEN_API__LISTEN", "everywhere")
    monkeypatch.setenv("CANTEEN_MQTT__KEEPALIVE", "30")  # no such field: keepalive_s
    with pytest.raises(ConfigError) as refused:
        load_config(DEMO)
    text = str(refused.value)
    assert "api.listen: 'everywhere' is not HOST:PORT" in text
    assert "(set by CANTEEN_API__LISTEN)" in text
    assert "mqtt.keepalive" in text and "(set by CANTEEN_MQTT__KEEPALIVE)" in text


def test_credentials_in_the_broker_url_are_refused_without_echoing_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CANTEEN_MQTT__BROKER", f"mqtt://gateway:{SECRET}@broker.school.lan")
    with pytest.raises(ConfigError) as refused:
        load_config(DEMO)
    assert "carries no credentials" in str(refused.value)
    assert SECRET not in str(refused.value)


async def test_the_password_is_neither_logged_nor_shown_by_the_api(
    environment: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = load_config(DEMO)
    assert SECRET not in repr(config) and SECRET not in str(config.model_dump())
    service = Service(config, SystemClock())
    try:
        transport = httpx.ASGITransport(app=service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            health = await client.get("/api/health")
    finally:
        service.close()
    assert health.json()["broker"] == "mqtt://broker.school.lan:1884"
    assert SECRET not in health.text
    assert SECRET not in caplog.text
    assert service.db_path == environment
