"""Unit formatting shared by the terminal and the reports."""

from __future__ import annotations

import pytest

from sizing.units import fmt_count, fmt_decimal_bytes


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


@pytest.mark.parametrize(
    ("n", "shown"),
    [(8e12, "8 TB"), (2.4e10, "24 GB"), (5.92426e5, "592 kB"), (999, "999 B")],
)
def test_decimal_bytes_as_drive_vendors_print_them(n, shown):
    """A slow write rate reads 592 kB, not 592,426 B; decimal units (10^3) as on drive datasheets."""
    assert fmt_decimal_bytes(n) == shown
