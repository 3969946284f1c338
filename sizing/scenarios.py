"""From names to an Estimate: resolve a request against the catalog, run the estimator, and shape the stable
machine-readable object that `sizing estimate --json` and `--scenarios` print (documented in README.md)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError

from . import estimate as est
from . import recommend as rec
from .catalog import Catalog
from .modelspec import resolve
from .report import estimate_json
from .specs import (
    Base,
    Constraints,
    Engine,
    Estimate,
    ModelSpec,
    Precision,
    Recommendation,
    SizingError,
    Workload,
)

SCENARIO_COLUMNS = ("model", "task", "engine", "precision", "kv_precision", "gpu", "n_gpus", "batch",
                    "prompt_tokens", "new_tokens", "seq_len")
DEFAULT_ENGINE_FOR_FAMILY = {"gguf": "llama.cpp", "exl2": "exllamav2", "mlc": "mlc-llm"}


MAX_TOKENS = 10_000_000  # past any model's context; larger numbers are typing mistakes
MAX_BATCH = 1_000_000
MAX_GPUS = 4096
Name = Annotated[str, Field(min_length=1)]


class Request(Base):
    """What the user asked, by name. Empty fields take defaults."""

    model: Name = "7b"
    task: Name = "inference"
    engine: Name | None = None
    precision: Name = "bf16"
    kv_precision: Name | None = None
    gpu: Name = "rtx-4090"
    n_gpus: int = Field(1, gt=0, le=MAX_GPUS)
    batch: int = Field(1, gt=0, le=MAX_BATCH)
    prompt_tokens: int | None = Field(None, ge=0, le=MAX_TOKENS)
    new_tokens: int | None = Field(None, ge=0, le=MAX_TOKENS)
    seq_len: int | None = Field(None, gt=0, le=MAX_TOKENS)


def resolve_workload(catalog: Catalog, req: Request) -> tuple[ModelSpec, Engine, Precision, Precision, Workload]:
    """Every name in `req` resolved against the catalog, and the workload it describes."""
    if req.task != "inference":
        raise SizingError(f"task '{req.task}' is not estimated yet; use --task inference")
    model = resolve(req.model, catalog)
    precision = catalog.precision(req.precision)
    engine_name = req.engine or DEFAULT_ENGINE_FOR_FAMILY.get(precision.family, "vllm")
    engine = catalog.engine(engine_name)
    if precision.family not in engine.weight_families:
        runs = [p.id for p in catalog.precisions.values() if p.family in engine.weight_families][:8]
        raise SizingError(f"{engine.name} does not run {precision.id} weights; pick --precision from "
                          f"{', '.join(runs)} or another --engine")
    kv = catalog.precision(req.kv_precision or engine.default_kv_precision)
    new = req.new_tokens if req.new_tokens is not None else 512
    prompt = req.prompt_tokens
    if prompt is None:
        prompt = max(0, req.seq_len - new) if req.seq_len else 512
    workload = Workload(task="inference", engine=engine.id, precision=precision.id, kv_precision=kv.id,
                        batch=req.batch, prompt_tokens=prompt, new_tokens=new, n_gpus=req.n_gpus)
    return model, engine, precision, kv, workload


def run(catalog: Catalog, req: Request) -> Estimate:
    """Resolve every name in `req` and estimate it."""
    model, engine, precision, kv, workload = resolve_workload(catalog, req)
    gpu = catalog.gpu(req.gpu)
    return est.estimate(model, gpu, engine, precision, kv, workload, catalog.efficiency(engine.id, gpu.gpu_class))


class RecommendRequest(Request):
    """`sizing recommend`: the workload (users = concurrent sequences, context = prompt + new tokens) and the
    constraints."""

    model: Name = "7b"
    users: int = Field(4, gt=0, le=MAX_BATCH)
    context: int | None = Field(None, gt=0, le=MAX_TOKENS)
    new_tokens: int | None = Field(512, ge=0, le=MAX_TOKENS)
    prompt_tokens: int | None = Field(None, ge=0, le=MAX_TOKENS)
    budget: float | None = Field(None, gt=0, allow_inf_nan=False)
    gpus_allowed: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    cpus_allowed: tuple[str, ...] = ()
    circuit: str | None = None
    max_gpus: int | None = Field(None, gt=0, le=MAX_GPUS)
    form_factor: Literal["tower", "rack"] | None = None
    target_tokens_per_s: float | None = Field(None, gt=0, allow_inf_nan=False)
    objective: Literal["cost", "speed", "cost-per-token"] = "cost"
    currency: str = "USD"


DEFAULT_CONTEXT = 4096  # tokens per user for `sizing recommend` with no --context: a chat turn with history


def recommend(catalog: Catalog, req: RecommendRequest) -> Recommendation:
    """Resolve the request's names, then search builds (sizing.recommend)."""
    context = req.context or (None if req.prompt_tokens is not None else DEFAULT_CONTEXT)
    new = req.new_tokens if req.new_tokens is not None else 512
    if context is not None and context <= new:
        raise SizingError(f"--context {context} must exceed --new-tokens {new}; raise --context or lower --new-tokens")
    base = req.model_copy(update={"batch": req.users, "n_gpus": 1, "new_tokens": new,
                                  "prompt_tokens": req.prompt_tokens if context is None else context - new})
    model, engine, precision, kv, workload = resolve_workload(catalog, base)
    gpus = tuple(catalog.gpu(g).id for g in req.gpus_allowed)
    exclude = tuple(catalog.gpu(g).id for g in req.exclude)
    cpus = tuple(catalog.cpu(x).id for x in req.cpus_allowed)
    circuit = catalog.circuit(req.circuit).id if req.circuit else None
    fx = catalog.usd_to(req.currency)
    constraints = Constraints(gpus=gpus, exclude=exclude, cpus=cpus, circuit=circuit, max_gpus=req.max_gpus,
                              form_factor=req.form_factor, budget_usd=req.budget / fx.rate if fx and req.budget
                              else req.budget, target_tokens_per_s=req.target_tokens_per_s,
                              objective=req.objective)
    result = rec.recommend(catalog, model, engine, precision, kv, workload, constraints,
                           request=req.model_dump(exclude_none=True))
    if fx:
        result = result.model_copy(update={"currency": fx.to_currency, "fx_rate": fx.rate, "fx_date": fx.rate_date,
                                           "fx_source": fx.source})
    return result


def _cell_int(row: dict[str, str], key: str, line: int) -> int | None:
    text = (row.get(key) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not value.is_integer():
        raise SizingError(f"line {line}: {key} '{text}' is not a whole number")
    return int(value)


def read_scenarios(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The scenario CSV's rows; a missing file or unknown column is an error for the whole file."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheets save UTF-8 CSV with a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise SizingError(f"cannot read scenarios file '{path}' ({exc.__class__.__name__}); check the path") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in SCENARIO_COLUMNS]
    if not header or unknown or "model" not in header:
        raise SizingError(f"{path.name}: header must use the columns {','.join(SCENARIO_COLUMNS)} "
                          f"(found {','.join(header) or 'none'})")
    return header, [{(k or "").strip(): (v or "") for k, v in row.items()} for row in reader]


def run_scenarios(catalog: Catalog, path: Path) -> Iterator[str]:
    """One JSON line per scenario row, in order; a row that cannot be estimated yields {"error": ...}."""
    _, rows = read_scenarios(path)
    for line, row in enumerate(rows, start=2):
        try:
            fields = {k: v.strip() for k, v in row.items() if k in ("model", "task", "engine", "precision",
                                                                    "kv_precision", "gpu") and v and v.strip()}
            for key in ("n_gpus", "batch", "prompt_tokens", "new_tokens", "seq_len"):
                value = _cell_int(row, key, line)
                if value is not None:
                    fields[key] = value
            req = Request(**fields)
            yield json.dumps(estimate_json(run(catalog, req)))
        except SizingError as exc:
            yield json.dumps({"error": f"line {line}: {exc}"})
        except ValidationError as exc:
            err = exc.errors()[0]
            yield json.dumps({"error": f"line {line}: {err['loc'][0] if err['loc'] else 'row'}: {err['msg']}"})
