"""The recommender's entry: search, rank, and the ways out when nothing passes."""

from __future__ import annotations

from sizing.specs import Recommendation

from .provider import Problem
from .rank import ranked
from .relax import ways_out
from .search import search


def recommend(problem: Problem, request: dict | None = None) -> Recommendation:
    """Ranked builds (the best chassis per GPU, count and node count), every rejection with the rules it failed,
    and, when nothing passes, the changes that would."""
    options, rejected = search(problem)
    best = ranked(options, problem.constraints.objective)
    return Recommendation(
        request=request or {},
        execution=problem.execution,
        model=problem.model,
        options=tuple(best),
        rejected=tuple(rejected),
        ways_out=() if best else ways_out(problem, rejected),
    )
