"""The service's start-up as the composition root wires it: a refusal leaves nothing open; once
the rules are live, what start-up built is left out of the garbage collector's walks, and back
in them after the stop."""

from __future__ import annotations

import asyncio
import gc
import socket
from pathlib import Path

import duckdb
import pytest

from canteen.runtime import Overrides, Service, ServiceError
from core.clock import SystemClock
from core.config import load_config
from demo_broker.mosquitto import MosquittoProcess
from ingest import DuckDBStore
from tests.conftest import EXAMPLES, site_config, wait_for


def assert_not_open(db: Path) -> None:
    """DuckDB refuses a read-only connection to a file this process holds open read-write."""
    duckdb.connect(str(db), read_only=True).close()


def test_a_busy_port_is_refused_before_the_database_is_opened(tmp_path: Path) -> None:
    db = tmp_path / "busy.duckdb"
    DuckDBStore(db).close()  # a school's existing database
    config = load_config(EXAMPLES / "demo-school.yaml")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        overrides = Overrides(db=str(db), listen=f"127.0.0.1:{port}")
        with pytest.raises(ServiceError, match=f"cannot listen on 127.0.0.1:{port}") as refused:
            Service(config, SystemClock(), overrides)
        # The refusal's traceback is still held here, and with it the half-built service.
        assert refused.value is not None
        assert_not_open(db)


def test_a_failure_after_the_database_is_opened_closes_it_again(tmp_path: Path) -> None:
    db = tmp_path / "late.duckdb"
    config = load_config(EXAMPLES / "demo-school.yaml")
    # The gateway checks the broker URL when it is wired, after the stores are open.
    overrides = Overrides(broker="http://not-mqtt", db=str(db), listen="127.0.0.1:0")
    with pytest.raises(ValueError, match="not a broker URL") as failed:
        Service(config, SystemClock(), overrides)
    assert failed.value is not None  # its traceback, and the half-built service, still held
    assert_not_open(db)


async def test_the_start_up_heap_is_frozen_while_live_and_thawed_after_the_stop(
    mosquitto: MosquittoProcess, topic_prefix: str, tmp_path: Path
) -> None:
    overrides = Overrides(broker=mosquitto.url, db=str(tmp_path / "s.duckdb"), listen="127.0.0.1:0")
    service = Service(site_config(topic_prefix), SystemClock(), overrides)
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop), name="service-under-test")
    try:
        await wait_for(lambda: service.alerts.live, "the rules to go live")
        # Full collections no longer walk the config, the rules' state, the imported code.
        await wait_for(lambda: gc.get_freeze_count() > 10_000, "the start-up heap frozen")
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
    assert gc.get_freeze_count() == 0  # collectable again: a stopped service leaves no pin
