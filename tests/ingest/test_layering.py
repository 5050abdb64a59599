"""Storage sits below the business packages (DESIGN.md, packages): ingest persists the record
types of core and imports nothing of the packages that give them meaning."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ABOVE_STORAGE = {"alerts", "energy", "dashboard_api", "canteen", "gateway", "firmware_sim"}


def imported_packages(source: Path) -> set[str]:
    """Top-level packages a module imports anywhere (also inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    "module", sorted((ROOT / "ingest").glob("*.py")), ids=lambda path: path.name
)
def test_ingest_imports_nothing_above_storage(module: Path) -> None:
    assert imported_packages(module) & ABOVE_STORAGE == set()


@pytest.mark.parametrize("module", ["records.py", "readings.py"])
def test_the_record_types_need_only_the_standard_library_and_numpy(module: str) -> None:
    # typing_extensions: a register amendment is a TypedDict that pydantic reads, and pydantic
    # on Python < 3.12 takes only typing_extensions' TypedDict (it is pydantic's own dependency).
    assert imported_packages(ROOT / "core" / module) <= {
        "__future__", "collections", "dataclasses", "datetime", "enum", "numpy",
        "typing_extensions",
    }  # fmt: skip
