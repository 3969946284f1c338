"""The recommender's entry: search, rank, and the ways out when nothing passes."""

from __future__ import annotations

from sizing.specs import Recommendation, Rejection

from .derive import Composer
from .provider import Problem
from .rank import ranked
from .relax import ways_out
from .search import search


def recommend(problem: Problem, request: dict | None = None) -> Recommendation:
    """Ranked builds (the best chassis per GPU, count and node count), every rejection with the rules it failed,
    and, when nothing passes, the changes that would."""
    composer = Composer(problem)  # kept for the relaxations' searches
    options, rejected = search(problem, composer)
    best = ranked(options, problem.constraints.objective)
    return Recommendation(
        request=request or {},
        execution=problem.execution,
        model=problem.model,
        options=tuple(best),
        rejected=tuple(rejected),
        near_misses=near_misses(rejected),
        ways_out=() if best else ways_out(problem, rejected, composer),
    )


def near_misses(rejected: list[Rejection], n: int = 5) -> tuple[Rejection, ...]:
    """The cheapest composed builds (one per GPU, count and nodes) that fail exactly one rule: the finding says
    what it needs, and mostly the fix."""
    one = [r for r in rejected if len(r.findings) == 1 and r.total_price_usd is not None]
    best: dict[tuple[str, int, int], Rejection] = {}
    for r in sorted(one, key=lambda r: r.total_price_usd or 0.0):
        best.setdefault((r.gpu, r.n_gpus, r.n_nodes), r)
    return tuple(list(best.values())[:n])
