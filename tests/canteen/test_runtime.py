"""The service's start-up as the composition root wires it: a refusal leaves nothing open."""

from __future__ import annotations

import socket
from pathlib import Path

import duckdb
import pytest

from canteen.runtime import Overrides, Service, ServiceError
from core.clock import SystemClock
from core.config import load_config
from ingest import DuckDBStore
from tests.conftest import EXAMPLES


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
