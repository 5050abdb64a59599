"""Every package says what it owns in its docstring and exports exactly what it offers: each
name in `__all__` exists, and every public name in the package's namespace that is not a
submodule is in `__all__`, as httpx checks its exports; so is each name its `__init__` takes
from its own modules, even one loaded only on first use."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

PACKAGES = [
    "core",
    "firmware_sim",
    "gateway",
    "gateway.adapters",
    "ingest",
    "alerts",
    "energy",
    "dashboard_api",
    "canteen",
    "demo_broker",
]


def package_or_skip(name: str) -> ModuleType:
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"no package {name} in this tree")
    return importlib.import_module(name)


def own_public_names(package: ModuleType) -> set[str]:
    """The public names `__init__.py` binds from the package's own modules or by defining them,
    at any level (`if TYPE_CHECKING:` blocks too); names from elsewhere (typing, stdlib) are
    the package's tools, not its exports."""
    assert package.__file__ is not None
    tree = ast.parse(Path(package.__file__).read_text(encoding="utf-8"))
    own = package.__name__.split(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or module == own or module.startswith(own + "."):
                names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node in tree.body:
                names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return {name for name in names if not name.startswith("_")}


def namespace_names(package: ModuleType) -> set[str]:
    """The public names `from package import ...` finds, submodules aside."""
    return {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }


@pytest.mark.parametrize("name", PACKAGES)
def test_package_has_a_docstring_and_its_exports_exist(name: str) -> None:
    package = package_or_skip(name)
    assert package.__doc__ and len(package.__doc__.split()) >= 8, f"{name} lacks a docstring"
    for export in getattr(package, "__all__", []):
        assert hasattr(package, export), f"{name}.__all__ names {export!r}, which is missing"


@pytest.mark.parametrize("name", PACKAGES)
def test_what_a_package_offers_is_in_its_all(name: str) -> None:
    package = package_or_skip(name)
    exports = getattr(package, "__all__", [])  # none: the package offers nothing
    assert len(exports) == len(set(exports)), f"{name}.__all__ lists a name twice"
    offered = namespace_names(package) | own_public_names(package)
    unlisted = sorted(offered - set(exports))
    assert not unlisted, f"{name} offers {unlisted}, which its __all__ does not list"
