"""bench.dashboard_ab reads ab's report: percentiles, rate and failures; a report without
percentiles (ab failed early) is refused, not read as zeros."""

import pytest

from bench.backlog import BenchError
from bench.dashboard_ab import ab_figures

AB_REPORT = """
Complete requests:      2000
Failed requests:        3
Non-2xx responses:      2
Requests per second:    1973.27 [#/sec] (mean)

Percentage of the requests served within a certain time (ms)
  50%     10
  66%     12
  90%     20
  99%     28
 100%     33 (longest request)
"""


def test_figures_come_from_abs_percentile_table() -> None:
    assert ab_figures(AB_REPORT) == {
        "p50_ms": 10, "p99_ms": 28, "max_ms": 33, "requests_per_s": 1973.27,
        "failed": 3, "non_2xx": 2,
    }  # fmt: skip


def test_a_report_without_percentiles_is_refused() -> None:
    with pytest.raises(BenchError, match="no percentiles"):
        ab_figures("apr_socket_recv: Connection refused (111)\n")
