"""One RL / preference fine-tuning step (sizing.specs.rl): the memory of every role on the GPUs it shares, and the
time of rollout, scoring, update and weight sync, from the inference and training estimates.

Colocated (verl hybrid engine, TRL vllm colocate): the policy's training state, the frozen reference and reward
weights stay resident (ZeRO-3 sharded over all GPUs); the rollout engine's weights (tensor parallel over the GPUs)
and its KV cache exist during rollout, the training activations during the update (the engine frees its cache
between phases: verl free_cache_engine, vLLM sleep mode). Disaggregated: the rollout engine has GPUs of its own and
the training roles the others; the policy's weights are broadcast to the engine every step.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from sizing.specs import (
    Base,
    Efficiency,
    Estimate,
    Execution,
    ModelSpec,
    RLPlan,
    RLSetup,
    RLStep,
    Role,
    System,
)

from . import inference, shapes, training
from .engines import usable_bytes
from .parallel import tp_problem
from .training import EAGER_SLOWDOWN


class RLWork(Base):
    """What one plan needs: the policy, its training and rollout executions (one GPU), the reward model, the set-up."""

    policy: ModelSpec
    train: Execution
    rollout: Execution
    rollout_eff: Efficiency
    reward: ModelSpec | None = None
    setup: RLSetup


def frozen_bytes(model: ModelSpec, work: RLWork, n_gpus: int) -> float:
    """A frozen model's bf16 weights per GPU: sharded over the training GPUs as the policy is under ZeRO-3, else a
    full copy on each."""
    t = work.train.training
    assert t is not None
    share = 1 / n_gpus if t.sharding == "zero3" and n_gpus > 1 else 1.0
    return shapes.model_file_bytes(model, work.train.precision.model_copy(update={"weight_bits": 16.0})) * share


def forward_s(model: ModelSpec, work: RLWork, system: System, tokens: float) -> float:
    """Forward passes without gradients over `tokens` (the reference's and reward model's log-probs and scores):
    2 FLOPs per active weight per token plus attention, at the trainer's achieved rate on every training GPU."""
    t = work.train.training
    assert t is not None
    seq = work.setup.sequence_tokens
    flops = 2 * shapes.active_matmul_params(model) + shapes.prefill_attention_flops(model, seq, latent=False) / seq
    rate = system.gpu.peak_flops("bf16") * t.trainer.mfu / (1.0 if t.fused_elementwise else EAGER_SLOWDOWN)
    return tokens * flops / (rate * system.n_gpus_total)


class Rollout(Base):
    """The rollout engine on its GPUs: `replicas` engines of `tp` GPUs each (verl: rollout tensor_model_parallel_size
    with data-parallel replicas over the rest), each at the batch its KV cache holds."""

    estimate: Estimate  # one replica at its batch
    tp: int
    replicas: int
    fit: int  # sequences one replica's KV cache holds in the room it has
    batch: int  # sequences one replica generates at once
    peak_bytes: float  # per GPU: the engine's weights, activations, overhead and the KV cache at that batch


def rollout(work: RLWork, system: System, room: float) -> Rollout:
    """The smallest tensor-parallel group that splits the model legally and leaves its KV cache room for a sequence
    beside what stays resident (`room` bytes per GPU), replicated over the system's GPUs; each replica generates
    its share of the step's sequences, at most what its cache holds. Memory is counted without pre-allocation: the
    room is what the training state leaves (verl sets the engine's gpu_memory_utilization to fit beside it)."""
    s = work.setup
    x1 = work.rollout.model_copy(
        update={
            "batch": 1,
            "prompt_tokens": s.prompt_tokens,
            "new_tokens": s.response_tokens,
            "engine": work.rollout.engine.model_copy(update={"gpu_memory_utilization": None}),
        }
    )
    n = system.n_gpus_total
    choice = None
    for tp in (d for d in range(1, system.n_gpus + 1) if system.n_gpus % d == 0):
        sub = system.model_copy(update={"n_gpus": tp, "n_nodes": 1})
        x = x1.on_gpus(tp, 1)
        if tp_problem(work.policy, tp):
            continue
        one = inference.memory(work.policy, x, sub)
        kv1 = one.breakdown.kv_cache_bytes
        base = one.need_per_gpu_bytes - kv1
        fit = int((room - base) // kv1) if kv1 > 0 and room > base else 0
        choice = (tp, sub, x, kv1, base, fit)
        if fit >= 1:
            break
    assert choice is not None  # tp = 1 is always legal
    tp, sub, x, kv1, base, fit = choice
    replicas = n // tp
    batch = max(1, min(math.ceil(s.sequences / replicas), fit))
    e = inference.estimate(work.policy, x.model_copy(update={"batch": batch}), sub, work.rollout_eff)
    return Rollout(estimate=e, tp=tp, replicas=replicas, fit=fit, batch=batch, peak_bytes=base + batch * kv1)


class TrainingSide(NamedTuple):
    """The training roles on the training GPUs: their roles, the update's peak and what stays between updates."""

    update: Estimate
    roles: list[Role]
    update_peak: float
    resident: float


def training_side(work: RLWork, system: System) -> TrainingSide:
    """The policy's training estimate at prompt + response tokens, the frozen reference and reward model, and for
    PPO a critic as large as the policy that trains too (Ouyang et al. 2022 initialise it from the reward model)."""
    s, policy, n = work.setup, work.policy, system.n_gpus_total
    tx = work.train.model_copy(update={"prompt_tokens": s.sequence_tokens}).on_gpus(system.n_gpus, system.n_nodes)
    update = training.estimate(policy, tx, system, work.rollout_eff)
    mem = update.memory
    ref = frozen_bytes(policy, work, n) if s.kl else 0.0
    reward = frozen_bytes(work.reward, work, n) if work.reward else 0.0
    copies = 2 if s.algo == "ppo" else 1  # PPO: the critic's training state beside the policy's
    roles = [Role(name="policy", model=policy.id, trains=True, gpus="shared", per_gpu_bytes=mem.per_gpu_bytes)]
    if s.kl:
        roles.append(Role(name="reference", model=policy.id, trains=False, gpus="shared", per_gpu_bytes=ref))
    if work.reward:
        roles.append(Role(name="reward", model=work.reward.id, trains=False, gpus="shared", per_gpu_bytes=reward))
    if copies == 2:
        roles.append(Role(name="critic", model=policy.id, trains=True, gpus="shared", per_gpu_bytes=mem.per_gpu_bytes))
    # between updates the gradients and activations are freed (zero_grad(set_to_none)); weights, optimizer state and
    # the frozen models stay
    b = mem.breakdown
    resident = (b.weights_bytes + b.optimizer_bytes + b.overhead_bytes) * copies + ref + reward
    return TrainingSide(update, roles, mem.per_gpu_bytes * copies + ref + reward, resident)


def generation(work: RLWork, side: TrainingSide, systems: tuple[System, System]) -> tuple[Rollout, float, list[Role]]:
    """The rollout engine, the step's weight-sync time and the roles with the engine placed: colocated in the room
    the resident training state leaves (the engine reads the resharded weights in place: no sync), disaggregated on
    GPUs of its own with the policy's weights broadcast over the network every step."""
    train_system, rollout_system = systems
    usable = usable_bytes(work.train.engine, train_system.gpu)
    if work.setup.placement == "colocated" or work.setup.algo == "dpo":
        gen = rollout(work, train_system, usable - side.resident)
        role = Role(name="rollout", model=work.policy.id, trains=False, gpus="shared", per_gpu_bytes=gen.peak_bytes)
        return gen, 0.0, [*side.roles, role]
    gen = rollout(work, rollout_system, usable_bytes(work.rollout.engine, rollout_system.gpu))
    sync_s = shapes.model_file_bytes(work.policy, work.rollout.precision) / rollout_system.node_link.bytes_s
    role = Role(
        name="rollout",
        model=work.policy.id,
        trains=False,
        gpus="rollout",
        per_gpu_bytes=gen.peak_bytes,
        note=f"{rollout_system.n_gpus_total} GPU(s) of its own",
    )
    return gen, sync_s, [*(r.model_copy(update={"gpus": "training"}) for r in side.roles), role]


def plan(work: RLWork, train_system: System, rollout_system: System | None = None) -> RLPlan:
    """The step on `train_system` (colocated: every role there; disaggregated: the rollout on `rollout_system`)."""
    s, policy = work.setup, work.policy
    side = training_side(work, train_system)
    rs = rollout_system or train_system
    gen, sync_s, roles = generation(work, side, (train_system, rs))
    notes: list[str] = []
    if s.algo == "dpo":
        roles = [r for r in roles if r.name != "rollout"]
        notes.append("DPO trains on stored (chosen, rejected) pairs: no rollout")
    elif s.placement == "colocated" and gen.fit < 1:
        notes.append("the rollout engine has no room for a KV cache beside the resident training state")
    tokens = s.sequences * s.sequence_tokens
    scoring = (forward_s(policy, work, train_system, tokens) if s.kl else 0.0) + (
        forward_s(work.reward, work, train_system, tokens) if work.reward else 0.0
    )
    if s.algo == "ppo":  # the old policy's log-probs and the critic's values before the update (verl recompute)
        scoring += 2 * forward_s(policy, work, train_system, tokens)
    assert side.update.training is not None
    step = RLStep(
        rollout_s=0.0 if s.algo == "dpo" else _rollout_s(gen, s),
        scoring_s=scoring,
        update_s=tokens / side.update.training.train_tokens_per_s * (2 if s.algo == "ppo" else 1),
        sync_s=sync_s,
        sequences=s.sequences,
        tokens=tokens,
        rollout_batch=gen.batch * gen.replicas,
    )
    colocated_peak = side.resident + gen.peak_bytes if s.placement == "colocated" and s.algo != "dpo" else 0.0
    peak = max(side.update_peak, colocated_peak)
    disaggregated = s.placement == "disaggregated" and s.algo != "dpo"
    generates = s.algo == "dpo" or (gen.fit >= 1 and gen.estimate.fits)
    return RLPlan(
        setup=s,
        policy=policy.id,
        gpu=train_system.gpu.id,
        n_gpus=train_system.n_gpus_total + (rs.n_gpus_total if disaggregated else 0),
        roles=tuple(roles),
        step=step,
        per_gpu_bytes=peak,
        gpu_memory_bytes=train_system.gpu.memory_bytes,
        fits=peak <= usable_bytes(work.train.engine, train_system.gpu) and side.update.fits and generates,
        update=side.update,
        rollout=gen.estimate,
        notes=(*notes, *side.update.notes),
    )


def _rollout_s(gen: Rollout, s: RLSetup) -> float:
    """Every sequence in waves of batch x replicas: each wave prefills its prompts and decodes the responses (the
    replica's end-to-end speed per sequence)."""
    assert gen.estimate.speed is not None
    waves = math.ceil(s.sequences / (gen.batch * gen.replicas))
    return waves * s.response_tokens / max(gen.estimate.speed.e2e_tokens_per_s, 1e-9)
