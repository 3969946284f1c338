"""Training rows of ../shared/reference/measured.csv as estimator inputs (shared by calibrate_training.py and
accuracy.py). Each source states its recipe in prose (measured.md, the row's notes); `recipe` turns the settings each
source documents into Training fields, by the rules written next to each source below. Nothing here reads a
measured value into the estimate."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from measured import MEASURED

from sizing import modelspec
from sizing.catalog import Catalog
from sizing.estimate import training
from sizing.estimate.train_roofline import NONGEMM_BYTES_MULT
from sizing.specs import Execution, ModelSpec, SizingError, System, Trainer, Training
from sizing.units import GIB

TRAIN_METRICS = ("peak_memory", "train_tokens_per_s", "oom")
TRAINER_OF = {  # measured.csv engine -> trainer
    "torchtune": "torchtune",
    "fsdp": "fsdp",
    "ms-swift": "ms-swift",
    "torchtitan": "torchtitan",
}
# training rows kept in this repository beside the shared file: torchtitan's docs/performance.md (each row cites it)
LOCAL_MEASURED = Path(__file__).resolve().parent / "measured_torchtitan.csv"


@dataclass(frozen=True)
class TrainCase:
    row_id: str
    family: str
    metric: str
    value: float
    trust: str
    model: ModelSpec
    execution: Execution
    system: System
    basis: str


def recipe(row, n_gpus: int) -> dict:
    """The Training settings the row's source states (measured.md; the row's notes)."""
    notes = str(row.notes).split("||")[0].lower()
    r: dict = {}
    if row.source_key == "torchtune":
        # pytorch/torchtune configs of each table's date: activation checkpointing on, bf16 weights and states
        r["recompute"] = "full"
        r["fused_elementwise"] = "compile" in notes
        r["chunked_ce"] = "seq len 2048, torch.compile" in notes  # the Llama 3.1 table (2024-09) uses chunked CE
        r["lora_targets"] = "qv" if "batch size = 4" in notes else "attention-mlp"  # Llama2 configs adapt q, v
        if "single-device full finetune" in notes:  # 8B_full_single_device.yaml: PagedAdamW8bit + optimizer_in_bwd
            r.update(optimizer="paged-adamw-8bit", optimizer_in_backward=True)
        if "pagedadamw" in notes:
            r["optimizer"] = "paged-adamw"
        if "cpu offload" in notes:
            r["offload"] = "params"
        technique = re.search(r"technique '([^']+)'", notes)
        if technique:  # the optimization-flags table: each row adds its flag to the ones above it
            name = technique.group(1)
            steps = [
                "packed",
                "compile",
                "chunked",
                "activation checkpointing",
                "fuse optimizer",
                "offloading",
                "8-bit",
            ]
            lora = name in ("lora", "qlora")
            # LoRA/QLoRA rows: every flag up to activation offloading, not the optimizer ones (the row's note)
            reached = steps.index("offloading") if lora else next(i for i, s in enumerate(steps) if s in name)
            r["fused_elementwise"] = reached >= 1
            r["chunked_ce"] = reached >= 2
            r["recompute"] = "full" if reached >= 3 else "none"
            r["optimizer_in_backward"] = reached >= 4 and not lora
            r["activation_offload"] = reached >= 5
            r["optimizer"] = "adamw-8bit" if reached >= 6 and not lora else "adamw"
    elif row.source_key == "answerai-fsdp-qlora":
        # fsdp_qlora train.py: gradient checkpointing on; FSDP full_shard unless the notes say ddp (NO_SHARD)
        r["sharding"] = "ddp" if "sharding_strategy ddp" in notes else "zero3"
        if "cpu offload" in notes:
            r["offload"] = "params"
        r["activation_offload"] = "activation offload" in notes
    elif row.source_key == "ms-swift":
        # swift sft 1.x: gradient checkpointing and flash-attn on unless stated; LoRA rank 8 on Qwen's fused c_attn;
        # gradient_accumulation_steps 16 keeps the gradients alive through every forward pass
        r["recompute"] = "none" if "gradient_checkpointing false" in notes else "full"
        r["flash_attention"] = "use_flash_attn false" not in notes
        r["lora_targets"] = "qkv"
        r["grad_accum"] = 16
    elif row.source_key == "torchtitan":
        # docs/performance.md Table 1: FSDP2 full shard, selective (op) activation checkpointing; the compiled row
        # adds torch.compile (fused elementwise kernels); the loss on the full logits (no chunked CE)
        r["sharding"] = "zero3"
        r["recompute"] = "op"
        r["fused_elementwise"] = "torch.compile" in notes
    return r


def build_case(catalog: Catalog, row, trainer: Trainer | None = None) -> TrainCase:
    model = modelspec.resolve(row.model, catalog)
    gpu = catalog.gpu(row.gpu)
    tr = trainer or catalog.trainer(TRAINER_OF[row.engine])
    n_gpus = int(row.n_gpus)
    settings = recipe(row, n_gpus)
    base = {
        "optimizer": tr.optimizer,
        "optimizer_impl": tr.optimizer_impl,
        "master_weights": tr.master_weights,
        "recompute": tr.recompute,
        "flash_attention": tr.flash_attention,
        "fused_elementwise": tr.fused_elementwise,
        "chunked_ce": tr.chunked_ce,
        "optimizer_in_backward": tr.optimizer_in_backward,
        "activation_offload": tr.activation_offload,
        "sharding": tr.default_sharding,
        "lora_rank": tr.lora_rank,
        "lora_targets": tr.lora_targets,
    }
    t = Training(trainer=tr, **{**base, **settings})
    execution = Execution(
        task=row.task,
        engine=catalog.engine("transformers"),
        precision=catalog.precision(row.precision),
        kv_precision=catalog.precision("bf16"),
        batch=1 if math.isnan(row.batch) else int(row.batch),
        prompt_tokens=int(row.seq_len),
        new_tokens=0,
        training=t,
    ).on_gpus(n_gpus)
    system = System.of(gpu, n_gpus)
    limit = re.search(r"power-limited to (\d+) w", str(row.notes).lower())
    if limit:  # the 280 W RTX 3090s of fsdp_qlora, torchtitan's 500 W H100s
        system = system.model_copy(update={"gpu_power_limit_w": float(limit.group(1))})
    basis = row.memory_basis if isinstance(row.memory_basis, str) else ""
    return TrainCase(
        row.row_id, row.source_key, row.metric, float(row.value), row.trust, model, execution, system, basis
    )


def load_training_cases(catalog: Catalog) -> tuple[list[TrainCase], list[str]]:
    """Every training row the estimator answers; rows it cannot size say why (e.g. an unpacked dataset whose sample
    lengths the source does not give)."""
    frame = pd.concat([pd.read_csv(MEASURED), pd.read_csv(LOCAL_MEASURED)], ignore_index=True)
    cases, skipped = [], []
    for row in frame.itertuples(index=False):
        if row.task == "inference" or row.metric not in TRAIN_METRICS:
            continue
        if "'baseline'" in str(row.notes).lower():
            skipped.append(f"{row.row_id}: unpacked dataset, its sample lengths are not stated")
            continue
        try:
            cases.append(build_case(catalog, row))
        except SizingError as exc:
            skipped.append(f"{row.row_id}: {exc}")
    return cases, skipped


def with_trainer(case: TrainCase, trainer: Trainer) -> TrainCase:
    """The case with other factors (calibration varies them)."""
    t = case.execution.training
    assert t is not None
    x = case.execution.model_copy(update={"training": t.model_copy(update={"trainer": trainer})})
    return TrainCase(**{**case.__dict__, "execution": x})


def predict_training(case: TrainCase, bytes_mult: float = NONGEMM_BYTES_MULT) -> float:
    """The estimator's figure for the row's metric (memory in GiB on the row's counter; tokens/s over all GPUs);
    `bytes_mult` scales the non-GEMM bytes of the step (calibrate_training.py varies it)."""
    mem = training.memory(case.model, case.execution, case.system)
    if case.metric == "oom":
        return 0.0 if mem.estimate.fits else 1.0
    if case.metric == "peak_memory":
        m = mem.estimate
        counter = m.allocated_per_gpu_bytes if case.basis.startswith("allocated") else m.allocated_per_gpu_bytes
        if case.basis.startswith("reserved") or case.basis.startswith("unknown"):
            counter = m.allocated_per_gpu_bytes * (1 + case.execution.training.trainer.fragmentation)  # type: ignore[union-attr]
        return counter / GIB
    return training.speed(case.model, case.execution, case.system, mem, bytes_mult).train_tokens_per_s
