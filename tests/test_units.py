"""Unit formatting shared by the terminal and the reports."""

from __future__ import annotations

import pytest

from sizing.units import fmt_count


@pytest.mark.parametrize(
    ("n", "lang", "shown"),
    [
        (6.94e9, "en", "6.94B"),
        (4.94e8, "en", "494M"),
        (5e15, "en", "5,000T"),
        (999, "en", "999"),
        (6.94e9, "zh", "69.4亿"),
        (2e8, "zh", "2亿"),
        (5e7, "zh", "5,000万"),
        (1.2e13, "zh", "12万亿"),
        (9_999, "zh", "9,999"),
    ],
)
def test_counts_in_each_language(n, lang, shown):
    """Chinese counts group by 10^4 and 10^8 (万, 亿), English by 10^3; never an exponent."""
    assert fmt_count(n, lang) == shown
