"""The face a register PDF is set in: the first installed of `CJK_FONTS` (the one face holds
the Chinese and the Latin text), else for an English register matplotlib's own DejaVu Sans.
Fonts are found through matplotlib's font list, the one the energy report uses; in a
collection (.ttc) of several faces, the list holds the index of the face that has the name."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from matplotlib import font_manager, get_data_path

from alerts.register_export.labels import Lang
from core.fonts import font_entries

__all__ = ["CJK_FONTS", "PageFont", "cjk_font", "page_font"]

CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)


@dataclass(frozen=True, slots=True)
class PageFont:
    path: str
    index: int  # the face within a collection, 0 for a single font file


def cjk_font() -> str | None:
    """The name of the first installed CJK family, or None."""
    found = _installed_cjk()
    return found[0] if found else None


def page_font(lang: Lang) -> PageFont | None:
    """The face to set a register in; None when a Chinese register has no CJK font."""
    found = _installed_cjk()
    if found is not None:
        return found[1]
    if lang == "zh":
        return None
    return PageFont(str(Path(get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), 0)


@cache
def _installed_cjk() -> tuple[str, PageFont] | None:
    # FontEntry.index (the face in a collection) is there from matplotlib 3.10 on.
    installed = {f.name: PageFont(f.fname, getattr(f, "index", 0)) for f in _entries()}
    return next(((name, installed[name]) for name in CJK_FONTS if name in installed), None)


def _entries() -> list[font_manager.FontEntry]:
    return font_entries(CJK_FONTS)
