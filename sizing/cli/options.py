"""The options `estimate` and `recommend` share (workload, training, distillation), and token counts as people
write them."""

from __future__ import annotations

import typer

from sizing.specs import (
    BUILD_CLASSES,
    DEFAULT_NEW_TOKENS,
    RL_OFFLOADS,
    TRAINING_OPTIONS,
    RecommendRequest,
    SizingError,
)
from sizing.specs.requests import option_conflict, option_name, parse_checkpoint_every, parse_duration

DataOpt = typer.Option(None, "--data", help="Folder with your own copy of the catalog CSVs (default: bundled data/).")
# the workload options `estimate` and `recommend` share
ModelOpt = typer.Option(
    "7b", "--model", "-m", help="Catalog id/alias (`sizing models`), a size like 7b, or a local HF folder."
)
TaskOpt = typer.Option(
    "inference", help="What to size: inference, lora, qlora, full-finetune, pretrain, distill, embed (RAG embedder)."
)
EngineOpt = typer.Option(
    None,
    help="Runtime: vllm, llama.cpp, sglang, transformers, tensorrt-llm, exllamav2, mlc-llm, autoawq, gpt-fast "
    "(default: vllm; llama.cpp for GGUF, exllamav2 for EXL2).",
)
PrecisionOpt = typer.Option(
    "bf16",
    help="Weight format: bf16, f16, fp8, int8, gptq-int4, awq-int4, nf4, q4_k_m, q8_0, exl2-4.0bpw, ...",
)
KvOpt = typer.Option(None, help="KV-cache format (default: the engine's): f16, bf16, fp8, q8_0, ...")
NewTokensOpt = typer.Option(DEFAULT_NEW_TOKENS, help="Generated tokens per sequence.")
# training tasks (defaults: the trainer's, data/trainers.csv)
TrainerOpt = typer.Option(
    None,
    help="Trainer: transformers (peft), trl, torchtune, unsloth, llama-factory, axolotl, "
    "ms-swift, deepspeed, megatron, fsdp (default: transformers; megatron for pretrain).",
)
SeqLenOpt = typer.Option(None, "--seq-len", help="Training: tokens per sequence (default 2048).")
OptimizerOpt = typer.Option(None, help="Training: adamw, adamw-8bit, paged-adamw, paged-adamw-8bit, sgd, adafactor.")
RecomputeOpt = typer.Option(None, help="Training: activation recomputation none, selective, op or full.")
ShardingOpt = typer.Option(None, help="Training: ddp, zero1, zero2, zero3 (FSDP), device-map or tensor.")
OffloadOpt = typer.Option(
    None,
    help="Training: none, optimizer or params to host RAM. Inference: none, layers (llama.cpp -ngl), experts "
    "(routed experts in RAM) or cpu (no GPU).",
)
LoraRankOpt = typer.Option(None, help="LoRA rank.")
LoraTargetsOpt = typer.Option(None, help="LoRA targets: qv, qkv, attention, attention-mlp, all-linear.")
GradAccumOpt = typer.Option(None, help="Training: micro-batches per optimizer step.")
TokensOpt = typer.Option(None, help="Training: dataset tokens per epoch, e.g. 200M or 1.5B.")
EpochsOpt = typer.Option(None, help="Training: epochs over --tokens (default 1).")
DeadlineOpt = typer.Option(
    None,
    help="Training: the run must end within this, e.g. 90m, 48h or 2d (needs --tokens, RL --steps or --tokens; "
    "recommend drops slower builds).",
)
CheckpointEveryOpt = typer.Option(
    None,
    "--checkpoint-every",
    help="Training: a resumable save every N steps (1000) or every duration (1h, 30m); default 1h.",
)
EpOpt = typer.Option(
    None,
    "--ep",
    help="MoE model: expert-parallel ways. Training: default the GPUs of a node where the trainer supports it "
    "(megatron, deepspeed). Serving (sglang, vllm, tensorrt-llm): the routed experts split over N of the node's "
    "tensor-parallel GPUs (default 1: tensor parallel only).",
)
TpOpt = typer.Option(
    None, "--tp", help="Training: tensor-parallel ways (megatron, torchtitan; default: the sharding's)."
)
PpOpt = typer.Option(None, "--pp", help="Training: pipeline stages, 1F1B schedule (megatron, torchtitan).")
CpOpt = typer.Option(None, "--cp", help="Training: context-parallel ways, each sequence split over cp GPUs.")
PackingOpt = typer.Option(
    None, "--packing", help="Training: on (samples packed into full sequences) or off (padded); default: the trainer's."
)
MeanSeqLenOpt = typer.Option(
    None, "--mean-seq-len", help="Training: average real sample length; unpacked batches pad the rest to --seq-len."
)
KeepCheckpointsOpt = typer.Option(
    None, "--keep-checkpoints", help="Training: resumable saves kept on the data drive at once (default 2)."
)


# distillation (--task distill; --model or --student is the student)
TeacherOpt = typer.Option(None, help="Distillation: the teacher model (catalog id, size or folder).")
StudentOpt = typer.Option(None, help="Distillation: the student model (the same as --model).")
TeacherPrecisionOpt = typer.Option(None, help="Distillation: the teacher's weight format (default bf16).")
StudentTaskOpt = typer.Option(None, help="Distillation: how the student trains: full-finetune (default), lora, qlora.")
ModeOpt = typer.Option(None, help="Distillation: offline (stored top-k labels), online, sequence (generated text).")
TopKOpt = typer.Option(None, "--kd-top-k", help="Distillation: soft labels kept per position (default 20).")
SamplesOpt = typer.Option(None, help="Sequence-level distillation: responses the teacher generates.")
ResponseTokensOpt = typer.Option(None, help="Sequence-level distillation: tokens per response (default 4096).")

# RL and preference fine-tuning (--task grpo | ppo | dpo; --model is the policy)
GroupSizeOpt = typer.Option(None, help="RL: responses sampled per prompt (default 8).")
PromptsPerStepOpt = typer.Option(None, help="RL: prompts per optimizer step (DPO: preference pairs; default 64).")
PlacementOpt = typer.Option(None, help="RL: colocated (every role on the same GPUs, default) or disaggregated.")
RewardModelOpt = typer.Option(None, help="RL: a reward model (default: a rule, e.g. verifiable answers).")
RolloutGpusOpt = typer.Option(None, help="RL, disaggregated: GPUs for the rollout engine (default: as many again).")
RlOffloadOpt = typer.Option(
    None,
    "--rl-offload",
    help="RL: what lives in host RAM: none, reference (frozen reference and reward weights), optimizer, or all "
    "(default: the trainer's; verl keeps its reference and reward in RAM).",
)
LoraOpt = typer.Option(False, "--lora", help="RL: the policy trains LoRA adapters on a frozen base.")
StepsOpt = typer.Option(
    None, "--steps", help="RL: optimizer steps of the run (default: --tokens x --epochs / tokens per step)."
)

# the host as an inference device (`estimate`): CPU-only runs and CPU+GPU offload (README "CPUs and hybrid offload")
CpuOpt = typer.Option(None, "--cpu", help="Host CPU id (data/cpus.csv) for CPU-only or offloaded inference.")
SocketsOpt = typer.Option(None, "--sockets", help="Host CPU sockets (default 1).")
MemoryOpt = typer.Option(None, "--memory", help="DIMM id (data/memory.csv, e.g. ddr5-4800-rdimm-64gb).")
DimmsOpt = typer.Option(None, "--dimms", help="Populated DIMMs over all sockets (default: one per channel).")
ThreadsOpt = typer.Option(None, "--threads", help="CPU threads the engine computes on (default: every core).")
GpuLayersOpt = typer.Option(
    None, "--gpu-layers", help="Layers on the GPUs with --offload layers (llama.cpp -ngl; default: all that fit)."
)

# the recommender's build classes (README "Build classes")
BuildClassOpt = typer.Option(
    None,
    "--build-class",
    help="Only this class: gpu (GPU servers), cpu (CPU-only servers), hybrid (1-2 GPUs + weights in RAM), edge "
    "(Jetson, mini-PC, Ryzen AI Max, Mac Studio). Default: GPU builds (hybrid when none passes) and edge boxes; "
    "CPU-only with --max-gpus 0.",
)
OfflineOpt = typer.Option(
    False, "--offline", help="Air-gapped site: add a local model store and the engine's package mirror to the BOM."
)

# latency targets (`estimate` reports them met or not; `recommend` keeps the builds that meet them: rules/latency.py)
MaxTtftOpt = typer.Option(
    None,
    "--max-ttft-s",
    help="Most seconds to the first token for one request arriving while the other users decode "
    "(continuous batching with chunked prefill).",
)
MinUserSpeedOpt = typer.Option(
    None, "--min-user-tokens-per-s", help="Least decode tokens/s each user sees (1 / time per output token)."
)

# speculative decoding (`estimate`; sizing/estimate/inference.py speculative_token_s)
SpeculativeOpt = typer.Option(
    None, "--speculative", help="Speculative decoding: mtp (DeepSeek-V3 MTP), eagle, or draft-model (--draft-model)."
)
AcceptanceOpt = typer.Option(None, "--acceptance", help="Speculative: share of drafted tokens kept, e.g. 0.7.")
DraftTokensOpt = typer.Option(None, "--draft-tokens", help="Speculative: tokens drafted per verify step (default 1).")
DraftModelOpt = typer.Option(None, "--draft-model", help="Speculative draft-model: the drafter (catalog id or size).")
DpAttentionOpt = typer.Option(
    False,
    "--dp-attention",
    help="Serving (SGLang; vLLM for MoE models): attention data parallel over one node's GPUs, each replica with "
    "its own requests' KV cache.",
)


def training_fields(params: dict) -> dict:
    """The training, distillation and RL options among a command's parameters (`locals()`) that the user gave
    (None or an unset flag: the default; a 0 is given, for the Request to refuse where it is not allowed); the
    Request parses token counts."""
    out = {k: params[k] for k in TRAINING_OPTIONS if params.get(k) is not None and params.get(k) is not False}
    conflict = option_conflict(out, str(params.get("task", "")), option_name)
    if conflict:
        raise SizingError(f"{option_name(conflict[0])} {conflict[1]}")
    if "deadline" in out:
        out["deadline_s"] = parse_duration(out.pop("deadline"), "--deadline")
    if out.get("rl_offload") not in (None, *RL_OFFLOADS):
        raise SizingError(f"--rl-offload {out['rl_offload']} is not one of {', '.join(RL_OFFLOADS)}")
    if out.get("packing") not in (None, "on", "off"):
        raise SizingError(f"--packing {out['packing']} is neither on nor off")
    if "checkpoint_every" in out:
        out.update(parse_checkpoint_every(out.pop("checkpoint_every")))
    return out


# the parameters every command that recommends has (`recommend`, `report`), which are RecommendRequest's field names;
# then those only some of them have
RECOMMEND_PARAMS = (
    "task",
    "engine",
    "precision",
    "kv_precision",
    "context",
    "prompt_tokens",
    "new_tokens",
    "budget",
    "circuit",
    "circuits",
    "used",
    "as_of",
    "max_gpus",
    "form_factor",
    "target_tokens_per_s",
    "objective",
    "currency",
)
RECOMMEND_OPTIONAL = (
    "max_ttft_s",
    "min_user_tokens_per_s",
    "build_class",
    "speculative",
    "acceptance",
    "draft_tokens",
    "draft_model",
    "dp_attention",
)


def recommend_request(params: dict) -> RecommendRequest:
    """The RecommendRequest of a command's parameters (`locals()` of `recommend` or `report`, which share them)."""
    p = params
    if p.get("build_class") not in (None, *BUILD_CLASSES):
        raise SizingError(f"--build-class {p['build_class']} is not a build class; use {', '.join(BUILD_CLASSES)}")
    return RecommendRequest(
        model=p.get("student") or p["model"],
        **{k: p[k] for k in RECOMMEND_PARAMS},
        **{k: p[k] for k in RECOMMEND_OPTIONAL if p.get(k) is not None},
        **({"users": p["users"]} if p["users"] is not None else {}),
        gpus_allowed=p["gpu"] or (),  # comma-separated ids: RecommendRequest splits them
        exclude=p["exclude"] or (),
        cpus_allowed=p["cpu"] or (),
        offline=p.get("offline", False),
        **training_fields(p),
    )


LangOpt = typer.Option(
    None,
    "--lang",
    help="Language of the terminal output: en or zh (Simplified Chinese); default from SIZING_LANG, else a zh "
    "locale (LC_ALL, LC_MESSAGES, LANG) gives zh. --json stays in English.",
)
