"""The fonts matplotlib knows, looked at again when a wanted family is not among them.

matplotlib lists the system's fonts once, the first time it runs, and keeps the list in a
cache file (`~/.cache/matplotlib`, or `MPLCONFIGDIR`) that later processes read instead of
looking. A CJK font installed after that (`apt-get install fonts-wqy-microhei`, which our
"no Chinese font found" errors advise) stays unseen by every later process, the service
after a restart too: seen when the tests ran once before `make test` installed the font.
So when none of the wanted families is listed, the system's font files are read once per
process and those not yet listed are added (in memory; the cache file is matplotlib's)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from matplotlib import font_manager

__all__ = ["font_entries"]


def font_entries(wanted: Sequence[str]) -> list[font_manager.FontEntry]:
    """matplotlib's font list, after one look at the system's font files when none of the
    `wanted` families is in it."""
    if not any(entry.name in wanted for entry in font_manager.fontManager.ttflist):
        _look_again()
    return list(font_manager.fontManager.ttflist)


@cache
def _look_again() -> None:
    listed = {entry.fname for entry in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        if path in listed:
            continue
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            continue  # a file FreeType cannot read is no font for us
