"""How a device shows a value: a probe rounds to its resolution (0.1 °C for a typical one), a
meter's register truncates (it shows the last whole digit it has passed)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["quantise", "truncate"]

FloatArray = npt.NDArray[np.float64]


def _digits(resolution: float) -> int:
    return max(0, -math.floor(math.log10(resolution)))


def quantise(values: FloatArray, resolution: float) -> FloatArray:
    """Rounded to the nearest multiple of `resolution` (half to even, like the firmware's printf
    would not, but the difference is one reading in millions)."""
    return np.round(np.round(values / resolution) * resolution, _digits(resolution))


def truncate(values: FloatArray, resolution: float) -> FloatArray:
    """Rounded down to a multiple of `resolution`: a register never shows more than it counted."""
    return np.round(np.floor(values / resolution) * resolution, _digits(resolution))
