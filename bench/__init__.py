"""Benchmarks that measure the system against a bare baseline on the same broker in the same run
(DESIGN.md, performance anchors); they report ratios, never a bare absolute time, and are not part
of the test suite. Run one as a module, e.g. ``python -m bench.ingest``."""

__all__: list[str] = []
