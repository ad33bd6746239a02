"""Fitting text into Telegram's limits: content is cut before rendering, never the HTML."""

from __future__ import annotations

import pytest

from templates import fits, render, render_fitted, toast, utf16_len, visible_length
from tests.helpers.fake_botapi import parse_html


def test_render_never_cuts() -> None:
    long = "<b>" + "x" * 5000  # escaped content, far over the limit

    text = render("admin_report", error="e", update_json="{}", traceback_tail=long)

    assert text.endswith("x" * 100 + "</pre>")
    assert not fits(text)


@pytest.mark.parametrize("unit", ["x", "&", "<", "📉", "清"])
def test_render_fitted_cuts_the_content_to_the_limit_in_utf16_units(unit: str) -> None:
    tail = unit * 6000 + "END"

    text = render_fitted(
        "admin_report", cut="traceback_tail", error="e", update_json="{}", traceback_tail=tail
    )

    plain, _ = parse_html(text)
    assert utf16_len(plain) <= 4096
    assert utf16_len(plain) >= 4096 - 2  # as much as fits, not much less
    assert plain.endswith("END")
    assert visible_length(text) == utf16_len(plain)


def test_toast_counts_utf16_units_and_marks_the_cut() -> None:
    assert toast("short") == "short"
    cut = toast("📉" * 150)

    assert utf16_len(cut) <= 200
    assert cut.endswith("…")
    assert toast("a" * 200) == "a" * 200
