"""Words and numbers as a language writes them: the message catalogs (templates/i18n/LANG.json) and the
formatting of money, sizes, rates and durations."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from sizing.units import GIB, fmt_count, fmt_decimal_bytes

SYMBOLS = {"USD": "$", "CNY": "¥", "EUR": "€"}


def templates_dir() -> Path:
    """The checkout's templates/, else the installed sizing_templates package."""
    repo = Path(__file__).resolve().parents[2] / "templates"
    if (repo / "procurement.md").exists():
        return repo
    import sizing_templates

    return Path(next(iter(sizing_templates.__path__)))


@functools.lru_cache(maxsize=4)
def messages(lang: str) -> dict[str, str]:
    """The message catalog of one language (templates/i18n/LANG.json)."""
    path = templates_dir() / "i18n" / f"{lang}.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


class Fmt:
    """Numbers, money, sizes and durations as the language writes them."""

    def __init__(self, lang: str, currency: str) -> None:
        self.lang, self.currency = lang, currency
        self.m = messages(lang)

    def t(self, key: str, **params: Any) -> str:
        return self.m[key].format(**params)

    def has(self, key: str) -> bool:
        return key in self.m

    def money(self, amount: float | None, decimals: int = 2) -> str:
        if amount is None:
            return self.t("bom.unpriced")
        symbol = SYMBOLS.get(self.currency)
        text = f"{amount:,.{decimals}f}"
        return f"{symbol}{text}" if symbol else f"{text} {self.currency}"

    def money0(self, amount: float | None) -> str:
        return self.money(amount, 0)

    def small_money(self, amount: float | None) -> str:
        """Per million tokens or per run: cents where they matter."""
        return self.money(amount, 2 if amount is None or amount >= 10 else 4 if amount < 0.1 else 3)

    def num(self, value: float, decimals: int = 0) -> str:
        return f"{value:,.{decimals}f}"

    def watts(self, w: float) -> str:
        return f"{w:,.0f} W"

    def gib(self, n_bytes: float) -> str:
        return f"{n_bytes / GIB:,.1f} GiB"

    def dbytes(self, n_bytes: float) -> str:
        return fmt_decimal_bytes(n_bytes)

    def pct(self, fraction: float) -> str:
        return f"{fraction * 100:,.0f}%"

    def rate(self, tokens_per_s: float) -> str:
        digits = 1 if tokens_per_s < 100 else 0
        return self.t("unit.tok_s", n=f"{tokens_per_s:,.{digits}f}")

    def seconds(self, s: float) -> str:
        if s < 1:
            return self.t("unit.ms", n=f"{s * 1e3:,.0f}")
        if s < 120:
            return self.t("unit.s", n=f"{s:,.1f}")
        if s < 7200:
            return self.t("unit.min", n=f"{s / 60:,.1f}")
        if s < 3 * 86400:
            return self.t("unit.h", n=f"{s / 3600:,.1f}")
        return self.t("unit.d", n=f"{s / 86400:,.1f}")

    def count(self, n: float) -> str:
        """Large counts in the report's language (units.fmt_count)."""
        return fmt_count(n, self.lang)

    def value(self, unit: str | None, v: float | str | None) -> str:
        """A rule's need/have or a check's figure in its unit."""
        if v is None:
            return "-"
        if isinstance(v, str):
            return v
        shown = {
            "bytes": self.gib,
            "decimal_bytes": self.dbytes,
            "watts": self.watts,
            "tokens_per_s": self.rate,
            "tok": self.rate,
            "money": self.money0,
            "mib": lambda x: f"{x:,.0f} MiB",
        }.get(unit or "", lambda x: f"{x:,.0f}")
        return shown(v)

    def kind(self, kind: str) -> str:
        return self.t(f"kind.{kind}") if self.has(f"kind.{kind}") else kind

    def price_kind(self, kind: str | None) -> str:
        return "-" if kind is None else self.t(f"price_kind.{kind}") if self.has(f"price_kind.{kind}") else kind
