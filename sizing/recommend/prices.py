"""Prices: which catalog price a request may use, whether it is stale, and the bill of materials of a build."""

from __future__ import annotations

import re
from collections.abc import Callable

from sizing.specs import Build, Constraints, Line, Part

STALE_MONTHS = 18  # a price older than this is stale (issue 7: prices moved within single quarters in 2025-26)
# Ranking treats a stale price as this much dearer than it reads: a current price that costs less than that ranks
# first. Dated moves the catalog records: a 64 GB DDR5 RDIMM went $255 -> $450 (+76%) from 2025-Q3 to 2025-Q4
# (Counterpoint, /work/shared/reference/prices.csv), enterprise HDDs +35% and 30 TB SSDs +257% in nine months
# (same file), 2 TB NVMe $100-130 -> $175-220 (+70%) from 2025-10 to 2026-02; 25% is below each of those moves, so
# the penalty never reorders builds whose costs differ by more than a stale price could plausibly have drifted.
STALE_MARGIN = 0.25
PRICE_DATE = re.compile(r"(\d{4})(?:-(Q[1-4]|\d{2})(?:-\d{2})?)?")


def price_month(date: str | None) -> int | None:
    """The last month a price date can mean, counted from year 0: 2025 -> 2025-12, 2025-Q2 -> 2025-06."""
    match = PRICE_DATE.fullmatch((date or "").strip())
    if not match:
        return None
    part = match[2]
    month = 12 if part is None else 3 * int(part[1]) if part.startswith("Q") else int(part)
    return int(match[1]) * 12 + month


def is_stale(date: str | None, as_of: str | None) -> bool:
    """More than 18 months between the price's date (its latest possible month) and the request's date."""
    then, now = price_month(date), price_month((as_of or "")[:7])
    return then is not None and now is not None and now - then > STALE_MONTHS


def line_of(kind: str, part: Part, quantity: int, c: Constraints) -> Line:
    """One line of the order: a used-market price counts only when the request allows used parts."""
    price, note = part.price_usd, None
    if price is not None and part.price_kind == "used" and not c.allow_used:
        price, note = None, "only a used-market price is known; --used allows it"
    return Line(
        kind=kind,
        id=part.id,
        name=part.name,
        quantity=quantity,
        unit_price_usd=price,
        price_date=part.price_date,
        price_kind=part.price_kind,
        stale=price is not None and is_stale(part.price_date, c.as_of),
        note=note,
    )


Bill = tuple[tuple[Line, ...], float, tuple[str, ...]]  # the lines, the priced subtotal, the unpriced part ids
LineOf = Callable[[str, Part, int], Line]


def order(b: Build) -> list[tuple[str, Part, int]]:
    """(kind, part, quantity) for the whole order: every node's parts, then the cluster switch."""
    parts = [(kind, p, q * b.n_nodes) for kind, p, q in b.node_parts()]
    if b.switch:
        parts.append(("switch", b.switch, 1))
    return parts


def bill_with(b: Build, line: LineOf) -> Bill:
    """The bill of materials of `b`, each line made by `line` (line_of under one request's constraints)."""
    lines = tuple(line(kind, p, q) for kind, p, q in order(b))
    subtotal = sum(ln.line_total_usd or 0.0 for ln in lines)
    return lines, subtotal, tuple(ln.id for ln in lines if ln.unit_price_usd is None)


def bill_of_materials(b: Build, c: Constraints) -> Bill:
    """Lines for the whole order (all nodes, and the cluster switch), the sum of the priced lines, and the ids of
    the parts without a price this request may use (then the build has no total)."""
    return bill_with(b, lambda kind, p, q: line_of(kind, p, q, c))


def stale_usd(lines: tuple[Line, ...]) -> float:
    """What the stale lines of a bill add up to (their prices are over 18 months old)."""
    return sum(ln.line_total_usd or 0.0 for ln in lines if ln.stale)


def ranking_cost_usd(subtotal: float, lines: tuple[Line, ...]) -> float:
    """The cost a build ranks by: its priced total with each stale line counted STALE_MARGIN dearer, so a build
    whose total rests on stale prices ranks after a fully current build of similar cost (within 25% of the stale
    lines), and a much cheaper stale build still ranks first, its total marked stale."""
    return subtotal + STALE_MARGIN * stale_usd(lines)
