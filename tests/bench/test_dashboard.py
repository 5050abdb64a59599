"""bench.dashboard's own arithmetic and choices, without starting a service: percentiles as
the JSON reports them, the kinds `--kinds` keeps, and its refusal of a kind it does not know."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.backlog import BenchError
from bench.dashboard import chosen_kinds, parse_args, percentiles, request_kinds

END = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_percentiles_of_known_samples() -> None:
    # 100 samples of 1..100 ms: the median is 50.5 ms, the 99th is the 100th sample (index 99).
    report = percentiles([n / 1000 for n in range(100, 0, -1)])
    assert report == {"n": 100, "p50_ms": 50.5, "p99_ms": 100.0, "max_ms": 100.0}
    assert percentiles([]) == {"n": 0}


def test_kinds_keeps_the_named_ones_in_the_bench_order() -> None:
    args = parse_args(["--kinds", "page_overview, devices", "--no-live"])
    assert args.kinds == ["page_overview", "devices"] and args.no_live
    kinds = chosen_kinds(request_kinds(10, END, []), args.kinds)
    assert list(kinds) == ["devices", "page_overview"]
    assert list(chosen_kinds(request_kinds(10, END, ["/alerts"]), None))[-1] == "page /alerts"


def test_an_unknown_kind_is_refused_with_the_known_ones() -> None:
    with pytest.raises(BenchError, match=r"--kinds: no kind 'overview'; known: devices, latest"):
        chosen_kinds(request_kinds(10, END, []), ["overview"])
