"""Counter-based randomness: every random number is a hash of (seed, device, stream, counter).

A plant step draws its numbers from its grid index and a sensor reading from its timestamp, so
what a device does at an instant depends neither on when the simulation started, nor on how
often the device is read, nor on how many steps are computed at once, nor on the faults injected
elsewhere (a faulty device and its healthy twin open their doors at the same instants). The hash
is SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA
2014), applied twice; it passes BigCrush and vectorises in numpy.
"""

from __future__ import annotations

from zlib import crc32

import numpy as np
import numpy.typing as npt

__all__ = ["DeviceRandom", "normals_from"]

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_TO_UNIT = 2.0**-53

U64 = npt.NDArray[np.uint64]
FloatArray = npt.NDArray[np.float64]


def _mix_int(x: int) -> int:
    z = (x + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def _mix(x: U64) -> U64:
    # uint64 array arithmetic wraps modulo 2**64, which is what SplitMix64 needs.
    z = x + np.uint64(_GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
    return z ^ (z >> np.uint64(31))


def normals_from(u1: FloatArray, u2: FloatArray) -> FloatArray:
    """Standard normals from two uniform arrays in [0, 1) (Box-Muller)."""
    radius = np.sqrt(-2.0 * np.log1p(-u1))  # 1 - u1 is in (0, 1]
    return radius * np.cos(2.0 * np.pi * u2)


# Below this many numbers, Python integers mix faster than numpy's per-call overhead allows
# (a live device's single reading); both give the same bits.
_SMALL = 16


class DeviceRandom:
    """The random numbers of one device of one seeded run."""

    def __init__(self, seed: int, device_id: str) -> None:
        self._base = _mix_int(_mix_int(seed & _MASK) ^ (crc32(device_id.encode()) << 32))
        self._keys: dict[str, int] = {}

    def key(self, stream: str) -> int:
        key = self._keys.get(stream)
        if key is None:
            key = self._keys[stream] = _mix_int(self._base ^ crc32(stream.encode()))
        return key

    def uniforms(self, stream: str, counters: npt.NDArray[np.int64], width: int = 1) -> FloatArray:
        """Uniforms in [0, 1), shape (len(counters), width); row i depends only on counters[i]."""
        key = self.key(stream)
        if len(counters) * width <= _SMALL:
            bits = np.array(
                [_mix_int(_mix_int((c * width + j) & _MASK) ^ key)
                 for c in counters.tolist() for j in range(width)],
                dtype=np.uint64,
            )  # fmt: skip
        else:
            base = counters.astype(np.uint64) * np.uint64(width)
            flat = (base[:, None] + np.arange(width, dtype=np.uint64)[None, :]).ravel()
            bits = _mix(_mix(flat) ^ np.uint64(key))
        values = (bits >> np.uint64(11)).astype(np.float64) * _TO_UNIT
        return values.reshape(len(counters), width)

    def normals(self, stream: str, counters: npt.NDArray[np.int64], width: int = 1) -> FloatArray:
        """Standard normals, shape (len(counters), width)."""
        u = self.uniforms(stream, counters, 2 * width)
        return normals_from(u[:, 0::2], u[:, 1::2])

    def constant(self, name: str) -> float:
        """A uniform in [0, 1) that is a fixed property of the device (its ambient offset...)."""
        return float((_mix_int(self.key("constant") ^ crc32(name.encode())) >> 11) * _TO_UNIT)

    def constant_normal(self, name: str) -> float:
        u1, u2 = self.constant(name + ".1"), self.constant(name + ".2")
        return float(normals_from(np.array([u1]), np.array([u2]))[0])
