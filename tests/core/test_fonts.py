"""A CJK font installed after matplotlib first listed the system's fonts is still found
(`core.fonts`): matplotlib reads its cached list, and the Chinese registers and energy
reports said "no Chinese font found" with the font installed (seen when the tests had run
once before `make test` installed it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from matplotlib import font_manager

from core import fonts
from energy.pdf import CJK_FONTS


@pytest.fixture
def fresh_look() -> Iterator[None]:
    fonts._look_again.cache_clear()
    yield
    fonts._look_again.cache_clear()


def test_a_font_missing_from_matplotlib_s_cached_list_is_found_on_disk(
    monkeypatch: pytest.MonkeyPatch, fresh_look: None
) -> None:
    listed = fonts.font_entries(CJK_FONTS)
    if not any(entry.name in CJK_FONTS for entry in listed):
        pytest.fail("no CJK font installed: `make test` installs fonts-wqy-microhei")
    fonts._look_again.cache_clear()
    # The list as a cache written before the font was installed holds it: none of the
    # faces of its files (a collection holds several: WenQuanYi's Micro Hei and its Mono).
    files = {entry.fname for entry in listed if entry.name in CJK_FONTS}
    stale = [entry for entry in listed if entry.fname not in files]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    found = fonts.font_entries(CJK_FONTS)
    assert {entry.name for entry in found} & set(CJK_FONTS)
    # The fonts it had are not listed twice.
    keys = [(entry.fname, entry.name, entry.style, entry.weight) for entry in found]
    assert len(keys) == len(set(keys))


def test_a_list_that_has_a_wanted_font_is_taken_as_it_is(fresh_look: None) -> None:
    fonts.font_entries(CJK_FONTS)  # (looks once if matplotlib's cache predates the font)
    fonts._look_again.cache_clear()
    fonts.font_entries(CJK_FONTS)
    assert fonts._look_again.cache_info().currsize == 0
