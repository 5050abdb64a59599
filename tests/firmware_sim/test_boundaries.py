"""The simulator stands where a real device would: it may know the topic scheme (`core.topics`),
never the gateway or the service behind the broker (DESIGN.md, packages)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import firmware_sim

FORBIDDEN = ("gateway", "ingest", "alerts", "energy", "dashboard_api", "canteen")


def test_importing_the_simulator_loads_no_service_package() -> None:
    code = (
        "import sys, firmware_sim, firmware_sim.fleet\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not set(FORBIDDEN) & set(loaded)


def test_every_module_declares_its_exports() -> None:
    for info in pkgutil.walk_packages(firmware_sim.__path__, "firmware_sim."):
        module = importlib.import_module(info.name)
        exports = getattr(module, "__all__", None)
        assert exports is not None, f"{info.name} has no __all__"
        assert all(hasattr(module, name) for name in exports), info.name
