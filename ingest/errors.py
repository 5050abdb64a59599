"""Errors of the ingest package: `StoreError` carries what failed and where (backend, path)."""

from __future__ import annotations

__all__ = ["StoreError"]


class StoreError(Exception):
    """The store could not do what was asked; `backend` and `target` say which store."""

    def __init__(self, message: str, *, backend: str, target: str) -> None:
        super().__init__(f"{backend} store {target}: {message}")
        self.backend = backend
        self.target = target
