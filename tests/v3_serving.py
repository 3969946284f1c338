"""DeepSeek-V3 in FP8 on 8 x H200 under SGLang at batch 32, the serving set-up the expert-parallel and attention
data-parallel tests vary one choice of at a time."""

from __future__ import annotations

from sizing import estimate as est
from sizing import scenarios
from sizing.specs import Estimate, Execution, ModelSpec, Request, System


def v3_execution(catalog, **kw) -> tuple[ModelSpec, Execution]:
    """The resolved model and execution, each request field overridable (model, engine, n_gpus, precision, ...)."""
    fields = {"model": "deepseek-v3", "engine": "sglang", "n_gpus": 8, "precision": "fp8", "batch": 32} | kw
    return scenarios.resolve_execution(catalog, Request(gpu="h200", **fields))


def v3_estimate(catalog, **kw) -> Estimate:
    """The estimate of v3_execution on n_gpus x H200 with the engine's factors."""
    model, x = v3_execution(catalog, **kw)
    gpu = catalog.gpu("h200")
    return est.estimate(model, x, System.of(gpu, kw.get("n_gpus", 8)), catalog.efficiency(x.engine.id, gpu.gpu_class))
