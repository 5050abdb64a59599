"""Every package says what it owns in its docstring and exports exactly what exists."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "core",
    "firmware_sim",
    "gateway",
    "ingest",
    "alerts",
    "energy",
    "dashboard_api",
    "canteen",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_package_has_a_docstring_and_its_exports_exist(name: str) -> None:
    package = importlib.import_module(name)
    assert package.__doc__ and len(package.__doc__.split()) >= 8, f"{name} lacks a docstring"
    for export in getattr(package, "__all__", []):
        assert hasattr(package, export), f"{name}.__all__ names {export!r}, which is missing"
