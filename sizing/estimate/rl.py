"""One RL / preference fine-tuning step (sizing.specs.rl): the memory of every role on the GPUs it shares, and the
time of rollout, scoring, update and weight sync, from the inference and training estimates.

Colocated (verl hybrid engine, TRL vllm colocate): the policy's training state, the frozen reference and reward
weights stay resident (ZeRO-3 sharded over all GPUs); the rollout engine's weights (tensor parallel over the GPUs)
and its KV cache exist during rollout, the training activations during the update (the engine frees its cache
between phases: verl free_cache_engine, vLLM sleep mode). Disaggregated: the rollout engine has GPUs of its own and
the training roles the others; the policy's weights are broadcast to the engine every step.

Host offload (RLSetup.offload): offloaded frozen models keep their (sharded) weights in pinned host RAM and stream
them to the GPUs a wrapped layer at a time for each scoring forward (verl wraps its ref and reward workers in FSDP
CPUOffload(offload_params=True) / FSDP2 CPUOffloadPolicy(pin_memory=True), verl/workers/fsdp_workers.py; OpenRLHF
--ref_reward_offload sets DeepSpeed ZeRO-3 offload_param device cpu with pin_memory, openrlhf/utils/deepspeed);
an offloaded optimizer is the training estimate's (train_memory: ZeRO-Offload keeps the states on the CPU).
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
from .train_memory import FSDP_PREFETCH_LAYERS, layer_params
from .training import EAGER_SLOWDOWN, host_link_bytes_s

LORA_TASKS = frozenset({"lora", "qlora"})  # a frozen base under trained adapters

# Tokens per GPU in one scoring forward: verl's log_prob_max_token_len_per_gpu inherits the actor's
# ppo_max_token_len_per_gpu, 16384 by default (verl/trainer/config/ppo_trainer.yaml, with use_dynamic_bsz). An
# offloaded frozen model streams its whole shard to the GPU once per forward call (FSDP CPUOffload copies each unit's
# sharded parameters host -> GPU before it runs), so a step copies it once per such micro-batch.
LOG_PROB_TOKENS_PER_GPU = 16384


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


def streamed_bytes(model: ModelSpec) -> float:
    """An offloaded frozen model on each GPU while it runs: the wrapped layers FSDP has gathered (the running one and
    the prefetched next, bf16), the rest stays in host RAM."""
    return FSDP_PREFETCH_LAYERS * layer_params(model) * 2.0


class TrainingSide(NamedTuple):
    """The training roles on the training GPUs: their roles, the update's peak, what stays between updates, the
    scoring forwards' peak and the host RAM per node the offloaded states take."""

    update: Estimate
    roles: list[Role]
    update_peak: float
    resident: float
    scoring_peak: float = 0.0
    host_bytes: float = 0.0
    host_frozen_per_gpu: float = 0.0  # the offloaded frozen weights each GPU streams in per scoring forward


def training_side(work: RLWork, system: System) -> TrainingSide:
    """The policy's training estimate at prompt + response tokens, the frozen reference and reward model, and for
    PPO a critic as large as the policy that trains too (Ouyang et al. 2022 initialise it from the reward model).
    Offloaded frozen models take host RAM (their per-GPU share on every GPU of the node) and a streamed window on
    the GPUs while they score; an offloaded optimizer takes what the training estimate puts in host RAM, per copy."""
    s, policy, n = work.setup, work.policy, system.n_gpus_total
    tx = work.train.model_copy(update={"prompt_tokens": s.sequence_tokens}).on_gpus(system.n_gpus, system.n_nodes)
    update = training.estimate(policy, tx, system, work.rollout_eff)
    mem = update.memory
    # A LoRA policy is its own reference: the frozen base with the adapters disabled, no second copy (verl
    # ray_trainer.py: ref_in_actor = model.lora_rank > 0, "the reference policy will be actor without lora applied";
    # TRL GRPOTrainer/DPOTrainer with a peft_config keep no ref_model and score under model.disable_adapter()).
    in_actor = s.kl and work.train.task in LORA_TASKS
    frozen = [
        (name, m, frozen_bytes(m, work, n))
        for name, m in (("reference", policy if s.kl and not in_actor else None), ("reward", work.reward))
        if m is not None
    ]
    copies = 2 if s.algo == "ppo" else 1  # PPO: the critic's training state beside the policy's
    opt_host = update.training.host_bytes if update.training else 0.0  # per node, one trainer's

    def trainer(name: str) -> Role:  # the policy, and PPO's critic beside it: the same training state
        return Role(
            name=name, model=policy.id, trains=True, gpus="shared", per_gpu_bytes=mem.per_gpu_bytes, host_bytes=opt_host
        )

    roles = [trainer("policy")]
    if in_actor:
        roles.append(
            Role(
                name="reference",
                model=policy.id,
                trains=False,
                gpus="shared",
                per_gpu_bytes=0.0,
                note="the policy's frozen base with its LoRA adapters disabled: no copy of its own",
            )
        )
    on_gpu = 0.0
    window = 0.0
    for name, m, share in frozen:
        if s.frozen_on_host:
            streamed = min(share, streamed_bytes(m))
            window = max(window, streamed)  # the frozen forwards run one after another
            role = Role(
                name=name,
                model=m.id,
                trains=False,
                gpus="shared",
                per_gpu_bytes=streamed,
                lives="host",
                host_bytes=share * system.n_gpus,
            )
        else:
            on_gpu += share
            role = Role(name=name, model=m.id, trains=False, gpus="shared", per_gpu_bytes=share)
        roles.append(role)
    if copies == 2:
        roles.append(trainer("critic"))
    # between updates the gradients and activations are freed (zero_grad(set_to_none)); weights, optimizer state and
    # the frozen models kept on the GPUs stay
    b = mem.breakdown
    resident = (b.weights_bytes + b.optimizer_bytes + b.overhead_bytes) * copies + on_gpu
    host_frozen = sum(share for _, _, share in frozen) if s.frozen_on_host else 0.0
    return TrainingSide(
        update,
        roles,
        mem.per_gpu_bytes * copies + on_gpu,
        resident,
        scoring_peak=resident + window,
        host_bytes=host_frozen * system.n_gpus + opt_host * copies,
        host_frozen_per_gpu=host_frozen,
    )


def frozen_transfer_s(work: RLWork, side: TrainingSide, system: System, tokens: float) -> float:
    """Offloaded frozen weights over each GPU's host link (PCIe, training.host_link_bytes_s), once per scoring
    forward: the step's tokens in forwards of LOG_PROB_TOKENS_PER_GPU per GPU. Not overlapped with compute."""
    if side.host_frozen_per_gpu <= 0:
        return 0.0
    passes = math.ceil(tokens / system.n_gpus_total / LOG_PROB_TOKENS_PER_GPU)
    return passes * side.host_frozen_per_gpu / host_link_bytes_s(system)


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
        offload_s=frozen_transfer_s(work, side, train_system, tokens),
        sequences=s.sequences,
        tokens=tokens,
        rollout_batch=gen.batch * gen.replicas,
    )
    colocated_peak = side.resident + gen.peak_bytes if s.placement == "colocated" and s.algo != "dpo" else 0.0
    peak = max(side.update_peak, colocated_peak, side.scoring_peak)
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
        host_bytes=side.host_bytes,
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
