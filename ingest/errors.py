"""Errors of the ingest package: `StoreError` carries what failed and where (backend, path).

StoreError                  the store could not do what was asked (a write refused its data)
└── StoreUnavailableError   the store cannot work now (disk full, I/O, out of memory, closed);
                            also a `core.errors.StorageUnavailable`, so writers retry it
"""

from __future__ import annotations

from core.errors import StorageUnavailable

__all__ = ["StoreError", "StoreUnavailableError"]


class StoreError(Exception):
    """The store could not do what was asked; `backend` and `target` say which store."""

    def __init__(self, message: str, *, backend: str, target: str) -> None:
        super().__init__(f"{backend} store {target}: {message}")
        self.backend = backend
        self.target = target


class StoreUnavailableError(StoreError, StorageUnavailable):
    """The store is unavailable (not the data's fault): retry later."""
