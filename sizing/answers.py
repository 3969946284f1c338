"""One entry for every kind of request: the task decides which library function answers it (inference and
training builds, distillation plans, RL steps), and which JSON object says it. The web calculator calls these;
they give the same objects as `sizing estimate --json` and `sizing recommend --json`."""

from __future__ import annotations

from typing import Any

from sizing import distillation, report, rl, scenarios
from sizing.catalog import Catalog
from sizing.specs import (
    RL_ALGOS,
    DistillRecommendation,
    Estimate,
    Recommendation,
    RecommendRequest,
    Request,
    RLRecommendation,
)

AnyRecommendation = Recommendation | DistillRecommendation | RLRecommendation


def kind_of(req: Request) -> str:
    """`rl`, `distill` or `builds` (inference and training): the family of answer a request gets."""
    task = req.task.strip().lower()
    return "rl" if task in RL_ALGOS else "distill" if task == "distill" else "builds"


def recommend(catalog: Catalog, req: RecommendRequest) -> AnyRecommendation:
    kind = kind_of(req)
    if kind == "rl":
        return rl.recommend(catalog, req)
    if kind == "distill":
        return distillation.recommend(catalog, req)
    return scenarios.recommend(catalog, req)


def recommendation_json(found: AnyRecommendation) -> dict[str, Any]:
    if isinstance(found, RLRecommendation):
        return report.rl_recommendation_json(found)
    if isinstance(found, DistillRecommendation):
        return report.distill_recommendation_json(found)
    return report.recommendation_json(found)


def recommendation_text(found: AnyRecommendation, top: int = 5, bom: bool = False) -> str:
    if isinstance(found, RLRecommendation):
        return report.rl_recommendation_text(found, bom=bom)
    if isinstance(found, DistillRecommendation):
        return report.distill_recommendation_text(found, bom=bom)
    return report.recommendation_text(found, top=top, bom=bom)


def estimate_json(catalog: Catalog, req: Request) -> dict[str, Any]:
    """`sizing estimate --json` of one request, whatever its task."""
    kind = kind_of(req)
    if kind == "rl":
        return report.rl_json(rl.estimate(catalog, req))
    if kind == "distill":
        return report.distill_json(distillation.estimate(catalog, req))
    result: Estimate = scenarios.run(catalog, req)
    return report.estimate_json(result)
