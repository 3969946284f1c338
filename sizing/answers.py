"""One entry for every kind of request: the task decides which library function answers it (inference and
training builds, distillation plans, RL steps), and which JSON object says it (the web calculator calls these;
they give the same objects as `sizing estimate --json` and `sizing recommend --json`); a scenario file, one
estimate per row; a local model folder added to the user's catalog copy."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sizing import distillation, report, rl, scenarios
from sizing.catalog import Catalog, read_scenarios
from sizing.catalog import add_model as _append_model
from sizing.modelspec import from_hf_folder
from sizing.specs import (
    RL_ALGOS,
    DistillPlan,
    DistillRecommendation,
    Estimate,
    ModelSpec,
    Recommendation,
    RecommendRequest,
    Request,
    RLPlan,
    RLRecommendation,
    SizingError,
)

run = scenarios.run

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


def recommendation_text(found: AnyRecommendation, top: int = 5, bom: bool = False, lang: str = "en") -> str:
    if isinstance(found, RLRecommendation):
        return report.rl_recommendation_text(found, bom=bom, lang=lang)
    if isinstance(found, DistillRecommendation):
        return report.distill_recommendation_text(found, bom=bom, lang=lang)
    return report.recommendation_text(found, top=top, bom=bom, lang=lang)


def has_build(found: AnyRecommendation) -> bool:
    """Whether a report has a build to describe: a passing build, one that runs every phase or holds every role."""
    return bool(found.options) if isinstance(found, Recommendation) else found.build is not None


def ways_out(found: AnyRecommendation) -> str:
    """What to change when there is no build: the recommender's ways out, or the plan's notes."""
    lines = found.ways_out if isinstance(found, Recommendation) else found.notes
    return "ways out: " + ("; ".join(lines) or "relax the constraints")


def estimate_json(catalog: Catalog, req: Request) -> dict[str, Any]:
    """`sizing estimate --json` of one request, whatever its task."""
    kind = kind_of(req)
    if kind == "rl":
        return report.rl_json(rl.estimate(catalog, req))
    if kind == "distill":
        return report.distill_json(distillation.estimate(catalog, req))
    result: Estimate = scenarios.run(catalog, req)
    return report.estimate_json(result)


ScenarioResult = Estimate | RLPlan | tuple[DistillPlan, ...]


def scenario_estimate(catalog: Catalog, req: Request) -> ScenarioResult:
    """One scenario row's answer, as `sizing estimate` gives it for the row's task: an estimate (inference and
    training), the distillation plans of each mode, or the RL step (and run)."""
    kind = kind_of(req)
    if kind == "rl":
        return rl.estimate(catalog, req)
    if kind == "distill":
        return distillation.estimate(catalog, req)
    return run(catalog, req)


def run_scenarios(catalog: Catalog, path: Path) -> Iterator[ScenarioResult | str]:
    """One answer per scenario row, in order; a row that cannot be estimated yields 'line N: why' (N: the line
    where the row starts in the file). The file is read and checked before the first row runs: a file that cannot
    be read or has a bad header raises SizingError before anything is yielded."""
    for line, request in read_scenarios(path):
        try:
            if isinstance(request, str):
                raise SizingError(request)
            yield scenario_estimate(catalog, request)
        except SizingError as exc:
            yield f"line {line}: {exc}"
        except (OSError, RuntimeError) as exc:  # modelspec took the model cell for a folder path the system
            # refuses: a name too long for a path (OSError), '~nosuchuser' (RuntimeError from expanduser)
            model = request.model[:60] if isinstance(request, Request) else ""
            yield f"line {line}: cannot use model '{model}' ({getattr(exc, 'strerror', None) or exc}); " + (
                "give a catalog id, a size such as 7b, or an existing folder"
            )
        except ValidationError as exc:  # a limit deeper than the request's own fields
            err = exc.errors()[0]
            yield f"line {line}: {'.'.join(map(str, err['loc'])) or 'row'}: {err['msg']}"


def scenario_failure(results: Sequence[ScenarioResult | str]) -> str | None:
    """None when at least one scenario row was estimated; else the one-line reason the file failed as a whole
    (`sizing estimate --scenarios` exits 2 then, after printing every row's error line)."""
    if any(not isinstance(r, str) for r in results):
        return None
    return f"none of the {len(results)} scenario rows could be estimated; each row's error is on its JSON line"


def add_model(folder: Path, data_dir: Path, model_id: str | None = None) -> ModelSpec:
    """`sizing models add`: the model in a local Hugging Face folder (its config.json, read as `--model DIR` reads
    it), appended to the models.csv of the user's catalog copy under `model_id` (default: the folder's name)."""
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise SizingError(f"'{folder}' {what}; give a local Hugging Face model folder (one with config.json)")
    if not (folder / "config.json").is_file():
        raise SizingError(f"'{folder}' has no config.json; give a Hugging Face model folder (download its config.json)")
    spec = from_hf_folder(folder)
    notes = "; ".join(n for n in (spec.assumed, spec.notes) if n) or None
    source = f"config.json of the local folder {folder.resolve()} (added by sizing models add)"
    return _append_model(
        data_dir, spec.model_copy(update={"source": source, "notes": notes, "assumed": None}), model_id
    )
