"""What the API reads: the site config, the store, the clock and a live status probe, handed
in by the composition root so the API holds no business rules and opens nothing itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from core.clock import Clock
from core.config import SiteConfig
from ingest.store import RecordStore, Store

__all__ = ["ApiContext", "ReadStore"]


class ReadStore(Store, RecordStore, Protocol):
    """A store that holds readings and the records beside them."""


@dataclass(frozen=True, slots=True)
class ApiContext:
    config: SiteConfig
    store: ReadStore
    clock: Clock
    # Runtime figures the API reports but does not own (broker link, counters).
    status: Callable[[], Mapping[str, object]]
