"""A chart's one fine read gives the columns the store gives at the column's own step: the
minimum of the lows and the maximum of the highs per epoch-aligned column, on the canteen of
`pages_site` (a real DuckDB file) with a spike inside one column."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from dashboard_api.chart_reads import FineRead, column_buckets, fine_step
from tests.alerts.conftest import batch
from tests.dashboard_api.pages_site import NOON, Site, page_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = page_site(tmp_path_factory.mktemp("chart-reads") / "site.duckdb")
    yield built
    built.close()


@pytest.mark.parametrize(("fine_s", "column_s"), [(60, 120), (300, 600), (300, 3600)])
def test_columns_from_fine_steps_equal_the_stores_columns(
    site: Site, fine_s: int, column_s: int
) -> None:
    store, site_id = site.harness.readings, site.harness.config.site.id
    spike = batch(("fridge-3", NOON - timedelta(hours=2, seconds=-17), {"temp_c": 19.25}))
    store.write(spike)
    start, end = NOON - timedelta(days=2), NOON
    fine = store.envelope_steps(site_id, "fridge-3", ["temp_c"], start, end, fine_s)["temp_c"]
    whole = store.envelopes(site_id, "fridge-3", ["temp_c"], start, end, column_s)["temp_c"]
    grouped = column_buckets(FineRead.of(fine), column_s)
    assert len(whole) >= 5
    assert [(b.start, b.low, b.high) for b in grouped] == [(e.start, e.low, e.high) for e in whole]
    assert max(b.high for b in grouped) == 19.25


def test_the_fine_step_divides_the_column_or_is_the_column() -> None:
    assert fine_step(600, 300) == 300  # a week's 10-min columns, the estimate's 5 min
    assert fine_step(60, 300) == 60  # a day's 1-min columns: finer than the estimate needs
    assert fine_step(900, 600) == 900  # no whole number of estimate steps per column
    assert fine_step(3600, None) == 3600  # no estimate on this chart
    assert column_buckets(FineRead.of_envelopes([]), 600) == []
