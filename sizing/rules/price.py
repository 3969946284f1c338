"""The rule on the order's price: the budget."""

from __future__ import annotations

from sizing.specs import Candidate, Finding, said
from sizing.units import fmt_money

from .memo import judged_once


def budget(c: Candidate) -> Finding:
    """The whole order (every node) costs no more than --budget, converted to USD at fx.csv's rate. A build with a
    part that has no usable price has no total, so it never passes a budget (issue 7: unknown prices are not $0)."""
    limit = c.constraints.budget_usd
    return _no_budget() if limit is None else _budget(limit, c.total_usd, c.subtotal_usd)


@judged_once
def _no_budget() -> Finding:
    return Finding(rule="budget", ok=True, message="no budget given", **said("finding.budget.none"))


@judged_once
def _budget(limit: float, total: float | None, subtotal: float) -> Finding:
    if total is None:
        return Finding(
            rule="budget",
            ok=False,
            need=round(subtotal),
            have=limit,
            message=f"has parts without a usable price (the priced ones cost {fmt_money(subtotal)}), so its "
            f"total cannot be held to a budget of {fmt_money(limit)}; price them in a --data copy",
            **said("finding.budget.unpriced", subtotal=fmt_money(subtotal), limit=fmt_money(limit)),
        )
    return Finding(
        rule="budget",
        ok=total <= limit,
        need=round(total),
        have=limit,
        message=f"costs {fmt_money(total)}, budget {fmt_money(limit)}",
        **said("finding.budget", total=fmt_money(total), limit=fmt_money(limit)),
    )
