"""`samples_by_device` against a plain reference: per device (by name), one sample per instant in
time order, the last copy of a metric repeated at one instant, other sites' readings left out."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.samples import samples_by_device
from core.readings import ReadingBatch

Row = tuple[str, str, str, int, float]
SITE = "a"

rows_strategy = st.lists(
    st.tuples(
        st.sampled_from([SITE, SITE, "b"]),
        st.sampled_from(["fridge-2", "fridge-1", "ir-1"]),
        st.sampled_from(["temp_c", "door_open", "power_w"]),
        st.integers(0, 6),
        st.floats(-30, 130),
    ),
    max_size=60,
)


def reference(rows: list[Row]) -> dict[str, list[tuple[int, dict[str, float]]]]:
    grouped: dict[str, dict[int, dict[str, float]]] = {}
    for site, device, metric, ts, value in rows:  # in arrival order: the last copy wins
        if site == SITE:
            grouped.setdefault(device, {}).setdefault(ts, {})[metric] = value
    return {
        device: sorted(grouped[device].items())  # instants in time order
        for device in sorted(grouped)
    }


@settings(max_examples=300, deadline=None)
@given(rows_strategy)
def test_samples_match_the_reference(rows: list[Row]) -> None:
    batch = ReadingBatch(
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        np.array([r[3] for r in rows], dtype=np.int64),
        np.array([r[4] for r in rows], dtype=np.float64),
    )
    got = {
        device: [(s.ts_ms, s.values) for s in samples]
        for device, samples in samples_by_device(batch, SITE).items()
    }
    want = reference(rows)
    assert got == want
    assert list(got) == list(want), "devices are handed to the rules in name order"
