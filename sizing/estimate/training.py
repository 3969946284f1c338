"""Training: memory (train_memory) and the time of one optimizer step from FLOPs, bytes, collectives and host traffic.

The compute of a step is a roofline of its two kinds of kernels, run one after the other:
- the matmuls: FLOPs per token (Kaplan et al. 2020 §2.1: 6N per token, forward 2N and backward 4N; Korthikanti et al.
  2022 §5: 8N with full recomputation; a frozen base skips the weight gradients, 2N of the 4N; Narayanan et al. 2021
  eq. 3 for the attention's s-dependent FLOPs): the weight matmuls at the dense peak x the trainer's GEMM
  efficiency (`mfu` in data/trainers.csv, fitted by benchmarks/calibrate_training.py), a flash attention kernel at
  its own share of the peak on the GPU's architecture (FLASH_ATTENTION_EFF);
- everything else (norms, rotary, activations, residual adds, softmax and the loss, the optimizer step): memory-bound
  kernels whose time is the bytes they move over the GPU's memory bandwidth (train_roofline).
A GPU whose peak is many FLOPs per byte of bandwidth (H100: 989 TFLOPS / 3.35 TB/s ~ 295) spends a larger share of
the step in the second kind than one with few (RTX 3090: 71 / 0.94 ~ 76), so the achieved MFU falls on it by itself.
"""

from __future__ import annotations

import math

from sizing.specs import (
    Efficiency,
    Estimate,
    Execution,
    ModelSpec,
    Parallelism,
    System,
    TrainingEstimate,
)
from sizing.specs.system import PCIE_FALLBACK_BYTES_S, PCIE_X16_BYTES_S
from sizing.specs.training import DEFAULT_CHECKPOINT_EVERY_S, CheckpointEstimate

from . import shapes
from .roofline import power_factor
from .train_comm import comm_s, context_exchange_s, pipeline_bubble
from .train_memory import (
    ACT,
    TrainMemory,
    checkpoint_bytes_per_node,
    expert_ways,
    is_lora,
    memory,
    model_states,
    op_recomputed_params,
    resumable_checkpoint_bytes,
    split,
    trainable_params,
    trained_bytes,
    training_of,
)
from .train_roofline import NONGEMM_BYTES_MULT, nongemm_bytes_per_token, optimizer_step_bytes

# Dequantising a QLoRA base before each matmul (bitsandbytes dequantize_4bit) costs what the trainer's `qlora_eff`
# says (fitted on measured.csv).
# The training step itself counts eager against fused elementwise kernels as bytes (train_roofline). The distill and
# RL estimators still scale a flat rate by this: torchtune's optimization-flags table measured 7,075 -> 8,998 tokens/s
# for the same Llama 3.2 3B full fine-tune on an A100 when compile was switched on (eager takes 1.27x the fused time).
EAGER_SLOWDOWN = 8998 / 7075
# FlashAttention-2 (the kernel behind PyTorch SDPA's flash backend, flash-attn and HF's flash_attention_2) reaches a
# smaller share of the dense peak than a plain GEMM, and less on Hopper: Dao 2023 (arXiv 2307.08691, abstract) "50-73%
# of the theoretical maximum FLOPs/s on A100" (the low end: the backward pass is the slower half); Shah et al. 2024
# (FlashAttention-3, arXiv 2407.08608, abstract) "FlashAttention-2 achieving only 35% utilization on the H100 GPU",
# matching pytorch/pytorch#142132 (torch 2.6 nightly, 2024-12-05: native SDPA 329 TFLOPS on an H100, cuDNN attention
# opt-in since pytorch#138522). Ada: UNCONFIRMED, the Ampere figure (same FA2 code path, sm80+ kernels). Other
# architectures: the trainer's GEMM efficiency.
FLASH_ATTENTION_EFF = {"ampere": 0.50, "ada": 0.50, "hopper": 0.35}
# Without a build (sizing estimate) checkpoints are taken to go to a PCIe 4.0 M.2 NVMe at the sequential write of
# data/drives.csv m2-gen4-1tb-990pro (6,900 MB/s, a vendor figure marked unconfirmed there); a recommended build
# writes to its own drives (System.checkpoint_write_bytes_s).
UNBUILT_CHECKPOINT_DRIVE = "a PCIe 4.0 NVMe (no build: 6.9 GB/s sequential write, data/drives.csv 990 PRO)"
UNBUILT_CHECKPOINT_WRITE_BYTES_S = 6900e6


def passes(execution: Execution) -> tuple[float, float]:
    """(matmul FLOPs per weight per token, attention passes): forward 2, backward 4 (2 without weight gradients:
    frozen base), full recomputation adds a forward; attention's backward is twice its forward (FlashAttention-2
    paper §3.1 counts 2.5x with the recomputed scores: the kernel's own recomputation)."""
    t = training_of(execution)
    mm = 2.0 + (2.0 if is_lora(execution) else 4.0)
    attn = 1.0 + 2.5
    if t.recompute == "full":
        mm, attn = mm + 2.0, attn + 1.0
    return mm, attn


def flops_split(model: ModelSpec, execution: Execution) -> tuple[float, float]:
    """(weight matmul, attention) FLOPs of one trained token: active matmul weights (MoE: only the routed experts,
    Fedus et al. 2021) and causal attention over the sequence (prefill accounting, shapes.prefill_attention_flops)."""
    mm, attn = passes(execution)
    seq = max(1, execution.prompt_tokens)
    attention = shapes.prefill_attention_flops(model, seq, latent=False) / seq
    # op-level checkpointing runs the matmuls whose outputs it did not save again (train_memory.op_recomputed_params)
    again = 2.0 * model.n_layers * op_recomputed_params(model) if training_of(execution).recompute == "op" else 0.0
    return mm * shapes.active_matmul_params(model) + again, attn * attention


def flops_per_token(model: ModelSpec, execution: Execution) -> float:
    return sum(flops_split(model, execution))


def attention_efficiency(execution: Execution, system: System) -> float | None:
    """Share of the dense peak a fused (flash) attention kernel reaches in training, by architecture; None: the
    trainer's GEMM efficiency (no figure, or no fused kernel: the scores are then matmuls plus bytes)."""
    if not training_of(execution).flash_attention:
        return None
    return FLASH_ATTENTION_EFF.get(system.gpu.arch)


def host_link_bytes_s(system: System) -> float:
    """GPU <-> host RAM over the card's PCIe link (hardware.md §3.4), one direction."""
    return PCIE_X16_BYTES_S.get(system.gpu.pcie_gen, PCIE_FALLBACK_BYTES_S) * system.gpu.pcie_lanes / 16


def offload_s(model: ModelSpec, execution: Execution, system: System, mem: TrainMemory) -> float:
    """Host traffic per step over PCIe: offloaded optimizer (gradients down, updated weights up: ZeRO-Offload §4),
    offloaded parameters (streamed up forward and backward in every micro-batch: FSDP CPUOffload), paged optimizer
    states that did not fit (read and written back once per step), offloaded activations (down and up once)."""
    t = training_of(execution)
    st, sp = model_states(model, execution), split(model, execution)
    bw = host_link_bytes_s(system)
    traffic = 2 * mem.paged_out_bytes
    if t.offload in ("optimizer", "params"):
        traffic += st.grads * sp.grads + trainable_params(model, execution) * sp.optimizer * ACT
    if t.offload == "params":
        traffic += t.grad_accum * 2 * st.weights * sp.weights
    if t.activation_offload:
        traffic += (
            2 * t.grad_accum * model.n_layers * ACT * model.hidden_size * execution.prompt_tokens * execution.batch
        )
    return traffic / bw


def checkpoints(
    model: ModelSpec, execution: Execution, system: System, step_s: float, train_s: float | None
) -> CheckpointEstimate:
    """The run's resumable saves (train_memory.resumable_checkpoint_bytes: trained weights, optimizer states and the
    fp32 master copy, what torch.save / torch.distributed.checkpoint write of the state dicts), each node writing its
    share to its drives at their sequential write bandwidth. A synchronous save stalls training for its whole write;
    an asynchronous one (the trainer's `async_checkpoint`) only for the copy of each GPU's share to host RAM over its
    PCIe link, plus any part of the write still running when the next save is due. Saves every
    --checkpoint-every steps or seconds (default 1 h), the last at the end of the run: ceil(train_s / every)."""
    t = training_of(execution)
    per_node = checkpoint_bytes_per_node(model, execution, system.n_nodes)
    bw = system.checkpoint_write_bytes_s or UNBUILT_CHECKPOINT_WRITE_BYTES_S
    drive = system.checkpoint_drive or UNBUILT_CHECKPOINT_DRIVE
    write = per_node / bw
    if t.checkpoint_every_steps is not None:
        every_s = t.checkpoint_every_steps * step_s
    else:
        every_s = t.checkpoint_every_s or DEFAULT_CHECKPOINT_EVERY_S
    asynchronous = t.trainer.async_checkpoint
    if asynchronous:
        stall = per_node / system.n_gpus / host_link_bytes_s(system) + max(0.0, write - every_s)
    else:
        stall = write
    n_saves = math.ceil(train_s / every_s - 1e-9) if train_s else 0
    return CheckpointEstimate(
        bytes=resumable_checkpoint_bytes(model, execution),
        bytes_per_node=per_node,
        drive=drive,
        write_bytes_s=bw,
        write_s=write,
        every_s=every_s,
        every_steps=every_s / step_s,
        n_saves=n_saves,
        asynchronous=asynchronous,
        stall_s=stall,
        added_s=n_saves * stall,
        kept=t.keep_checkpoints,
        storage_bytes=t.keep_checkpoints * per_node,
    )


def useful_share(execution: Execution) -> float:
    """Share of the processed tokens that are real sample tokens: packed sequences are full (1), padded ones carry
    mean / seq_len real tokens (each sample padded to the batch's longest, here seq_len: HF DataCollatorWithPadding).
    Padded tokens cost the same FLOPs and memory as real ones; --mean-seq-len absent: samples fill seq_len."""
    t = training_of(execution)
    if t.packing or t.mean_seq_len is None:
        return 1.0
    return min(1.0, t.mean_seq_len / max(1, execution.prompt_tokens))


def speed(
    model: ModelSpec,
    execution: Execution,
    system: System,
    mem: TrainMemory,
    bytes_mult: float = NONGEMM_BYTES_MULT,
) -> TrainingEstimate:
    """One optimizer step: compute = micro-batches x tokens x (matmul FLOPs / (peak x mfu [x qlora_eff]) + attention
    FLOPs / (peak x its kernel's efficiency) + non-GEMM bytes x `bytes_mult` / memory bandwidth) + the optimizer
    step's bytes / memory bandwidth (module docstring); the collectives
    overlap compute up to the trainer's `overlap` (FSDP/ZeRO prefetch), the rest adds; device-map runs one GPU at a
    time, so its GPUs add capacity, not speed; host traffic of offload and paging adds (it is synchronous with the
    optimizer step)."""
    t, p = training_of(execution), execution.parallelism
    tr = t.trainer
    tokens_gpu = execution.batch * execution.prompt_tokens * t.grad_accum  # one data-parallel rank's tokens per step
    f_mm, f_attn = flops_split(model, execution)
    f_tok = f_mm + f_attn
    peak = system.gpu.peak_flops(execution.precision.compute_dtype if not is_lora(execution) else "bf16")
    achieved = peak * power_factor(system) * tr.mfu * (tr.qlora_eff if execution.precision.is_quantized else 1.0)
    attn_eff = attention_efficiency(execution, system)
    achieved_attn = peak * power_factor(system) * attn_eff if attn_eff else peak * power_factor(system) * tr.mfu
    bw = system.gpu.mem_bw_bytes_s
    workers = 1 if t.sharding == "device-map" else p.tp * p.pp * p.cp
    bubble = 0.0 if t.sharding == "device-map" else pipeline_bubble(p.pp, t.grad_accum)
    t_gemm = tokens_gpu * (f_mm / achieved + f_attn / achieved_attn)
    t_bytes = tokens_gpu * nongemm_bytes_per_token(model, execution) * bytes_mult / bw
    t_step = optimizer_step_bytes(model, execution) / bw  # each GPU updates its share of the states once per step
    t_comp = (t_gemm + t_bytes) / workers / (1 - bubble) + t_step  # the stages idle `bubble` of the step
    t_comm = comm_s(model, execution, system, tokens_gpu)
    t_cp = context_exchange_s(model, execution, system)
    t_off = offload_s(model, execution, system, mem)
    exposed = max(0.0, t_comm - tr.overlap * t_comp) + max(0.0, t_cp - t_comp)
    step = t_comp + exposed + t_off
    tokens_step = tokens_gpu * p.dp
    rate = tokens_step / step
    useful = rate * useful_share(execution)
    n_train = trainable_params(model, execution)
    ckpt = n_train * trained_bytes(execution)
    train_s = t.tokens * t.epochs / useful if t.tokens else None  # --tokens counts real (unpadded) tokens
    saves = checkpoints(model, execution, system, step, train_s)
    total = train_s + saves.added_s if train_s is not None else None
    bound = "compute" if t_comp >= max(exposed, t_off) else ("offload" if t_off >= exposed else "communication")
    return TrainingEstimate(
        trainable_params=n_train,
        tokens_per_step=tokens_step,
        flops_per_token=f_tok,
        step_s=step,
        compute_s=t_comp,
        comm_s=t_comm,
        offload_s=t_off,
        train_tokens_per_s=rate,
        useful_tokens_per_s=useful,
        pipeline_bubble=bubble,
        context_exchange_s=t_cp,
        model_flops_utilization=rate * 6 * shapes.active_matmul_params(model) / (peak * system.n_gpus_total),
        host_bytes=mem.host_bytes * system.n_gpus,  # every GPU of the node offloads its own share
        checkpoint_bytes=ckpt,
        resumable_checkpoint_bytes=resumable_checkpoint_bytes(model, execution),
        total_s=total,
        train_s=train_s,
        checkpoint=saves,
        deadline_s=t.deadline_s,
        meets_deadline=total <= t.deadline_s if total is not None and t.deadline_s is not None else None,
        gpu_hours=total * system.n_gpus_total / 3600 if total is not None else None,
        bound=bound,
    )


def notes(model: ModelSpec, execution: Execution, system: System, mem: TrainMemory) -> tuple[list[str], bool]:
    t, p = training_of(execution), execution.parallelism
    out: list[str] = [model.assumed] if model.assumed else []
    legal = True
    if execution.prompt_tokens > model.max_context_tokens:
        out.append(f"seq_len {execution.prompt_tokens} exceeds the model's context of {model.max_context_tokens}")
    if p.tp * p.pp * p.cp * p.dp != system.n_gpus_total:
        if p.cp > 1:
            out.append(f"tp {p.tp} x pp {p.pp} x cp {p.cp} x dp {p.dp} does not match {system.n_gpus_total} GPU(s)")
        else:
            out.append(f"tp {p.tp} x pp {p.pp} x dp {p.dp} does not match {system.n_gpus_total} GPU(s)")
        legal = False
    if p.pp > 1 and t.sharding != "device-map":
        bubble = pipeline_bubble(p.pp, t.grad_accum)
        out.append(
            f"1F1B pipeline over {p.pp} stages with {t.grad_accum} micro-batch(es): {bubble:.0%} of each step idle"
        )
    if p.cp > 1 and execution.prompt_tokens % (2 * p.cp):
        out.append(f"seq_len {execution.prompt_tokens} is not a multiple of 2 x cp ({2 * p.cp}): pad it")
    if not t.packing and t.mean_seq_len is not None and t.mean_seq_len < execution.prompt_tokens:
        out.append(
            f"unpacked samples of {t.mean_seq_len} tokens padded to {execution.prompt_tokens}: "
            f"{1 - t.mean_seq_len / execution.prompt_tokens:.0%} of the compute is padding (--packing on)"
        )
    ep = expert_ways(model, execution)
    if t.ep is not None and t.ep > ep:
        out.append(f"--ep {t.ep} does not divide {p.dp} data-parallel GPU(s) and {model.n_experts} experts: ep {ep}")
    if ep > 1:
        out.append(
            f"expert parallel over {ep} GPUs: each holds {(model.n_experts or 0) // ep} routed experts per layer"
        )
    if mem.paged_out_bytes > 0:
        out.append(f"paged optimizer: {mem.paged_out_bytes / 2**30:,.1f} GiB of its states live in host RAM")
    if t.sharding == "device-map" and p.pp > 1:
        out.append(f"{t.trainer.name} places layers on GPUs in turn: more GPUs add memory, not speed")
    if p.dp > 1 and system.gpu_link.kind == "host" and system.n_nodes == 1:
        out.append(f"{system.gpu.name} has no P2P or NVLink: gradient and weight collectives go through host memory")
    return out, legal


def best_sharding(model: ModelSpec, execution: Execution, system: System) -> Execution:
    """Where the user named no sharding and the run spans several GPUs: plain data parallel when a whole replica
    fits each GPU and is faster (no weight all-gathers: a LoRA of a model that fits one card), else the trainer's
    default. What a practitioner picks (accelerate / torchrun DDP for LoRA, FSDP when it does not fit)."""
    t = execution.training
    if t is None or not t.sharding_chosen or system.n_gpus_total == 1 or t.sharding == "ddp":
        return execution
    if "ddp" not in t.trainer.shardings:
        return execution
    ddp = execution.model_copy(update={"training": t.model_copy(update={"sharding": "ddp"})}).on_gpus(
        system.n_gpus, system.n_nodes
    )
    mem = memory(model, ddp, system)
    if not mem.estimate.fits:
        return execution
    default = memory(model, execution, system)
    if speed(model, ddp, system, mem).train_tokens_per_s >= speed(model, execution, system, default).train_tokens_per_s:
        return ddp
    return execution


CP_WAYS = (1, 2, 4, 8)  # context-parallel ways the grid search tries (Megatron-Core examples run cp 2-8 for 32k-128k)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def best_grid(model: ModelSpec, execution: Execution, system: System) -> Execution:
    """A Megatron-style run (sharding tensor) the user gave no --tp/--pp/--cp for, whose default grid (tp over the
    node, dp over the nodes) does not fit: the fastest tp x pp x cp x dp grid that fits, tp and cp dividing the
    node's GPUs (their collectives stay on its links), pp the layers over the stages (Narayanan et al. 2021 §3: tp
    within a node, pp across nodes), cp where the activations of long sequences do not fit (Megatron-Core
    context parallel). None fits: the default stays and reports its shortfall."""
    t = execution.training
    if t is None or t.sharding != "tensor" or any(g is not None for g in (t.tp, t.pp, t.cp)):
        return execution
    if memory(model, execution, system).estimate.fits:
        return execution
    total, node = system.n_gpus_total, system.n_gpus
    best, best_rate = execution, 0.0
    for tp in _divisors(node):
        for cp in (c for c in CP_WAYS if (node // tp) % c == 0):
            for pp in _divisors(total // (tp * cp)):
                if pp > model.n_layers:
                    continue
                grid = Parallelism(tp=tp, pp=pp, cp=cp, dp=total // (tp * pp * cp))
                trial = execution.model_copy(update={"parallelism": grid})
                mem = memory(model, trial, system)
                if not mem.estimate.fits:
                    continue
                rate = speed(model, trial, system, mem).useful_tokens_per_s
                if rate > best_rate:
                    best, best_rate = trial, rate
    return best


def estimate(model: ModelSpec, execution: Execution, system: System, eff: Efficiency) -> Estimate:
    """Memory and step time of a training run (`eff`, the inference factors, is not used: trainers carry their own)."""
    execution = best_grid(model, best_sharding(model, execution, system), system)
    ep = expert_ways(model, execution)
    if ep != execution.parallelism.ep:  # the assumptions show the expert-parallel ways the estimate used
        execution = execution.model_copy(update={"parallelism": execution.parallelism.model_copy(update={"ep": ep})})
    mem = memory(model, execution, system)
    said, legal = notes(model, execution, system, mem)
    train = speed(model, execution, system, mem)
    return Estimate(
        fits=mem.estimate.fits and legal,
        model=model,
        execution=execution,
        system=system,
        efficiency=eff,
        memory=mem.estimate,
        training=train,
        notes=tuple(said),
    )
