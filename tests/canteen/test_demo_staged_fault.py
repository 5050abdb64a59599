"""The failure `make demo` stages in its history raises the over-temperature alert the README
promises, and resolves it before the history ends, whatever the hour the demo is started.

The staged fridge's plant (`firmware_sim`, with the demo's fault) is stepped over the demo's
six hours of history at its reporting interval and every reading goes through the real rules
(`AlertService` on a DuckDB alert store). The broker and the catch-up clock in between are
the demo's wiring, tested in `test_demo_start.py`; what is pinned here is that the fault is
long enough for the rules as they are (a 90-min stop fired nothing once the estimate's fading
warmth was excused with the air back in band).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from alerts import AlertAction, AlertChange, AlertService
from alerts.model import RuleId
from canteen.demo import demo_faults
from core import load_config
from core.clock import StepClock
from core.readings import ReadingBatch
from firmware_sim.models import build_model
from ingest.duckdb_alerts import DuckDBAlertStore
from tests.conftest import EXAMPLES

HISTORY_H = 6.0  # `canteen demo`'s default history


# Started at 08:10, 14:10, 20:10 and 02:10 local, and at 01:06: then the fridge's defrost
# (timed about 04:00) falls inside the failure, and the alert rests on the recovery that
# never came (`alerts.rules.threshold`).
@pytest.mark.parametrize(("hour_utc", "minute"), [(0, 10), (6, 10), (12, 10), (18, 10), (17, 6)])
def test_the_staged_compressor_failure_fires_and_resolves_inside_the_history(
    tmp_path: Path, hour_utc: int, minute: int
) -> None:
    config = load_config(EXAMPLES / "demo-school.yaml")
    start = datetime(2026, 11, 24, hour_utc, minute, tzinfo=UTC)  # a school day
    (fault,) = demo_faults(config, start, HISTORY_H)
    device = next(d for d in config.devices if d.id == fault.device)
    model = build_model(config, device, 0, (fault,))
    clock = StepClock(start)
    service = AlertService(config, DuckDBAlertStore(tmp_path / "alerts.duckdb"), clock)
    seen: list[tuple[AlertAction, datetime]] = []

    def note(change: AlertChange) -> None:
        if change.alert.rule is RuleId.OVER_TEMPERATURE and change.alert.device == device.id:
            seen.append((change.action, change.alert.updated_at))

    service.add_change_listener(note)

    step = timedelta(seconds=device.interval_s)
    end = start + timedelta(hours=HISTORY_H)
    t = start
    while t <= end:
        metrics = model.step_to(t)
        names = [name for name, value in metrics.items() if value is not None]
        stamp = np.full(len(names), int(t.timestamp() * 1000))
        values = np.array([float(metrics[name]) for name in names])
        service.process(
            ReadingBatch(
                [config.site.id] * len(names), [device.id] * len(names), names, stamp, values
            )
        )
        clock.instant = t
        service.tick(t)
        t += step

    actions = [action for action, _ in seen]
    assert AlertAction.FIRED in actions and AlertAction.RESOLVED in actions, seen
    fired = next(at for action, at in seen if action is AlertAction.FIRED)
    resolved = next(at for action, at in seen if action is AlertAction.RESOLVED)
    onset = datetime.fromtimestamp(fault.onset_s, UTC)
    # It fires while the compressor is still off and resolves before the demo goes live.
    assert onset < fired < datetime.fromtimestamp(fault.end_s or 0, UTC) < resolved < end
