"""The options the commands share, declared once: `training_options`, `serving_options` and `build_options` are
templates and `with_options` gives a command their parameters, so `estimate`, `recommend` and `report` take the
same flags with the same help
(typer reads a command's parameters from `inspect.signature`, which honours `__signature__`, and its types from
`__annotations__`)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import typer

from sizing.specs import DEFAULT_CONTEXT_TOKENS, DEFAULT_USERS

from .options import (
    AcceptanceOpt,
    BuildClassOpt,
    CheckpointEveryOpt,
    CpOpt,
    DeadlineOpt,
    DpAttentionOpt,
    DraftModelOpt,
    DraftTokensOpt,
    EngineOpt,
    EpochsOpt,
    EpOpt,
    GradAccumOpt,
    GroupSizeOpt,
    KeepCheckpointsOpt,
    KvOpt,
    LoraOpt,
    LoraRankOpt,
    LoraTargetsOpt,
    MaxTtftOpt,
    MeanSeqLenOpt,
    MinUserSpeedOpt,
    ModelOpt,
    ModeOpt,
    NewTokensOpt,
    OfflineOpt,
    OffloadOpt,
    OptimizerOpt,
    PackingOpt,
    PlacementOpt,
    PpOpt,
    PrecisionOpt,
    PromptsPerStepOpt,
    RecomputeOpt,
    ResponseTokensOpt,
    RewardModelOpt,
    RlOffloadOpt,
    RolloutGpusOpt,
    SamplesOpt,
    SeqLenOpt,
    ShardingOpt,
    SpeculativeOpt,
    StepsOpt,
    StudentOpt,
    StudentTaskOpt,
    TeacherOpt,
    TeacherPrecisionOpt,
    TokensOpt,
    TopKOpt,
    TpOpt,
    TrainerOpt,
)

RecommendTaskOpt = typer.Option(
    "inference",
    help="What to size: inference, embed (RAG embedder), lora, qlora, full-finetune, pretrain, distill, grpo, ppo "
    "or dpo.",
)


def training_options(
    trainer: str | None = TrainerOpt,
    seq_len: int | None = SeqLenOpt,
    optimizer: str | None = OptimizerOpt,
    recompute: str | None = RecomputeOpt,
    sharding: str | None = ShardingOpt,
    offload: str | None = OffloadOpt,
    lora_rank: int | None = LoraRankOpt,
    lora_targets: str | None = LoraTargetsOpt,
    grad_accum: int | None = GradAccumOpt,
    tokens: str | None = TokensOpt,
    epochs: float | None = EpochsOpt,
    deadline: str | None = DeadlineOpt,
    checkpoint_every: str | None = CheckpointEveryOpt,
    keep_checkpoints: int | None = KeepCheckpointsOpt,
    ep: int | None = EpOpt,
    tp: int | None = TpOpt,
    pp: int | None = PpOpt,
    cp: int | None = CpOpt,
    packing: str | None = PackingOpt,
    mean_seq_len: int | None = MeanSeqLenOpt,
    teacher: str | None = TeacherOpt,
    student: str | None = StudentOpt,
    teacher_precision: str | None = TeacherPrecisionOpt,
    student_task: str | None = StudentTaskOpt,
    mode: str | None = ModeOpt,
    kd_top_k: int | None = TopKOpt,
    samples: int | None = SamplesOpt,
    response_tokens: int | None = ResponseTokensOpt,
    group_size: int | None = GroupSizeOpt,
    prompts_per_step: int | None = PromptsPerStepOpt,
    placement: str | None = PlacementOpt,
    reward_model: str | None = RewardModelOpt,
    rollout_gpus: int | None = RolloutGpusOpt,
    rl_offload: str | None = RlOffloadOpt,
    lora: bool = LoraOpt,
    steps: int | None = StepsOpt,
) -> None:
    """Template: the training, distillation and RL options (sizing.specs.TRAINING_OPTIONS) that `estimate`,
    `recommend` and `report` share (never called: its signature is what `with_options` adds)."""


def serving_options(
    max_ttft_s: float | None = MaxTtftOpt,
    min_user_tokens_per_s: float | None = MinUserSpeedOpt,
    speculative: str | None = SpeculativeOpt,
    acceptance: float | None = AcceptanceOpt,
    draft_tokens: int | None = DraftTokensOpt,
    draft_model: str | None = DraftModelOpt,
    dp_attention: bool = DpAttentionOpt,
) -> None:
    """Template: the latency targets, speculative decoding and attention data parallel that `estimate`,
    `recommend` and `report` share."""


def build_options(
    model: str = ModelOpt,
    task: str = RecommendTaskOpt,
    engine: str | None = EngineOpt,
    precision: str = PrecisionOpt,
    kv_precision: str | None = KvOpt,
    users: int | None = typer.Option(
        None, "--users", "--batch", help=f"Concurrent sequences (default {DEFAULT_USERS}; training: micro-batch, 1)."
    ),
    context: int | None = typer.Option(None, help=f"Tokens per user, prompt + new (default {DEFAULT_CONTEXT_TOKENS})."),
    prompt_tokens: int | None = typer.Option(None, help="Prompt tokens per user (instead of --context)."),
    new_tokens: int = NewTokensOpt,
    budget: float | None = typer.Option(None, help="Most the whole build may cost, in --currency."),
    gpu: list[str] | None = typer.Option(
        None, "--gpu", help="Allowed GPUs, comma-separated (e.g. rtx-4090,rtx-a6000)."
    ),
    exclude: list[str] | None = typer.Option(None, help="GPUs to leave out, comma-separated."),
    cpu: list[str] | None = typer.Option(None, "--cpu", help="Allowed CPUs, comma-separated (e.g. xeon-silver-4314)."),
    circuit: str | None = typer.Option(
        None,
        help="Wall circuit: 120v-15a, 120v-20a, 230v-10a, 230v-16a, rack-208v-30a "
        "(default: 120v-15a for towers, rack-208v-30a for servers).",
    ),
    circuits: int | None = typer.Option(
        None, help="Circuits of that kind per machine (default: 1 for a named --circuit, else a rack's feeds)."
    ),
    max_gpus: int | None = typer.Option(None, help="Most GPUs in total (0: CPU-only builds)."),
    build_class: str | None = BuildClassOpt,
    offline: bool = OfflineOpt,
    form_factor: str | None = typer.Option(None, help="tower (incl. workstations) or rack."),
    target_tokens_per_s: float | None = typer.Option(None, help="Least total decode tokens/s over all users."),
    objective: str = typer.Option("cost", help="Rank by cost, speed or cost-per-token."),
    currency: str = typer.Option("USD", help="USD or CNY (rate and date from data/fx.csv)."),
    used: bool = typer.Option(False, "--used", help="Allow used-market prices (default: new parts, priced new)."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Judge price ages on this day, YYYY-MM-DD (default: today)."
    ),
) -> None:
    """Template: the workload, build constraints and pricing that `recommend` and `report` share (`estimate` names
    one GPU and a batch instead)."""


RECOMMEND_OPTIONS = (build_options, training_options, serving_options)
ESTIMATE_OPTIONS = (training_options, serving_options)


def with_options(*templates: Callable[..., None]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator: `command(own options..., **shared)` as a typer command that also takes every parameter of the
    templates it does not declare itself, after its own, all passed as keywords (the shared ones arrive in
    `**shared`)."""

    def give(command: Callable[..., None]) -> Callable[..., None]:
        own = inspect.signature(command, eval_str=True)
        mine = [p for p in own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        names = {p.name for p in mine}
        shared = [
            p for t in templates for p in inspect.signature(t, eval_str=True).parameters.values() if p.name not in names
        ]
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in (*mine, *shared)]

        @functools.wraps(command)
        def run(**kwargs: Any) -> None:
            command(**kwargs)

        run.__signature__ = own.replace(parameters=params, return_annotation=None)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
        return run

    return give
