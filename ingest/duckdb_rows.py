"""Records to rows and back, column by named column, for the DuckDB backends.

A `RecordTable` names a table's columns explicitly; SQL lists them in every INSERT and SELECT,
so a column added by a migration, or a column order that differs between a new file and an
upgraded one, changes nothing here. Rows become records through pydantic's `TypeAdapter`
(enums from their values, `Message` from its two columns), not by field position.

Column conventions: a `Message` field `x` is two columns `x_zh`, `x_en`; evidence is JSON text;
instants are naive UTC `TIMESTAMP`s; enums are stored as their values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

__all__ = ["RecordTable", "naive_utc", "utc"]

T = TypeVar("T")


class RecordTable(Generic[T]):
    """One record type stored in one table; `columns` in the order SQL lists them.

    Every field of the record must have its column(s): a field added to a stored record without
    a migration is a programming error, reported when the module is imported.
    """

    def __init__(
        self,
        table: str,
        record: type[T],
        columns: Sequence[str],
        *,
        messages: Sequence[str] = (),
        json_columns: Sequence[str] = (),
    ) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._adapter: TypeAdapter[T] = TypeAdapter(record)
        self._messages = tuple(messages)
        self._json = frozenset(json_columns)
        self._check_covers(record)
        self.select = ", ".join(f'"{c}"' for c in self.columns)

    def insert(self, *, columns: Sequence[str] | None = None, replace: bool = False) -> str:
        names = self.columns if columns is None else tuple(columns)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        listed = ", ".join(f'"{c}"' for c in names)
        return f"{verb} INTO {self.table} ({listed}) VALUES ({', '.join('?' for _ in names)})"

    def encode(self, record: T, columns: Sequence[str] | None = None) -> list[Any]:
        """The values DuckDB stores for `columns` (default: all), in that order."""
        names = self.columns if columns is None else columns
        return [_cell(self._field_value(record, c), json_text=c in self._json) for c in names]

    def decode(self, row: Sequence[Any]) -> T:
        """A row selected as `self.select` (the columns in this order) as a record."""
        cells = dict(zip(self.columns, row, strict=True))
        values: dict[str, Any] = {}
        for name in self._messages:
            values[name] = {"zh": cells.pop(f"{name}_zh"), "en": cells.pop(f"{name}_en")}
        for name, cell in cells.items():
            if cell is not None and name in self._json:
                values[name] = json.loads(cell)
            elif isinstance(cell, datetime):
                values[name] = utc(cell)
            else:
                values[name] = cell
        return self._adapter.validate_python(values)

    def _field_value(self, record: T, column: str) -> Any:
        for name in self._messages:
            if column in (f"{name}_zh", f"{name}_en"):
                return getattr(getattr(record, name), column.rsplit("_", 1)[1])
        return getattr(record, column)

    def _check_covers(self, record: type[T]) -> None:
        if not is_dataclass(record):
            raise TypeError(f"{record!r} is not a dataclass")
        stored = {c.rsplit("_", 1)[0] if self._is_message(c) else c for c in self.columns}
        names = {f.name for f in fields(record)}
        if stored != names:
            raise TypeError(
                f"table {self.table} and {record.__name__} differ: fields without a column "
                f"{sorted(names - stored)}, columns without a field {sorted(stored - names)}; "
                "a new field needs a column and a migration (ingest.migrations)"
            )

    def _is_message(self, column: str) -> bool:
        return any(column in (f"{m}_zh", f"{m}_en") for m in self._messages)


def _cell(value: Any, *, json_text: bool) -> Any:
    if json_text and value is not None:
        return json.dumps(dict(value) if isinstance(value, Mapping) else value, ensure_ascii=False)
    if isinstance(value, datetime):
        return naive_utc(value)
    if isinstance(value, Enum):
        return value.value
    return value


def naive_utc(instant: datetime) -> datetime:
    """DuckDB TIMESTAMP is naive: store the UTC wall time."""
    return instant.astimezone(UTC).replace(tzinfo=None)


def utc(value: datetime) -> datetime:
    """A TIMESTAMP read back: the UTC wall time it was stored as."""
    return value.replace(tzinfo=UTC)
