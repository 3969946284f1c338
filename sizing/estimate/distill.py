"""Distillation phases from the inference and training estimates (sizing.specs.distill for the modes).

Storage of offline soft labels = tokens x k x (value + id bytes) per position (top-k log-probabilities as fp16, token
ids as uint16 where the vocabulary fits 65,536 ids, else int32). The teacher pass is a prefill over every training
token with the logits of every position kept (vLLM prompt_logprobs), the student phase a training run whose loss
(KL to the stored top-k, TRL/DistillKit chunked) costs what cross-entropy costs: one log-softmax over the full
vocabulary and its gradient. Online distillation adds, in every step, the teacher's weights (no gradients or
optimizer), its forward pass and its full-vocabulary logits for the micro-batch.
"""

from __future__ import annotations

import math

from sizing.specs import (
    DistillSetup,
    Efficiency,
    Execution,
    MemoryBreakdown,
    ModelSpec,
    Phase,
    System,
)

from . import shapes
from .tasks import estimate as any_estimate
from .train_memory import ACT, FP32, split
from .training import EAGER_SLOWDOWN

VALUE_BYTES = 2  # fp16 log-probability
UINT16_IDS = 65_536


def label_bytes(tokens: float, top_k: int, vocab_size: int) -> float:
    """Bytes of stored top-k soft labels: one (value, id) pair per kept entry per position."""
    id_bytes = 2 if vocab_size <= UINT16_IDS else 4
    return tokens * top_k * (VALUE_BYTES + id_bytes)


def teacher_execution(execution: Execution, seq_len: int) -> Execution:
    """The teacher pass: prefill-only over `seq_len`-token sequences with every position's logits computed
    (prompt log-probabilities), no generated tokens."""
    engine = execution.engine.model_copy(update={"all_prompt_logits": True})
    return execution.model_copy(update={"engine": engine, "prompt_tokens": seq_len, "new_tokens": 0})


def _write_rate(storage: float, time_s: float) -> float:
    return storage / time_s if time_s > 0 else 0.0


def teacher_labels(
    teacher: ModelSpec, execution: Execution, system: System, eff: Efficiency, setup: DistillSetup
) -> Phase:
    """Phase 1 of offline distillation: the teacher's forward pass over every token, top-k stored."""
    e = any_estimate(teacher, execution, system, eff)
    assert e.speed is not None
    rate = max(e.speed.prefill_tokens_per_s, 1e-9)
    storage = label_bytes(setup.tokens, setup.top_k, teacher.vocab_size)
    time_s = setup.tokens / rate
    return Phase(
        name="teacher-labels",
        task="inference",
        model=teacher.id,
        estimate=e,
        tokens=setup.tokens,
        time_s=time_s,
        storage_bytes=storage,
        write_bytes_s=_write_rate(storage, time_s),
    )


def teacher_generation(
    teacher: ModelSpec, execution: Execution, system: System, eff: Efficiency, setup: DistillSetup
) -> Phase:
    """Sequence-level distillation's phase 1: the teacher writes `samples` responses of `response_tokens`, `batch`
    at a time (each batch: its prefill, then decode while the cache grows); the text is stored as token ids."""
    e = any_estimate(teacher, execution, system, eff)
    assert e.speed is not None and setup.samples and setup.response_tokens
    per_batch_s = execution.new_tokens / max(e.speed.e2e_tokens_per_s, 1e-9)
    time_s = math.ceil(setup.samples / execution.batch) * per_batch_s
    generated = setup.samples * setup.response_tokens
    storage = setup.samples * execution.context_tokens * 4  # prompt + response ids, int32
    return Phase(
        name="teacher-generation",
        task="inference",
        model=teacher.id,
        estimate=e,
        tokens=generated,
        time_s=time_s,
        storage_bytes=storage,
        write_bytes_s=_write_rate(storage, time_s),
    )


def student_training(student: ModelSpec, execution: Execution, system: System, eff: Efficiency, tokens: float) -> Phase:
    """The student trains on `tokens` (x epochs inside the execution's training set-up)."""
    e = any_estimate(student, execution, system, eff)
    assert e.training is not None and execution.training is not None
    total = tokens * execution.training.epochs
    return Phase(
        name="student-training",
        task=execution.task,
        model=student.id,
        estimate=e,
        tokens=total,
        time_s=total / e.training.train_tokens_per_s,
    )


def online(
    student: ModelSpec,
    execution: Execution,
    system: System,
    eff: Efficiency,
    teacher: tuple[ModelSpec, Execution],
    tokens: float,
) -> Phase:
    """Online distillation: the student's training step plus, on the same GPUs, the teacher's weights (sharded as the
    student's under ZeRO-3, else a full copy per GPU), one layer's live forward tensors and the micro-batch's
    full-vocabulary logits (bf16 and the fp32 softmax the KL reads), and the teacher's forward FLOPs per token."""
    t_model, t_x = teacher
    base = student_training(student, execution, system, eff, tokens)
    e, t = base.estimate, execution.training
    assert e.training is not None and t is not None
    sp = split(student, execution)
    t_weights = shapes.model_file_bytes(t_model, t_x.precision) * (sp.weights if t.sharding == "zero3" else 1.0)
    seq_tokens = execution.batch * execution.prompt_tokens
    t_logits = seq_tokens * t_model.vocab_size * (ACT + FP32)
    t_act = seq_tokens * ACT * (2 * t_model.hidden_size + shapes.ffn_width_per_token(t_model))
    extra = t_weights + t_logits + t_act
    m = e.memory
    grown = m.allocated_per_gpu_bytes + extra
    overhead = t.trainer.context_bytes + t.trainer.fragmentation * grown
    need = grown + overhead
    breakdown = MemoryBreakdown(
        **{
            **m.breakdown.model_dump(),
            "weights_bytes": m.breakdown.weights_bytes + t_weights,
            "activations_bytes": m.breakdown.activations_bytes + t_logits + t_act,
            "overhead_bytes": overhead,
        }
    )
    memory = m.model_copy(
        update={
            "per_gpu_bytes": breakdown.total_bytes,
            "need_per_gpu_bytes": need,
            "allocated_per_gpu_bytes": grown,
            "fits": need <= m.usable_per_gpu_bytes,
            "breakdown": breakdown,
        }
    )
    # Teacher forward: 2 FLOPs per active weight per token plus causal attention (shapes), at the trainer's rate
    f_teacher = 2 * shapes.active_matmul_params(t_model) + shapes.prefill_attention_flops(
        t_model, execution.prompt_tokens, latent=False
    ) / max(1, execution.prompt_tokens)
    achieved = system.gpu.peak_flops("bf16") * t.trainer.mfu / (1.0 if t.fused_elementwise else EAGER_SLOWDOWN)
    extra_s = seq_tokens * t.grad_accum * f_teacher / achieved
    tr = e.training
    step = tr.step_s + extra_s
    rate = tr.tokens_per_step / step
    total = tokens * t.epochs
    train = tr.model_copy(
        update={
            "step_s": step,
            "compute_s": tr.compute_s + extra_s,
            "train_tokens_per_s": rate,
            "total_s": total / rate,
            "gpu_hours": total / rate * system.n_gpus_total / 3600,
        }
    )
    notes = (*e.notes, f"online distillation: the teacher {t_model.name} runs beside the student in every step")
    combined = e.model_copy(
        update={"memory": memory, "training": train, "fits": e.fits and memory.fits, "notes": notes}
    )
    return Phase(
        name="online", task=execution.task, model=student.id, estimate=combined, tokens=total, time_s=total / rate
    )


def fits(phases: tuple[Phase, ...]) -> bool:
    return all(p.estimate.fits for p in phases)
