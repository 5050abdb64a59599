"""What the API reads: the site config, the store, the clock and a live status probe, handed
in by the composition root so the API holds no business rules and opens nothing itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.clock import Clock
from core.config import SiteConfig
from ingest.store import SiteStore

__all__ = ["ApiContext"]


@dataclass(frozen=True, slots=True)
class ApiContext:
    config: SiteConfig
    store: SiteStore
    clock: Clock
    # Runtime figures the API reports but does not own (broker link, counters).
    status: Callable[[], Mapping[str, object]]
