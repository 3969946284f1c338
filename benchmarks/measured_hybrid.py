"""Shared by calibrate_hybrid.py and accuracy_hybrid.py: the rows of ../shared/reference/measured_hybrid.csv as
resolved estimator inputs (read measured_hybrid.md for what each column means), and the figure an estimate gives
for each. Every reading the file's columns leave open is written here, with its reason:

- formats the catalog lacks take their size from the source (bits = file bytes x 8 / parameters), on the nearest
  GGUF row: unsloth's dynamic UD-Q2_K_XL (212 GiB, measured_hybrid.md) and UD-IQ1_S (131 GB, unslothai/unsloth
  #1591 citing the unsloth blog), ik_llama.cpp's 'Q8_0' of issue #263 (307.20 GiB for 672.05 B = 3.93 bits);
  ktransformers V0.3's online INT8 experts run as the catalog's int8 (8 bits + scales, INT8 compute: its AMX path).
  A mixed per-tensor recipe is read as its average bits (recipes are not in this slice);
- a row without an offload: llama.cpp in the ktransformers tutorial's comparison ran on the CPU alone (read as
  offload cpu, fitted); ubergarm's llama.cpp rows (a 48 GB GPU in the box, settings not stated) are read the same
  way but left out of the fit;
- decode rows without lengths: an empty cache and 512 new tokens; the tutorial's V0.2 rows: its command's
  --max_new_tokens 1000; prefill rows need a prompt length (ubergarm's have none: not estimated);
- DIMMs not stated: every channel filled once at the CPU's top speed (a 256 GB Threadripper PRO = 8 x 32 GB);
- threads as the row's command gives them (THREADS; ktransformers --cpu_infer, llama.cpp --threads), else every
  core;
- trust low rows (NVMe-bound, unknown machine) are reported, never fitted.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sizing import estimate as est
from sizing import hybrid, scenarios
from sizing.catalog import Catalog
from sizing.specs import (
    CpuEfficiency,
    Efficiency,
    Estimate,
    Execution,
    ModelSpec,
    Request,
    SizingError,
    System,
)
from sizing.units import GIB

MEASURED_HYBRID = Path(
    os.environ.get(
        "SIZING_MEASURED_HYBRID", Path(__file__).resolve().parents[2] / "shared/reference/measured_hybrid.csv"
    )
)
# precision as written -> (catalog row it stands on, file bytes or None for the catalog's own bits); used only where
# data/quant_recipes.csv has no per-tensor recipe of that id (a data folder from before the recipes)
STAND_INS = {
    "ud-q2_k_xl": ("q2_k", 212 * GIB),
    "ud-iq1_s": ("q2_k", 131e9),
}
# formats the engine's row does not list: resolved on a format it runs, then run as the catalog row named
RUN_AS = {"int8": ("bf16", "int8")}  # ktransformers V0.3: BF16 checkpoint, INT8 experts quantised online (AMX)
THREADS = {  # source_key -> compute threads the row's command gives, where fewer than the cores
    "ubergarm-guide": 16,  # --cpu_infer 16 on the 24-core 7965WX (the guide's server command)
    "llamacpp-11474": 16,  # --threads 16 on the 64-core EPYC 7713
    "ikllama-pr259": 64,  # --threads 64 on the 128-core 6980P (numactl -N 0)
}
FILE_BYTES = {"ikllama-263": 307.20 * GIB}  # source_key -> file size where the named format is not the file's
NO_OFFLOAD = {  # row_id prefix -> (offload read, fitted?)
    "kt-tutorial-05": ("cpu", True),
    "kt-tutorial-06": ("cpu", True),
    "ubergarm-guide-03": ("cpu", False),
    "ubergarm-guide-04": ("cpu", False),
}
NEW_TOKENS = {"kt-tutorial": 1000}  # source_key -> new tokens where a decode row states none
DEFAULT_NEW = 512


@dataclass(frozen=True)
class HybridCase:
    row_id: str
    source_key: str
    engine: str
    metric: str
    value: float
    trust: str
    fit: bool
    model: ModelSpec
    execution: Execution
    system: System
    eff: Efficiency
    reading: str  # what was read into the row beyond its columns


def _cell(row, name: str):
    value = getattr(row, name)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _request(row, recipes: frozenset[str] = frozenset()) -> tuple[Request, str, bool]:
    """The row as a request, what had to be read into it, and whether it may be fitted. A format with a per-tensor
    recipe in the catalog (`recipes`) runs as that recipe, not as a stand-in."""
    notes, fit = [], row.trust != "low"
    offload = _cell(row, "offload")
    if offload is None and row.row_id in NO_OFFLOAD:
        offload, fit_ok = NO_OFFLOAD[row.row_id]
        fit = fit and fit_ok
        notes.append("offload not stated: read as cpu")
    n_gpus = _cell(row, "n_gpus")
    n_gpus = 0 if offload == "cpu" else int(n_gpus) if n_gpus is not None else 1
    prompt, new = _cell(row, "prompt_tokens"), _cell(row, "new_tokens")
    if row.metric == "prefill_tokens_per_s":
        if prompt is None:
            raise SizingError("a prefill row without a prompt length")
        new = 1
    else:
        prompt = prompt or 0
        new = new or NEW_TOKENS.get(row.source_key, DEFAULT_NEW)
    precision = row.precision
    if row.precision not in recipes:
        precision = STAND_INS.get(row.precision, RUN_AS.get(row.precision, (row.precision, None)))[0]
    n_dimms = _cell(row, "n_dimms")
    if n_dimms is None and _cell(row, "cpu"):
        notes.append("DIMMs not stated: every channel filled at the CPU's top speed")
    req = Request(
        model=row.model,
        engine=row.engine,
        precision=precision,
        gpu=_cell(row, "gpu") or "rtx-4090",
        n_gpus=n_gpus,
        batch=1,
        prompt_tokens=int(prompt),
        new_tokens=int(new),
        cpu=_cell(row, "cpu"),
        n_sockets=int(_cell(row, "n_sockets") or 1) if _cell(row, "cpu") else None,
        memory=_cell(row, "memory"),
        n_dimms=int(n_dimms) if n_dimms is not None else None,
        offload=offload,
        gpu_layers=int(row.gpu_layers) if offload == "layers" and _cell(row, "gpu_layers") else None,
        threads=THREADS.get(row.source_key) if _cell(row, "cpu") else None,
    )
    return req, "; ".join(notes), fit


def _precision_bits(catalog: Catalog, row, model: ModelSpec, x: Execution) -> tuple[Execution, str]:
    """The run's format with the bits the source's file size gives, where the named format is not the file's."""
    if row.precision in RUN_AS:
        return x.model_copy(update={"precision": catalog.precision(RUN_AS[row.precision][1])}), (
            f"{row.precision} experts run as the catalog's {RUN_AS[row.precision][1]}"
        )
    if row.precision in catalog.recipes:
        return x, f"{row.precision} as its per-tensor recipe (data/quant_recipes.csv)"
    size = FILE_BYTES.get(row.source_key) or STAND_INS.get(row.precision, (None, None))[1]
    if size is None:
        return x, ""
    bits = size * 8 / model.n_params
    p = x.precision.model_copy(update={"id": row.precision, "weight_bits": bits, "embed_bits": bits})
    return x.model_copy(update={"precision": p}), f"{row.precision} read as {bits:.2f} bits from its file size"


def load_hybrid_cases(catalog: Catalog, path: Path = MEASURED_HYBRID) -> tuple[list[HybridCase], list[str]]:
    """Every row the estimator can place, resolved; plus one line per row it could not and why."""
    cases, skipped = [], []
    for row in pd.read_csv(path).itertuples(index=False):
        try:
            req, reading, fit = _request(row, frozenset(catalog.recipes))
            model, x, system, eff = hybrid.resolve(catalog, req, scenarios.resolve_execution)
            x, bits = _precision_bits(catalog, row, model, x)
        except SizingError as exc:
            skipped.append(f"{row.row_id}: {exc}")
            continue
        readings = "; ".join(r for r in (reading, bits) if r)
        cases.append(
            HybridCase(
                row.row_id,
                row.source_key,
                row.engine,
                row.metric,
                float(row.value),
                row.trust,
                fit,
                model,
                x,
                system,
                eff,
                readings,
            )
        )
    return cases, skipped


def with_cpu_eff(case: HybridCase, cpu_eff: CpuEfficiency) -> HybridCase:
    """The case with other CPU factors (GPU-only rows have none to change)."""
    x = case.execution
    if x.hybrid is None:
        return case
    setup = x.hybrid.model_copy(update={"cpu_eff": cpu_eff})
    return HybridCase(**{**case.__dict__, "execution": x.model_copy(update={"hybrid": setup})})


def predict(case: HybridCase) -> float:
    """The estimate's figure for the row's metric."""
    e: Estimate = est.estimate(case.model, case.execution, case.system, case.eff)
    assert e.speed is not None
    return e.speed.decode_tokens_per_s if case.metric == "decode_tokens_per_s" else e.speed.prefill_tokens_per_s
