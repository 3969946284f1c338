"""Rendering training estimates: the text summary and the JSON keys a training estimate adds (README.md)."""

from __future__ import annotations

from sizing.specs import Estimate
from sizing.units import fmt_bytes, fmt_count, fmt_decimal_bytes, fmt_rate, fmt_seconds

from .say import has, resay, say


def rounded(values: dict, digits: int = 4) -> dict:
    """Floats rounded for output, everything else as it is."""
    return {
        k: (round(v, digits) if isinstance(v, float) else rounded(v, digits) if isinstance(v, dict) else v)
        for k, v in values.items()
    }


def training_text(e: Estimate, lang: str = "en") -> str:
    """A training estimate for a person: the set-up, memory per GPU by part, host RAM, step time and run time."""
    m, x, tr = e.memory, e.execution, e.training
    t = x.training
    assert tr is not None and t is not None
    b = m.breakdown
    verdict = say(lang, "term.fits" if e.fits else "term.does_not_fit")
    lora = x.task in ("lora", "qlora")
    base = say(lang, "term.train.base" if lora else "term.train.weights", precision=x.precision.id)
    setup = [
        base,
        say(lang, "term.train.trainable", n=fmt_count(tr.trainable_params, lang)),
        say(lang, "term.train.lora", rank=t.lora_rank, targets=t.lora_targets) if lora else "",
        say(lang, "term.train.optimizer", optimizer=t.optimizer),
        say(lang, "term.train.master") if t.master_weights else "",
        say(lang, "term.train.recompute", recompute=t.recompute, sharding=t.sharding),
        say(lang, "term.train.offload", offload=t.offload) if t.offload != "none" else "",
    ]
    lines = [
        say(
            lang,
            "term.train.head",
            model=e.model.name,
            params=fmt_count(e.model.n_params, lang),
            task=x.task,
            n=e.system.n_gpus_total,
            gpu=e.system.gpu.name,
            trainer=t.trainer.name,
        ),
        "  " + "".join(setup),
        "  " + say(lang, "term.train.micro", batch=x.batch, tokens=x.prompt_tokens, accum=t.grad_accum),
        "",
        say(
            lang,
            "term.estimate.memory",
            used=fmt_bytes(m.per_gpu_bytes),
            capacity=fmt_bytes(m.gpu_memory_bytes),
            verdict=verdict,
        ),
        "  "
        + say(
            lang,
            "term.train.breakdown",
            weights=fmt_bytes(b.weights_bytes),
            gradients=fmt_bytes(b.gradients_bytes),
            optimizer=fmt_bytes(b.optimizer_bytes),
            activations=fmt_bytes(b.activations_bytes),
            overhead=fmt_bytes(b.overhead_bytes),
        ),
        "  "
        + say(
            lang,
            "term.train.allocator",
            peak=fmt_bytes(m.allocated_per_gpu_bytes),
            n=m.max_batch_at_context,
            host=fmt_bytes(tr.host_bytes),
        ),
        "",
        say(
            lang,
            "term.train.speed",
            rate=fmt_rate(tr.train_tokens_per_s),
            bound=say(lang, f"term.bound.{tr.bound}") if has(lang, f"term.bound.{tr.bound}") else tr.bound,
            step=fmt_seconds(tr.step_s),
            compute=fmt_seconds(tr.compute_s),
            comm=fmt_seconds(tr.comm_s),
            offload=fmt_seconds(tr.offload_s),
            mfu=f"{tr.model_flops_utilization:.0%}",
        ),
        "  "
        + say(
            lang,
            "term.train.checkpoint",
            weights=fmt_decimal_bytes(tr.checkpoint_bytes),
            full=fmt_decimal_bytes(tr.resumable_checkpoint_bytes),
        ),
    ]
    if tr.total_s is not None:
        lines.append(
            "  "
            + say(
                lang,
                "term.train.run",
                tokens=fmt_count(t.tokens or 0, lang),
                epochs=f"{t.epochs:g}",
                total=fmt_seconds(tr.total_s),
                gpu_hours=f"{tr.gpu_hours:,.1f}",
            )
        )
    lines += checkpoint_lines(e, lang)
    lines += [say(lang, "term.note", note=resay(lang, note)) for note in e.notes]
    return "\n".join(lines)


def checkpoint_lines(e: Estimate, lang: str = "en") -> list[str]:
    """The run's checkpoint saves and, with --deadline, whether the run meets it."""
    tr = e.training
    assert tr is not None
    out: list[str] = []
    ck = tr.checkpoint
    if ck is not None:
        how = say(lang, "term.ckpt.async" if ck.asynchronous else "term.ckpt.sync")
        out.append(
            "  "
            + say(
                lang,
                "term.ckpt",
                every=fmt_seconds(ck.every_s),
                steps=f"{ck.every_steps:,.0f}",
                drive=resay(lang, ck.drive),
                size=fmt_decimal_bytes(ck.bytes_per_node),
                write=fmt_seconds(ck.write_s),
                how=how,
            )
            + (say(lang, "term.ckpt.saves", n=ck.n_saves, added=fmt_seconds(ck.added_s)) if ck.n_saves else "")
            + say(lang, "term.ckpt.kept", kept=ck.kept, storage=fmt_decimal_bytes(ck.storage_bytes))
        )
    if tr.deadline_s is not None and tr.total_s is not None:
        verdict = say(lang, "term.deadline.meets" if tr.meets_deadline else "term.deadline.misses")
        out.append(
            "  "
            + say(
                lang,
                "term.deadline",
                deadline=fmt_seconds(tr.deadline_s),
                total=fmt_seconds(tr.total_s),
                verdict=verdict,
            )
        )
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
TIME_KEYS |= {"meets_deadline", "checkpoint", "pipeline_bubble", "context_exchange_s"}


def training_json(e: Estimate) -> dict:
    """What a training estimate adds and replaces: host RAM, trained tokens/s, the step and run time, the set-up."""
    tr, t = e.training, e.execution.training
    assert tr is not None and t is not None
    base = estimate_memory_json(e)
    return {
        "memory": {**base, "host_bytes": round(tr.host_bytes)},
        "speed": {
            "train_tokens_per_s": round(tr.train_tokens_per_s, 2),
            "useful_tokens_per_s": round(tr.useful_tokens_per_s, 2),
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
