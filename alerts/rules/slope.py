"""A straight-line fit kept as running sums, so a stretch of readings costs constant memory."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Slope"]

_HOUR_MS = 3_600_000


@dataclass(slots=True)
class Slope:
    start_ms: int
    count: int = 0
    span_ms: int = 0
    sum_t: float = 0.0
    sum_tt: float = 0.0
    sum_y: float = 0.0
    sum_ty: float = 0.0
    first_ms: int | None = None

    def add(self, ts: int, value: float) -> None:
        if self.first_ms is None:
            self.first_ms = ts
        t = (ts - self.first_ms) / _HOUR_MS
        self.count += 1
        self.span_ms = ts - self.first_ms
        self.sum_t += t
        self.sum_tt += t * t
        self.sum_y += value
        self.sum_ty += t * value

    def per_hour(self) -> float | None:
        """Least-squares slope in units per hour; None when the points do not span time."""
        n = self.count
        denominator = n * self.sum_tt - self.sum_t**2
        if n < 2 or denominator <= 0:
            return None
        return (n * self.sum_ty - self.sum_t * self.sum_y) / denominator
