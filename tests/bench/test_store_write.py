"""bench.store_write on a tiny history: every variant writes the same batches, the idempotent
ones end with the same readings once each, and a redelivered batch is among them."""

from __future__ import annotations

import argparse

from bench import store_write


def test_the_variants_store_the_same_readings_and_report_each_size() -> None:
    args = argparse.Namespace(
        days=1, devices=5, batches=5, sizes=[4, 40], variants=list(store_write._VARIANTS)
    )
    report = store_write.run(args, lambda _line: None)  # raises when the counts disagree
    results = report["results"]
    assert set(results) == set(store_write._VARIANTS)
    assert set(results["keyless"]) == {"4", "40"}
    assert set(results["executemany"]) == {"4"}  # row by row at the smallest size only
    assert all(f["readings_per_s"] > 0 for v in results.values() for f in v.values())


def test_one_batch_in_five_is_a_redelivery_of_the_one_before() -> None:
    batches = store_write._batches(devices=5, minutes=10, size=4, count=5)
    assert batches[4] is batches[3]
    keys = {
        (d, m, t)
        for b in batches[:4]
        for d, m, t in zip(b.device, b.metric, b.ts_ms.tolist(), strict=True)
    }
    assert len(keys) == 16  # the first four are all new readings
