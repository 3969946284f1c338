"""One CSV cell as text or a number, the same way in every catalog file and in a user's scenario file.

Numbers take '.' as the decimal point and ',' only between groups of three digits (`1,299`, `4,096`, `1,299.50`),
whole-number and decimal columns alike (tab-separated files too, as US Excel saves them). A ';'-separated file
(European Excel) takes ',' as the decimal point ('1,5' is 1.5, '8,008' is 8.008, '1.299,50' is 1299.5) and a '.'
where it can only be one ('0.85', '12.5'); there a lone '.' before exactly three digits ('1.299') could be a
thousands separator or a decimal point and is refused. Non-finite numbers, spreadsheet error values and numbers
past `MAX_NUMBER` are refused at the cell.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from sizing.specs.base import show

MAX_NUMBER = 10**15  # in the file's units; the largest real figure is a price near 10^7, so more is a typing mistake
FREE_TEXT = frozenset({"notes", "source", "price_source"})  # columns whose cells may span lines (Alt+Enter)

_SIMPLE = re.compile(r"[0-9]{1,15}(\.[0-9]{0,15})?")  # most cells: finite, within MAX_NUMBER, no separators
_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


def text_problem(text: str, column: str) -> str | None:
    """What is wrong with a text cell: a line break outside the free-text columns, or an invisible character."""
    if text.isprintable():
        return None
    for ch in text:
        if ch.isprintable() or (column in FREE_TEXT and ch.isspace()):
            continue
        what = "a line break" if ch in "\r\n\u2028\u2029\x85\x0b\x0c" else "an invisible character"
        where = "; keep the value on one line" if ch.isspace() else "; delete it (retype the value)"
        return f"contains {what} ({ascii(ch)[1:-1]}){where}"
    return None


def _marks(mantissa: str, delimiter: str) -> tuple[str, str]:
    """(decimal point, thousands separator) of a number's digits; ValueError when they cannot be told apart."""
    if delimiter != ";":
        return ".", ","
    if "," in mantissa and "." in mantissa:  # '1.299,50' or '1,299.50': the last one is the decimal point
        return (",", ".") if mantissa.rfind(",") > mantissa.rfind(".") else (".", ",")
    if "," in mantissa:  # European Excel's decimal comma; '1,299,000' can only be grouping
        return (",", ".") if mantissa.count(",") == 1 else (".", ",")
    whole, _, frac = mantissa.partition(".")
    if mantissa.count(".") == 1 and len(frac) == 3 and whole.isdigit() and len(whole) <= 3 and whole[0] != "0":
        raise ValueError(
            f"'{mantissa}' could be {whole}{frac} or {whole}.{frac} in a ';'-separated file; write {whole}{frac} or "
            f"{whole},{frac}"
        )
    return (",", ".") if mantissa.count(".") > 1 else (".", ",")


def _plain(text: str, delimiter: str) -> str:
    """The number written with a '.' decimal point and no thousands separators; ValueError naming the problem."""
    sign = text[:1] if text[:1] in "+-" else ""
    mantissa, e, exponent = re.fullmatch(r"([^eE]*)([eE]?)(.*)", text[len(sign) :], re.DOTALL).groups()  # type: ignore[union-attr]
    point, group = _marks(mantissa, delimiter)
    whole, dot, frac = mantissa.partition(point)
    if group in whole:
        if not re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(group)}[0-9]{{3}})+", whole):
            raise ValueError(
                f"{show(text)} is not a number: '{group}' may only separate groups of three digits "
                f"(1{group}299{point}50); write decimals with '{point}'"
            )
        whole = whole.replace(group, "")
    return sign + whole + ("." if dot else "") + frac + e + exponent


def parse_number(raw: str, whole: bool, delimiter: str = ",") -> int | float:
    """A cell as a whole number (`whole`) or a finite decimal; ValueError with the problem and its fix."""
    text = raw.strip()
    simple = _SIMPLE.fullmatch(text)
    if simple and not (whole and simple.group(1)):
        return int(text) if whole else float(text)
    if _NON_FINITE.fullmatch(text):
        what = "a whole number; give a count such as 4096" if whole else "a finite number; give a number such as 450"
        raise ValueError(f"{show(text)} is not {what}")
    if text.startswith("#"):
        raise ValueError(f"{show(text)} is a spreadsheet error value; fix the formula or type the number")
    plain = text if "," not in text and (delimiter == "," or "." not in text) else _plain(text, delimiter)
    if not _PLAIN.fullmatch(plain):
        example = "a whole number such as 4096" if whole else "a number such as 450 or 1,299.50"
        raise ValueError(f"{show(text)} is not a number; give {example}")
    try:
        value = Decimal(plain)
    except InvalidOperation:  # an exponent past what Decimal holds
        raise ValueError(f"{show(text)} is out of range; check it for a typing mistake") from None
    if abs(value) > MAX_NUMBER:
        raise ValueError(f"{show(text)} is larger than 10^15; check it for a typing mistake")
    if whole and value != value.to_integral_value():
        raise ValueError(f"{show(text)} is not a whole number; give a count such as 4096")
    return int(value) if whole else float(value)
