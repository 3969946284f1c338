"""Shared by calibrate.py and accuracy.py: turn rows of ../shared/reference/measured.csv into resolved estimator
inputs and pull the comparable figure out of an estimate. Read measured.md for what each row means."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sizing import estimate as est
from sizing import modelspec
from sizing.catalog import Catalog
from sizing.specs import Efficiency, Execution, Gpu, ModelSpec, Parallelism, SizingError, System
from sizing.units import GIB

MEASURED = Path(
    os.environ.get("SIZING_MEASURED", Path(__file__).resolve().parents[2] / "shared/reference/measured.csv")
)
# metrics this estimator answers; training rows wait for the training estimator
METRICS = (
    "peak_memory",
    "oom",
    "decode_tokens_per_s",
    "prefill_tokens_per_s",
    "e2e_tokens_per_s",
    "output_tokens_per_s",
    "time_to_first_token_s",
)
GPT_FAST_NEW_TOKENS = 200  # gpt-fast generate.py default max_new_tokens
TRT_MAX_BATCH = 2048  # TensorRT-LLM default max_batch_size, for rows whose batch is "max load"
# the engine release a source measured (data/engine_mechanics.csv picks its defaults): xiongjie-llama3-2024 ran a
# llama-bench build of about May 2024 (its notes), after b2771 (2024-04-30) and before b3268 (2024-07-01): every
# build in that range splits by layer with flash attention off; trtllm-v061 names TensorRT-LLM v0.6.1 (its C++
# runtime), trtllm-v1 the v1.0-era PyTorch backend (their sources in measured.csv); sglang-dsv3-v041
# (measured_extra.csv) names SGLang v0.4.1
ENGINE_RELEASE = {
    "xiongjie-llama3-2024": "b3000",
    "trtllm-v061": "0.6.1",
    "trtllm-v1": "1.0",
    "sglang-dsv3-v041": "0.4.1",
}


@dataclass(frozen=True)
class Case:
    row_id: str
    family: str
    metric: str
    value: float
    trust: str
    model: ModelSpec
    gpu: Gpu
    execution: Execution
    system: System
    per_gpu: bool  # throughput reported per GPU
    basis: str


def load_cases(catalog: Catalog, path: Path = MEASURED) -> tuple[list[Case], list[str]]:
    """Every row the inference estimator can answer, resolved; plus one line per row it skipped and why."""
    frame = pd.read_csv(path)
    cases, skipped = [], []
    for row in frame.itertuples(index=False):
        if row.metric not in METRICS or row.task != "inference" or not isinstance(row.gpu, str):
            skipped.append(f"{row.row_id}: {row.metric} ({row.task}) not an inference estimate")
            continue
        try:
            precision = catalog.precision(row.precision)
            release = ENGINE_RELEASE.get(row.source_key)
            engine = catalog.engine(f"{row.engine}@{release}" if release else row.engine)
            kv = catalog.precision(
                row.kv_precision if isinstance(row.kv_precision, str) else engine.default_kv_precision
            )
            model = modelspec.resolve(row.model, catalog)
            gpu = catalog.gpu(row.gpu)
        except SizingError as exc:
            skipped.append(f"{row.row_id}: {exc}")
            continue
        prompt = 0 if math.isnan(row.prompt_tokens) else int(row.prompt_tokens)
        if row.engine == "gpt-fast":
            new = GPT_FAST_NEW_TOKENS
        elif row.metric == "time_to_first_token_s":
            new = 1
        else:
            new = 0 if math.isnan(row.new_tokens) else int(row.new_tokens)
        n_gpus = int(row.n_gpus)
        batch = 1 if math.isnan(row.batch) else int(row.batch)
        execution = Execution(
            engine=engine,
            precision=precision,
            kv_precision=kv,
            batch=batch,
            prompt_tokens=prompt,
            new_tokens=new,
            parallelism=Parallelism.for_engine(engine, n_gpus),
        )
        system = System.of(gpu, n_gpus)
        if math.isnan(row.batch) and row.metric == "output_tokens_per_s":  # max-load rows: the batch that fits
            mem = est.memory(model, execution, system)
            execution = execution.model_copy(update={"batch": max(1, min(TRT_MAX_BATCH, mem.max_batch_at_context))})
        cases.append(
            Case(
                row.row_id,
                row.source_key,
                row.metric,
                float(row.value),
                row.trust,
                model,
                gpu,
                execution,
                system,
                row.unit == "tokens/s per GPU",
                row.memory_basis if isinstance(row.memory_basis, str) else "",
            )
        )
    return cases, skipped


def predict(case: Case, eff: Efficiency) -> float:
    """The estimator's figure for the row's metric."""
    x = case.execution
    if case.metric in ("peak_memory", "oom"):
        mem = est.memory(case.model, x, case.system)
        if case.metric == "oom":
            return 0.0 if mem.fits else 1.0
        counter = mem.allocated_per_gpu_bytes if case.basis.startswith("allocated") else mem.per_gpu_bytes
        return counter / GIB
    if case.metric == "prefill_tokens_per_s":
        t = est.prefill(case.model, x, case.system, eff).total_s
        return x.batch * x.prompt_tokens / t
    s, _, _ = est.speed(case.model, x, case.system, eff)
    if case.metric in ("decode_tokens_per_s", "e2e_tokens_per_s", "time_to_first_token_s"):
        return float(getattr(s, case.metric))
    total = s.e2e_tokens_per_s * x.batch  # output_tokens_per_s: generated tokens over wall time, whole batch
    return total / case.system.n_gpus if case.per_gpu else total
