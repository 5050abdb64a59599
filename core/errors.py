"""Errors of the core package. `ConfigError` is the one a person meets when a site file is
wrong; it lists every problem found, each with its field path and line. `StorageUnavailable`
is the contract between a store and whoever writes to it: the store raises it (or a subclass)
when it cannot store anything right now, so the writer retries; any other failure of a write
means the data was refused, and the writer isolates the message that caused it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ConfigError", "ConfigProblem", "StorageUnavailable"]


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    field: str
    line: int | None
    message: str

    def render(self, path: Path) -> str:
        where = f"{path}:{self.line}" if self.line is not None else str(path)
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(Exception):
    """A site config that cannot be used; `problems` says where and why."""

    def __init__(self, path: Path, problems: list[ConfigProblem]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  {p.render(path)}" for p in problems)
        super().__init__(f"invalid config {path} ({len(problems)} problem(s)):\n{lines}")


class StorageUnavailable(Exception):  # noqa: N818 (a condition, raised by store errors)
    """The store cannot take writes now (disk full, file or server unreachable, closed): retry
    later; nothing is wrong with the data."""
