"""Rendering training estimates: the text summary and the JSON keys a training estimate adds (README.md)."""

from __future__ import annotations

from sizing.specs import Estimate
from sizing.units import fmt_bytes, fmt_count, fmt_decimal_bytes, fmt_rate, fmt_seconds


def rounded(values: dict, digits: int = 4) -> dict:
    """Floats rounded for output, everything else as it is."""
    return {
        k: (round(v, digits) if isinstance(v, float) else rounded(v, digits) if isinstance(v, dict) else v)
        for k, v in values.items()
    }


def training_text(e: Estimate) -> str:
    """A training estimate for a person: the set-up, memory per GPU by part, host RAM, step time and run time."""
    m, x, tr = e.memory, e.execution, e.training
    t = x.training
    assert tr is not None and t is not None
    b = m.breakdown
    verdict = "fits" if e.fits else "DOES NOT FIT"
    base = f"{x.precision.id} base" if x.task in ("lora", "qlora") else f"{x.precision.id} weights"
    lines = [
        f"{e.model.name} ({fmt_count(e.model.n_params)} params) {x.task} on {e.system.n_gpus_total} x "
        f"{e.system.gpu.name} with {t.trainer.name}",
        f"  {base}, {fmt_count(tr.trainable_params)} trainable"
        + (f" (LoRA rank {t.lora_rank} on {t.lora_targets})" if x.task in ("lora", "qlora") else "")
        + f", {t.optimizer}{' + fp32 master weights' if t.master_weights else ''}, recompute {t.recompute}, "
        f"sharding {t.sharding}{f', offload {t.offload}' if t.offload != 'none' else ''}",
        f"  micro-batch {x.batch} x {x.prompt_tokens} tokens per GPU, {t.grad_accum} micro-batch(es) per step",
        "",
        f"Memory per GPU: {fmt_bytes(m.per_gpu_bytes)} of {fmt_bytes(m.gpu_memory_bytes)} -> {verdict}",
        f"  weights {fmt_bytes(b.weights_bytes)} | gradients {fmt_bytes(b.gradients_bytes)} | optimizer "
        f"{fmt_bytes(b.optimizer_bytes)} | activations + loss {fmt_bytes(b.activations_bytes)} | overhead "
        f"{fmt_bytes(b.overhead_bytes)}",
        f"  allocator peak {fmt_bytes(m.allocated_per_gpu_bytes)}; micro-batches of this length that fit: "
        f"{m.max_batch_at_context}; host RAM for offloaded state {fmt_bytes(tr.host_bytes)}",
        "",
        f"Speed: {fmt_rate(tr.train_tokens_per_s)} trained over all GPUs ({tr.bound}-bound), step "
        f"{fmt_seconds(tr.step_s)} (compute {fmt_seconds(tr.compute_s)}, collectives {fmt_seconds(tr.comm_s)}, "
        f"offload {fmt_seconds(tr.offload_s)}), {tr.model_flops_utilization:.0%} of dense peak",
        f"  checkpoint {fmt_decimal_bytes(tr.checkpoint_bytes)} (weights), "
        f"{fmt_decimal_bytes(tr.resumable_checkpoint_bytes)} with optimizer state",
    ]
    if tr.total_s is not None:
        lines.append(
            f"  {fmt_count(t.tokens or 0)} tokens x {t.epochs:g} epoch(s): {fmt_seconds(tr.total_s)} with checkpoint "
            "saves, "
            f"{tr.gpu_hours:,.1f} GPU-hours"
        )
    lines += checkpoint_lines(e)
    lines += [f"Note: {note}" for note in e.notes]
    return "\n".join(lines)


def checkpoint_lines(e: Estimate) -> list[str]:
    """The run's checkpoint saves and, with --deadline, whether the run meets it."""
    tr = e.training
    assert tr is not None
    out: list[str] = []
    ck = tr.checkpoint
    if ck is not None:
        how = "in the background" if ck.asynchronous else "synchronously"
        out.append(
            f"  saves every {fmt_seconds(ck.every_s)} ({ck.every_steps:,.0f} steps) to {ck.drive}: "
            f"{fmt_decimal_bytes(ck.bytes_per_node)} per node in {fmt_seconds(ck.write_s)}, written {how}"
            + (f"; {ck.n_saves} saves add {fmt_seconds(ck.added_s)}" if ck.n_saves else "")
            + f"; {ck.kept} kept take {fmt_decimal_bytes(ck.storage_bytes)} per node"
        )
    if tr.deadline_s is not None and tr.total_s is not None:
        verdict = "meets" if tr.meets_deadline else "MISSES"
        out.append(f"  deadline {fmt_seconds(tr.deadline_s)}: the run takes {fmt_seconds(tr.total_s)} -> {verdict} it")
    return out


def estimate_memory_json(e: Estimate) -> dict:
    m = e.memory
    return {
        "per_gpu_bytes": round(m.per_gpu_bytes),
        "need_per_gpu_bytes": round(m.need_per_gpu_bytes),
        "allocated_per_gpu_bytes": round(m.allocated_per_gpu_bytes),
        "gpu_memory_bytes": round(m.gpu_memory_bytes),
        "kv_bytes_per_token": round(m.kv_bytes_per_token),
        "max_batch_at_context": m.max_batch_at_context,
        "breakdown": {k: round(v) for k, v in m.breakdown.model_dump().items()},
    }


TIME_KEYS = {"step_s", "compute_s", "comm_s", "offload_s", "total_s", "gpu_hours", "train_s", "deadline_s"}
TIME_KEYS |= {"meets_deadline", "checkpoint"}


def training_json(e: Estimate) -> dict:
    """What a training estimate adds and replaces: host RAM, trained tokens/s, the step and run time, the set-up."""
    tr, t = e.training, e.execution.training
    assert tr is not None and t is not None
    base = estimate_memory_json(e)
    return {
        "memory": {**base, "host_bytes": round(tr.host_bytes)},
        "speed": {
            "train_tokens_per_s": round(tr.train_tokens_per_s, 2),
            "model_flops_utilization": round(tr.model_flops_utilization, 4),
            "bound": tr.bound,
        },
        "time": rounded(tr.model_dump(include=TIME_KEYS), 6),
        "training": {
            **rounded(tr.model_dump(exclude=TIME_KEYS)),
            "trainer": t.trainer.id,
            "setup": t.model_dump(exclude={"trainer"}),
            "factors": t.trainer.model_dump(include={"mfu", "qlora_eff", "overlap", "fragmentation", "provenance"}),
        },
    }
