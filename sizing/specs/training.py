"""Training: the trainers (a training engine's defaults and fitted factors, data/trainers.csv), the resolved set-up of
one training run, and what the estimator answers about it."""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

from sizing.units import GIB

from .base import (
    Base,
    Col,
    FactorStatus,
    Fraction,
    GpuVendor,
    NonNegFloat,
    NonNegInt,
    PosFloat,
    PosInt,
    Provenanced,
)

TrainTask = Literal["full-finetune", "pretrain", "lora", "qlora"]
TRAIN_TASKS: tuple[str, ...] = get_args(TrainTask)
# Optimizer states per trainable parameter (bytes; `master_weights` adds a 4-byte fp32 copy): AdamW keeps m and v
# (Kingma & Ba 2015), in the parameters' dtype unless master weights are kept (then fp32, ZeRO paper §3: 12 bytes with
# the master copy); 8-bit AdamW keeps both as int8 with block-wise scales (Dettmers et al. 2022, 8-bit optimizers);
# paged variants live in CUDA unified memory and page to host RAM under pressure; SGD with momentum keeps one state;
# Adafactor factors the second moment into row and column vectors (Shazeer & Stern 2018): about none per parameter.
Optimizer = Literal["adamw", "adamw-8bit", "paged-adamw", "paged-adamw-8bit", "sgd", "adafactor"]
# How the AdamW step runs (torch.optim docs, "Algorithms" / foreach and fused): fused = one kernel per tensor chunk
# reads parameter, gradient and both moments once and writes them once (torch fused=True, apex/DeepSpeed FusedAdam,
# bitsandbytes' 8-bit and paged kernels); foreach = torch's multi-tensor default on CUDA when fused is not asked for:
# eight _foreach_ ops, each a pass over every tensor, and `exp_avg_sq_sqrt = _foreach_sqrt(exp_avg_sqs)` a temporary
# as large as one moment of every trainable parameter (torch/optim/adam.py _multi_tensor_adam); for-loop = the same
# ops tensor by tensor (foreach=False): the same passes, a temporary of one tensor.
OptimizerImpl = Literal["fused", "foreach", "for-loop"]
# Korthikanti et al. 2022 §4 (selective: the attention scores recomputed); op: op-level selective checkpointing that
# saves the outputs of the listed ops only (torchtitan's selective_ac_option "op": every other matmul and the attention
# kernel) and recomputes everything else in the backward pass
Recompute = Literal["none", "selective", "op", "full"]
# How data-parallel ranks hold the model state (ZeRO, Rajbhandari et al. 2020 §5): ddp replicates everything; zero1
# shards optimizer states, zero2 also gradients, zero3 (= FSDP full_shard) also the weights. device-map places whole
# layers on GPUs in turn (accelerate / HF Trainer model parallel: one GPU works at a time). tensor: Megatron-LM
# tensor parallel within a node, data parallel across nodes.
Sharding = Literal["ddp", "zero1", "zero2", "zero3", "device-map", "tensor"]
Offload = Literal["none", "optimizer", "params"]  # params implies the optimizer too (ZeRO-Offload / FSDP CPUOffload)
LoraTargets = Literal["qv", "qkv", "attention", "attention-mlp", "all-linear"]
TrainFactor = Literal["mfu", "qlora_eff", "overlap", "fragmentation"]
# Checkpointing defaults: a resumable save every hour of training (a duration, not a step count, so the share of
# time spent saving does not depend on how long a step takes; HF Trainer's own default is save_steps=500, torchtune
# saves once per epoch) and two kept at once (the latest and the one before it, in case the latest save is torn:
# HF Trainer save_total_limit=2 in its documented examples). A choice, not a measurement.
DEFAULT_CHECKPOINT_EVERY_S = 3600.0
# Training figures have no cross-validated rows per trainer and GPU class: their band is the training estimator's
# accuracy target (issue #11; benchmarks/accuracy.py TRAIN_TARGETS), which the acceptance harness and the reports use
TRAIN_BAND = 0.20
DEFAULT_KEEP_CHECKPOINTS = 2


class Trainer(Provenanced):
    """A training engine as data: its defaults (what its standard recipes do) and its fitted factors."""

    FACTORS: ClassVar[tuple[str, ...]] = get_args(TrainFactor)
    COLUMNS: ClassVar[dict[str, Col]] = {
        "id": Col("id"),
        "name": Col("name"),
        "aliases": Col("aliases", "list", required=False),
        "tasks": Col("tasks", "list"),
        "gpu_vendors": Col("gpu_vendors", "list"),
        "shardings": Col("shardings", "list"),
        "default_sharding": Col("default_sharding"),
        "optimizer": Col("optimizer"),
        "optimizer_impl": Col("optimizer_impl", required=False),
        "master_weights": Col("master_weights", "bool"),
        "recompute": Col("recompute"),
        "flash_attention": Col("flash_attention", "bool"),
        "fused_elementwise": Col("fused_elementwise", "bool"),
        "chunked_ce": Col("chunked_ce", "bool"),
        "optimizer_in_backward": Col("optimizer_in_backward", "bool"),
        "activation_offload": Col("activation_offload", "bool"),
        "lora_rank": Col("lora_rank", "int"),
        "lora_targets": Col("lora_targets"),
        "adapter_bits": Col("adapter_bits", "int"),
        "loss_bytes_per_logit": Col("loss_bytes_per_logit", "float"),
        "context_gib": Col("context_bytes", "float", GIB),
        "mfu": Col("mfu", "float"),
        "qlora_eff": Col("qlora_eff", "float"),
        "overlap": Col("overlap", "float"),
        "fragmentation": Col("fragmentation", "float"),
        "async_checkpoint": Col("async_checkpoint", "bool", required=False),
        "expert_parallel": Col("expert_parallel", "bool", required=False),
        "packing": Col("packing", "bool", required=False),
        "n_rows": Col("n_rows", "int", required=False),
        "copied_from": Col("copied_from", required=False),
        "provenance": Col("provenance", "list", required=False),
        "source": Col("source"),
        "notes": Col("notes", required=False),
    }

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    tasks: tuple[TrainTask, ...]
    gpu_vendors: tuple[GpuVendor, ...]
    shardings: tuple[Sharding, ...]  # what it can do over several GPUs
    default_sharding: Sharding
    optimizer: Optimizer
    optimizer_impl: OptimizerImpl = "fused"  # its standard recipe's AdamW implementation (trainers.csv source)
    master_weights: bool  # keeps an fp32 copy of the trainable weights (mixed precision, Micikevicius et al. 2018)
    recompute: Recompute
    flash_attention: bool
    fused_elementwise: bool  # torch.compile / Liger / Triton kernels: elementwise intermediates are not stored
    chunked_ce: bool  # the loss upcasts logits chunk by chunk instead of all at once
    optimizer_in_backward: bool  # each gradient is applied and freed as it is produced
    activation_offload: bool  # checkpointed layer inputs go to host RAM
    lora_rank: PosInt
    lora_targets: LoraTargets
    adapter_bits: Literal[16, 32]  # LoRA A/B weights, gradients and (with Adam) moments in bf16 or fp32
    # Loss memory per logit at its peak (sizing.estimate.train_memory.logits_bytes): 12 where the loss upcasts the
    # bf16 logits once (torchtune); 22 on Hugging Face models' forward (modeling_llama <= 4.45: logits.float(),
    # then a contiguous shifted copy, log-softmax and their gradients)
    loss_bytes_per_logit: PosFloat
    context_bytes: NonNegFloat  # CUDA context + kernels: nvidia-smi sees it, the allocator does not
    mfu: Fraction  # GEMM efficiency: the matmuls' achieved / dense peak (the memory-bound rest is bytes / bandwidth)
    qlora_eff: Fraction  # speed of a quantized-base step relative to a bf16 one (dequantisation kernels)
    overlap: Fraction  # share of the communication hidden behind compute (FSDP/ZeRO prefetch)
    fragmentation: NonNegFloat  # reserved / allocated - 1 (the caching allocator's free blocks)
    # saves a checkpoint in the background: the states are copied to host RAM and written while training goes on
    # (Megatron-Core --async-save with the torch_dist format; torch.distributed.checkpoint.async_save)
    async_checkpoint: bool = False
    # shards an MoE model's experts over expert-parallel ranks, with all-to-all token dispatch (Megatron-Core
    # --expert-model-parallel-size, DeepSpeed-MoE ep_size)
    expert_parallel: bool = False
    # packs samples into full sequences by default (verl use_remove_padding, Megatron GPTDataset; axolotl's examples
    # set sample_packing); false: each batch is padded to its longest sample (HF DataCollatorWithPadding; TRL
    # `packing`, torchtune `packed`, ms-swift `--packing` default to off: data/trainers.csv sources)
    packing: bool = False
    n_rows: NonNegInt | None = None
    copied_from: str | None = None  # trainers id whose factors these are (no measurements of this trainer)
    provenance: tuple[tuple[TrainFactor, FactorStatus], ...] = ()
    source: str
    notes: str | None = None


class Training(Base):
    """One training run's set-up, every choice resolved (the trainer's defaults where the user named none)."""

    trainer: Trainer
    optimizer: Optimizer
    master_weights: bool
    optimizer_impl: OptimizerImpl = "fused"
    recompute: Recompute
    flash_attention: bool
    fused_elementwise: bool
    chunked_ce: bool
    optimizer_in_backward: bool
    activation_offload: bool
    sharding: Sharding
    sharding_chosen: bool = False  # the user named no --sharding: the estimator may pick the faster one that fits
    offload: Offload = "none"
    lora_rank: PosInt = 16
    lora_targets: LoraTargets = "all-linear"
    grad_accum: PosInt = 1
    dropout: bool = False  # pre-training recipes (GPT-3, Megatron) drop out; fine-tuning recipes mostly do not
    tokens: PosFloat | None = None  # dataset tokens per epoch
    epochs: PosFloat = 1.0
    deadline_s: PosFloat | None = None  # the run (training and checkpoint saves) must end within this
    checkpoint_every_steps: PosInt | None = None  # a resumable save every N optimizer steps ...
    checkpoint_every_s: PosFloat | None = None  # ... or every so many seconds (neither: DEFAULT_CHECKPOINT_EVERY_S)
    keep_checkpoints: PosInt = DEFAULT_KEEP_CHECKPOINTS  # resumable saves kept on the data drive at once
    ep: PosInt | None = None  # --ep: expert-parallel ways (None: the trainer's choice, train_memory.expert_ways)
    tp: PosInt | None = None  # --tp: tensor-parallel ways (None: the sharding's, Parallelism.for_training)
    pp: PosInt | None = None  # --pp: pipeline stages (1F1B schedule, Narayanan et al. 2021)
    cp: PosInt | None = None  # --cp: context-parallel ways (each sequence split over cp GPUs)
    packing: bool = True  # samples packed into full sequences; False: each padded to seq_len (--packing)
    mean_seq_len: PosInt | None = None  # --mean-seq-len: the average real sample length (None: seq_len)


class CheckpointEstimate(Base):
    """The run's resumable saves: what one save holds, where it goes, how often, and what it adds to the run."""

    bytes: NonNegFloat  # one resumable save, all nodes: trained weights + optimizer states (+ fp32 master copy)
    bytes_per_node: NonNegFloat  # each node writes its own shards in parallel (sharded state dicts)
    drive: str  # where the saves are written
    write_bytes_s: PosFloat  # sequential write bandwidth of that drive (array) per node
    write_s: NonNegFloat  # one save: bytes per node / write bandwidth
    every_s: PosFloat  # time between saves
    every_steps: PosFloat  # optimizer steps between saves
    n_saves: NonNegInt  # over the run (the last one at its end); 0 without --tokens
    asynchronous: bool  # the trainer writes in the background: only the copy to host RAM stalls training
    stall_s: NonNegFloat  # training time lost per save
    added_s: NonNegFloat  # n_saves x stall_s: what checkpointing adds to the run
    kept: PosInt  # saves kept at once
    storage_bytes: NonNegFloat  # kept x bytes per node: data-drive capacity per node the saves take


class TrainingEstimate(Base):
    """Time of one optimizer step and what a run of `tokens` x `epochs` takes."""

    trainable_params: NonNegFloat
    tokens_per_step: PosFloat  # all GPUs, all micro-batches of one optimizer step
    flops_per_token: PosFloat  # model FLOPs (6N, 8N with full recomputation, 4N/6N for a frozen base) + attention
    step_s: PosFloat
    compute_s: NonNegFloat
    comm_s: NonNegFloat  # collectives of the sharding, exposed part included in step_s
    offload_s: NonNegFloat  # host <-> GPU traffic of offloaded or paged state
    train_tokens_per_s: PosFloat  # summed over all GPUs (padding included: what the GPUs process)
    useful_tokens_per_s: PosFloat  # real (unpadded) sample tokens per second: train_tokens_per_s x mean / seq_len
    pipeline_bubble: NonNegFloat = 0.0  # 1F1B idle share of a step, (pp - 1) / (m + pp - 1)
    context_exchange_s: NonNegFloat = 0.0  # context parallel: K/V ring exchange per step (overlapped with compute)
    model_flops_utilization: NonNegFloat  # achieved model FLOP/s / dense peak of all GPUs
    host_bytes: NonNegFloat  # host RAM per node the run pins or pages into: offloaded states, parameters, activations
    checkpoint_bytes: NonNegFloat  # the trained weights (adapters only for LoRA)
    resumable_checkpoint_bytes: NonNegFloat  # plus optimizer states and master weights
    total_s: NonNegFloat | None = None  # training (tokens x epochs / speed) plus checkpoint stalls, with tokens
    train_s: NonNegFloat | None = None  # tokens x epochs / speed alone
    checkpoint: CheckpointEstimate | None = None
    deadline_s: PosFloat | None = None  # the run's deadline, when one was given
    meets_deadline: bool | None = None  # total_s <= deadline_s (None: no deadline or no --tokens)
    gpu_hours: NonNegFloat | None = None
    bound: Literal["compute", "communication", "offload"]
