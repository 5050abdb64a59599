"""The alert bench's stage figures: the readings path's steps in a window from two cumulative
`/api/health` answers, and the rules' and alert book's figures summed over the polls."""

from __future__ import annotations

from bench.alerts_stages import ingest_window, quantile, rules_lag


def test_the_window_mean_comes_from_the_running_counts_and_means() -> None:
    before = {"write": {"count": 100, "mean": 10.0, "p99": 50, "max": 80.0}}
    # 100 batches at a mean of 10 ms, then 50 more: the mean of all 150 is 12 ms, so the 50
    # new ones took (150 * 12 - 100 * 10) / 50 = 16 ms on average.
    after = {
        "write": {"count": 150, "mean": 12.0, "p99": 50, "max": 90.0},
        "linger": {"count": 4, "mean": 51.0, "p99": 100, "max": 55.0},
    }
    window = ingest_window(before, after)
    assert window["write"] == {
        "batches": 50,
        "mean": 16.0,
        "p99_since_start": 50,
        "max_since_start": 90.0,
    }
    assert window["linger"]["batches"] == 4 and window["linger"]["mean"] == 51.0
    # A step with no batch in the window is left out.
    assert ingest_window(after, after) == {}


def test_the_polls_give_the_median_p50_and_the_largest_p99() -> None:
    def poll(age: float, commit_p50: float, commit_p99: float) -> dict[str, object]:
        steps = {"commit": {"p50": commit_p50, "p99": commit_p99, "max": commit_p99}}
        return {"age_ms": {"p50": age, "p99": age * 2, "max": age * 3},
                "alert_book_steps_ms": steps}  # fmt: skip

    figures = rules_lag([poll(40, 5, 9), poll(60, 7, 30), poll(50, 6, 12), {"age_ms": {}}])
    assert figures["polls"] == 3
    assert figures["age_ms_p50"] == 50 and figures["age_ms_p99"] == 120
    assert figures["alert_book_steps_ms"]["commit"] == {"p50": 6, "p99": 30}
    assert figures["alert_book_steps_ms"]["statements"] == {"p50": None, "p99": None}


def test_the_quantile_is_the_nearest_rank() -> None:
    ordered = [float(x) for x in range(1, 101)]
    assert quantile(ordered, 0.5) == 50 and quantile(ordered, 0.99) == 99
    assert quantile([7.0], 0.99) == 7.0
