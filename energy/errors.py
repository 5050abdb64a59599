"""Errors of the energy package: `EnergyError` says what was asked and what is allowed."""

from __future__ import annotations

__all__ = ["EnergyError"]


class EnergyError(Exception):
    """A report or analysis that cannot be made as asked; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
