"""Storage of readings and records: the `Store` protocol, the embedded DuckDB backend and the
writer that takes the gateway's batches, stores them and tells the live listeners."""

from ingest.duckdb_store import DuckDBStore
from ingest.errors import StoreError, StoreUnavailableError
from ingest.store import (
    Aggregate,
    DeadLetterRecord,
    LatestValue,
    PresenceRecord,
    RecordStore,
    SeriesPoint,
    SiteStore,
    Store,
)
from ingest.writer import StoreWriter

__all__ = [
    "Aggregate",
    "DeadLetterRecord",
    "DuckDBStore",
    "LatestValue",
    "PresenceRecord",
    "RecordStore",
    "SeriesPoint",
    "SiteStore",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "StoreWriter",
]
