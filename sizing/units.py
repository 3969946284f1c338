"""Unit constants and formatting. Everything inside `sizing` is in base units: bytes, FLOP/s, seconds, watts.

Decimal prefixes (GB, TB, TFLOPS) are 10^n as vendors use them; binary ones (GiB) are 2^30.
"""

from __future__ import annotations

KB = 1e3
MB = 1e6
GB = 1e9
TB = 1e12
KIB = 2**10
MIB = 2**20
GIB = 2**30
TIB = 2**40
TERA = 1e12
GIGA = 1e9
US = 1e-6
MS = 1e-3


def fmt_bytes(n_bytes: float) -> str:
    """Binary units, as nvidia-smi and `free` print them: 1.5 GiB."""
    for unit, size in (("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if abs(n_bytes) >= size:
            return f"{n_bytes / size:,.1f} {unit}"
    return f"{n_bytes:,.0f} B"


def fmt_decimal_bytes(n_bytes: float) -> str:
    """Decimal units, as drive vendors print them: 8 TB."""
    for unit, size in (("TB", TB), ("GB", GB), ("MB", MB), ("kB", 1e3)):
        if abs(n_bytes) >= size:
            return f"{n_bytes / size:,.3g} {unit}"
    return f"{n_bytes:,.0f} B"


def fmt_watts(watts: float) -> str:
    return f"{watts:,.0f} W"


def fmt_money(amount: float, currency: str = "USD") -> str:
    symbol = {"USD": "$", "CNY": "¥", "EUR": "€"}.get(currency, "")
    return f"{symbol}{amount:,.0f}" if symbol else f"{amount:,.0f} {currency}"


def fmt_rate(tokens_per_s: float) -> str:
    return f"{tokens_per_s:,.1f} tok/s" if tokens_per_s < 100 else f"{tokens_per_s:,.0f} tok/s"


def fmt_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1e3:,.0f} ms"
    if seconds < 120:
        return f"{seconds:,.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3600:,.1f} h"


COUNT_UNITS = {
    "en": (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)),
    "zh": (("万亿", 1e12), ("亿", 1e8), ("万", 1e4)),  # Chinese counts in 10^4 and 10^8 (2 亿, not 200M)
}


def fmt_count(n: float, lang: str = "en") -> str:
    """Large counts, 3 significant digits and never an exponent: 6.74B / 494M / 5,000T in English,
    67.4亿 / 4.94亿 / 5,000万 in Chinese."""
    for unit, size in COUNT_UNITS.get(lang, COUNT_UNITS["en"]):
        if abs(n) >= size:
            v = n / size
            return f"{v:,.0f}{unit}" if abs(v) >= 100 else f"{v:,.3g}{unit}"
    return f"{n:,.0f}"
