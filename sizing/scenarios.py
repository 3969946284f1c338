"""From names to an Estimate: resolve a request against the catalog, run the estimator, and shape the stable
machine-readable object that `sizing estimate --json` and `--scenarios` print (documented in README.md)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import Field, ValidationError

from . import estimate as est
from .catalog import Catalog
from .modelspec import resolve
from .specs import Base, Estimate, SizingError, Workload

SCENARIO_COLUMNS = ("model", "task", "engine", "precision", "kv_precision", "gpu", "n_gpus", "batch",
                    "prompt_tokens", "new_tokens", "seq_len")
DEFAULT_ENGINE_FOR_FAMILY = {"gguf": "llama.cpp", "exl2": "exllamav2", "mlc": "mlc-llm"}


class Request(Base):
    """What the user asked, by name. Empty fields take defaults."""

    model: str = "7b"
    task: str = "inference"
    engine: str | None = None
    precision: str = "bf16"
    kv_precision: str | None = None
    gpu: str = "rtx-4090"
    n_gpus: int = Field(1, gt=0)
    batch: int = Field(1, gt=0)
    prompt_tokens: int | None = Field(None, ge=0)
    new_tokens: int | None = Field(None, ge=0)
    seq_len: int | None = Field(None, gt=0)


def run(catalog: Catalog, req: Request) -> Estimate:
    """Resolve every name in `req` and estimate it."""
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
    gpu = catalog.gpu(req.gpu)
    new = req.new_tokens if req.new_tokens is not None else 512
    prompt = req.prompt_tokens
    if prompt is None:
        prompt = max(0, req.seq_len - new) if req.seq_len else 512
    workload = Workload(task="inference", engine=engine.id, precision=precision.id, kv_precision=kv.id,
                        batch=req.batch, prompt_tokens=prompt, new_tokens=new, n_gpus=req.n_gpus)
    return est.estimate(model, gpu, engine, precision, kv, workload, catalog.efficiency(engine.id, gpu.gpu_class))


def to_json(e: Estimate) -> dict:
    """The stable output object (README.md, 'Machine-readable output')."""
    m, s = e.memory, e.speed
    return {
        "fits": e.fits,
        "memory": {
            "per_gpu_bytes": round(m.per_gpu_bytes),
            "allocated_per_gpu_bytes": round(m.allocated_per_gpu_bytes),
            "gpu_memory_bytes": round(m.gpu_memory_bytes),
            "kv_bytes_per_token": round(m.kv_bytes_per_token),
            "max_batch_at_context": m.max_batch_at_context,
            "breakdown": {k: round(v) for k, v in m.breakdown.model_dump().items()},
        },
        "speed": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.model_dump().items()},
        "assumptions": {
            "model": e.model.id,
            "shape": {k: v for k, v in e.model.model_dump(
                include={"n_layers", "hidden_size", "n_heads", "n_kv_heads", "head_dim", "ffn_size", "vocab_size",
                         "n_experts", "n_active_experts", "kv_lora_rank", "sliding_window_tokens"}).items()
                      if v is not None},
            "n_params": round(e.model.n_params),
            "gpu": e.gpu.id, "n_gpus": e.workload.n_gpus, "engine": e.engine.id, "split": e.engine.split,
            "precision": e.precision.id, "weight_bits": e.precision.weight_bits,
            "kv_precision": e.kv_precision.id, "batch": e.workload.batch,
            "prompt_tokens": e.workload.prompt_tokens, "new_tokens": e.workload.new_tokens,
            "efficiency": e.efficiency.model_dump(exclude={"source", "n_rows"}),
            "notes": list(e.notes),
        },
    }


def _cell_int(row: dict[str, str], key: str, line: int) -> int | None:
    text = (row.get(key) or "").strip()
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        raise SizingError(f"line {line}: {key} '{text}' is not a number") from None


def read_scenarios(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The scenario CSV's rows; a missing file or unknown column is an error for the whole file."""
    try:
        text = path.read_text(encoding="utf-8")
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
            yield json.dumps(to_json(run(catalog, req)))
        except SizingError as exc:
            yield json.dumps({"error": f"line {line}: {exc}"})
        except ValidationError as exc:
            err = exc.errors()[0]
            yield json.dumps({"error": f"line {line}: {err['loc'][0] if err['loc'] else 'row'}: {err['msg']}"})
