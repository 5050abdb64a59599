"""Fixtures for the embedded broker tests: a broker per test and a paho client factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from demo_broker.embedded import EmbeddedBroker
from tests.demo_broker.broker_harness import BrokerThread, Client


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with BrokerThread() as running:
        yield running


@pytest.fixture
def connect(broker: EmbeddedBroker) -> Iterator[Callable[..., Client]]:
    """Factory for paho clients on the broker; all are disconnected at teardown."""
    clients: list[Client] = []

    def make(client_id: str = "", *, clean_session: bool = True) -> Client:
        client = Client(broker.port, client_id, clean_session=clean_session)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
