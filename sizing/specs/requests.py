"""What the user asked, by name: the library's request objects (the CLI, scenario files and scripts fill them)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from .base import Base, SizingError, show
from .build import FormFactor, Objective
from .classes import BuildClass
from .distill import DistillMode
from .execution import DEFAULT_NEW_TOKENS, DEFAULT_USERS
from .rl import RL_ALGOS, Placement, RLOffload
from .runtime import SpeculativeMethod
from .training import LoraTargets, Optimizer, Recompute, Sharding

StudentTask = Literal["full-finetune", "lora", "qlora"]
# --offload: training (optimizer, params: training.Offload) or inference (layers, experts, cpu: host.HostOffload)
AnyOffload = Literal["none", "optimizer", "params", "layers", "experts", "cpu"]

MAX_TOKENS = 10_000_000  # past any model's context; larger numbers are typing mistakes
MAX_BATCH = 1_000_000
MAX_GPUS = 4096
Name = Annotated[str, Field(min_length=1)]

COUNT_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def parse_count(text: str | None, option: str) -> float | None:
    """A token count as people write it: 200M, 1.5B, 2e9 or 200000000."""
    if text is None:
        return None
    t = text.strip().lower().replace(",", "").replace("_", "")
    scale = COUNT_SUFFIX.get(t[-1:], 1.0) if t else 1.0
    try:
        value = float(t[:-1] if scale != 1.0 else t) * scale
    except ValueError:
        raise SizingError(f"{option} '{text}' is not a count; write e.g. 200M, 1.5B or 200000000") from None
    if not value > 0 or value == float("inf"):
        raise SizingError(f"{option} must be a positive count, got '{text}'")
    return value


DURATION_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w)")


MAX_DURATION_S = 1e9  # about 32 years: past any training run; a larger deadline or save interval is a typing mistake
JULIAN_YEAR_S = 31_557_600  # 365.25 days (the IAU's Julian year), to say MAX_DURATION_S in years


def duration_parts(text: str) -> list[tuple[str, str]] | None:
    """The (number, unit) parts of a text written as a duration (90m, 48h, 1h30m), whatever its size; else None."""
    t = text.strip().lower().replace(" ", "")
    parts = DURATION_PART.findall(t)
    return parts if t and "".join(n + u for n, u in parts) == t else None


def parse_duration(text: str, option: str) -> float:
    """A duration as people write it, in seconds: 90m, 48h, 2d, 1h30m, 1.5d (s, m or min, h, d, w). Past
    MAX_DURATION_S the error gives the limit in the largest unit the user wrote (100000w: at most 1653w)."""
    parts = duration_parts(text)
    if parts is None:
        raise SizingError(f"{option} '{text}' is not a duration; write e.g. 90m, 48h, 2d or 1h30m")
    seconds = sum(float(n) * DURATION_UNITS[u] for n, u in parts)
    if not seconds > 0:
        raise SizingError(f"{option} must be a positive duration, got '{text}'")
    if seconds > MAX_DURATION_S:
        unit = max((u for _, u in parts), key=DURATION_UNITS.__getitem__)
        limit = int(MAX_DURATION_S // DURATION_UNITS[unit])  # whole units, rounded down: that many is still allowed
        years = MAX_DURATION_S / JULIAN_YEAR_S
        raise SizingError(f"{option} must be at most {limit}{unit} (about {years:.0f} years), got '{text}'")
    return seconds


def parse_checkpoint_every(text: str, option: str = "--checkpoint-every") -> dict[str, int | float]:
    """--checkpoint-every (and the scenario column): a whole number of optimizer steps (1000, 1000steps) or a
    duration (1h, 30m), as the Request field it fills."""
    t = text.strip().lower().removesuffix("steps").removesuffix("step").strip()
    if t.isdigit():
        if int(t) < 1:
            raise SizingError(f"{option} must be at least 1 step, got '{text}'")
        return {"checkpoint_every_steps": int(t)}
    if duration_parts(t) is None:
        raise SizingError(
            f"{option} '{text}' is neither a step count nor a duration; write e.g. 1000 (steps), 30m or 2h"
        )
    return {"checkpoint_every_s": parse_duration(t, option)}


def split_ids(values: Any, option: str) -> tuple[str, ...]:
    """Comma-separated ids (one string, or a list of them as a repeated option gives); given but empty is an
    error, not 'everything'."""
    items = [values] if isinstance(values, str) else list(values or [])
    ids = tuple(v.strip() for item in items for v in str(item).split(",") if v.strip())
    if items and not ids:
        where = "data/cpus.csv" if option == "--cpu" else "`sizing gpus`"
        raise SizingError(f"{option} is empty; give ids separated by commas (see {where}) or leave it out")
    return ids


# a request field as the option a user typed (the rest: `--` + the field with dashes)
OPTION_NAMES = {
    "n_gpus": "--gpus",
    "gpus_allowed": "--gpu",
    "cpus_allowed": "--cpu",
    "users": "--users (--batch)",
    "n_sockets": "--sockets",
    "n_dimms": "--dimms",
    "deadline_s": "--deadline",
    "checkpoint_every_steps": "--checkpoint-every",
    "checkpoint_every_s": "--checkpoint-every",
}


def option_name(field: str) -> str:
    return OPTION_NAMES.get(field, "--" + field.replace("_", "-"))


# a pydantic bound as words ("greater_than": 0 on a whole number is "at least 1", field_problem)
_BOUND_WORDS = {
    "greater_than": "more than",
    "greater_than_equal": "at least",
    "less_than": "less than",
    "less_than_equal": "at most",
}


def field_problem(err: ErrorDetails, name: Callable[[str], str]) -> str:
    """A Request field's pydantic error as one line that names the field as the user gave it (`name`: the command
    line's option, the scenario file's column): "--batch must be at least 1, got 0". The command line, the web
    calculator and the scenario file say the same sentence."""
    subject = name(str(err["loc"][0])) if err["loc"] else "value"
    if err["type"] == "string_unicode":  # bytes the terminal could not decode
        return f"{subject} holds bytes that are not text in this terminal's encoding; retype it (UTF-8)"
    ctx = err.get("ctx") or {}
    value = err.get("input")
    got = str(value) if isinstance(value, int) else f"{value:g}" if isinstance(value, float) else show(str(value))
    if err["type"] == "greater_than" and isinstance(ctx.get("gt"), int):  # whole numbers: > 0 means at least 1
        return f"{subject} must be at least {ctx['gt'] + 1:,}, got {got}"
    if err["type"] in _BOUND_WORDS:
        bound = next(iter(ctx.values()), "?")
        bound_text = f"{bound:,}" if isinstance(bound, int) else f"{bound:g}" if isinstance(bound, float) else bound
        return f"{subject} must be {_BOUND_WORDS[err['type']]} {bound_text}, got {got}"
    message = (
        err["msg"]
        .replace("Input should be", "must be")
        .replace("String should have at least 1 character", "must not be empty")
    )
    return f"{subject} {message}, got {got}"


def invalid_message(exc: ValidationError) -> str:
    """A request's first pydantic error in the words of the command line: '--batch must be at least 1, got 0'."""
    return field_problem(exc.errors()[0], option_name)


# the training options a Request takes as they are (a recommendation passes them through to its estimates)
TRAINING_FIELDS = (
    "trainer",
    "optimizer",
    "recompute",
    "sharding",
    "offload",
    "lora_rank",
    "lora_targets",
    "grad_accum",
)


# the training, distillation and RL options `estimate`, `recommend` and `report` share, by their command parameter
# names (the Request's field names, or what the CLI parses into them: deadline, checkpoint_every), which are also
# the scenario file's columns for them (sizing.catalog.user_files)
TRAINING_OPTIONS = (
    *TRAINING_FIELDS,
    "seq_len",
    "tokens",
    "epochs",
    "teacher",
    "teacher_precision",
    "student_task",
    "mode",
    "kd_top_k",
    "samples",
    "response_tokens",
    "group_size",
    "prompts_per_step",
    "placement",
    "reward_model",
    "rollout_gpus",
    "rl_offload",
    "lora",
    "deadline",
    "checkpoint_every",
    "keep_checkpoints",
    "ep",
    "tp",
    "pp",
    "cp",
    "packing",
    "mean_seq_len",
    "steps",
)


def option_conflict(given: Collection[str], task: str, name: Callable[[str], str]) -> tuple[str, str] | None:
    """The first training/RL options among `given` (TRAINING_OPTIONS names) that do not go with each other or with
    the task, as (option, what is wrong, naming the others with `name`), or None. One rule for the command line
    (`--steps`) and the scenario file (column 'steps'), which differ only in how they name an option: steps and
    rl_offload belong to RL runs; a deadline needs the run's length (tokens, or steps on RL) to time it."""
    rl = task.strip().lower() in RL_ALGOS
    if "steps" in given and not rl:
        return "steps", f"counts the steps of an RL run (task grpo, ppo or dpo); time training with {name('tokens')}"
    if "rl_offload" in given and not rl:
        return "rl_offload", f"places the roles of an RL step (task grpo, ppo or dpo); training takes {name('offload')}"
    if "deadline" in given and "tokens" not in given:
        if not rl:
            return "deadline", f"needs {name('tokens')} (the dataset tokens per epoch) to time the run; add it"
        if "steps" not in given:
            return (
                "deadline",
                f"needs {name('steps')} or {name('tokens')} (the RL run's length) to time the run; add one",
            )
    return None


class Request(Base):
    """`sizing estimate`: one model, workload and GPU. Empty fields take defaults (sizing.specs.execution)."""

    model: Name = "7b"
    task: Name = "inference"
    engine: Name | None = None
    precision: Name = "bf16"
    kv_precision: Name | None = None
    gpu: Name = "rtx-4090"
    n_gpus: int = Field(1, ge=0, le=MAX_GPUS)  # 0: CPU only (inference)
    batch: int = Field(1, gt=0, le=MAX_BATCH)
    prompt_tokens: int | None = Field(None, ge=0, le=MAX_TOKENS)
    new_tokens: int | None = Field(None, ge=0, le=MAX_TOKENS)
    seq_len: int | None = Field(None, gt=0, le=MAX_TOKENS)
    # training tasks (empty: the trainer's defaults, data/trainers.csv)
    trainer: Name | None = None
    optimizer: Optimizer | None = None
    recompute: Recompute | None = None
    sharding: Sharding | None = None
    offload: AnyOffload | None = None  # training: optimizer/params; inference: layers, experts, cpu
    lora_rank: int | None = Field(None, gt=0, le=65536)
    lora_targets: LoraTargets | None = None
    grad_accum: int | None = Field(None, gt=0, le=MAX_BATCH)
    tokens: float | None = Field(None, gt=0, le=1e15, allow_inf_nan=False)  # dataset tokens per epoch
    epochs: float | None = Field(None, gt=0, le=1e4, allow_inf_nan=False)
    # training must end within deadline_s; a resumable save every N steps, or every N seconds
    deadline_s: float | None = Field(None, gt=0, le=MAX_DURATION_S, allow_inf_nan=False)
    checkpoint_every_steps: int | None = Field(None, gt=0, le=10**9)
    checkpoint_every_s: float | None = Field(None, gt=0, le=MAX_DURATION_S, allow_inf_nan=False)
    keep_checkpoints: int | None = Field(None, gt=0, le=10_000)  # resumable saves kept at once
    ep: int | None = Field(None, gt=0, le=MAX_GPUS)  # expert-parallel ways of an MoE model (training or serving)
    tp: int | None = Field(None, gt=0, le=MAX_GPUS)  # training: tensor-parallel ways
    pp: int | None = Field(None, gt=0, le=MAX_GPUS)  # training: pipeline stages (1F1B)
    cp: int | None = Field(None, gt=0, le=MAX_GPUS)  # training: context-parallel ways
    packing: Literal["on", "off"] | None = None  # training: samples packed (on) or padded to seq_len (off)
    mean_seq_len: int | None = Field(None, gt=0, le=MAX_TOKENS)  # training: average real sample length
    # distillation (task distill): `model` is the student
    teacher: Name | None = None
    teacher_precision: Name | None = None
    student_task: StudentTask | None = None
    mode: DistillMode | None = None
    kd_top_k: int | None = Field(None, gt=0, le=1_000_000)
    samples: int | None = Field(None, gt=0, le=10**12)
    response_tokens: int | None = Field(None, gt=0, le=MAX_TOKENS)
    # RL and preference fine-tuning (task grpo, ppo, dpo): `model` is the policy
    group_size: int | None = Field(None, gt=0, le=4096)
    prompts_per_step: int | None = Field(None, gt=0, le=10**7)
    placement: Placement | None = None
    rl_offload: RLOffload | None = None  # RL: what lives in host RAM (None: the trainer's default, sizing.rl)
    reward_model: Name | None = None
    rollout_gpus: int | None = Field(None, gt=0, le=MAX_GPUS)
    lora: bool = False  # the policy trains LoRA adapters on a frozen base
    steps: int | None = Field(None, gt=0, le=10**9)  # optimizer steps of the RL run (its --deadline)
    # the host as a device (inference): CPU-only runs and CPU+GPU offload (sizing/hybrid.py)
    cpu: Name | None = None
    n_sockets: int | None = Field(None, gt=0, le=8)
    memory: Name | None = None  # a memory.csv DIMM id
    n_dimms: int | None = Field(None, gt=0, le=96)  # populated DIMMs over all sockets
    gpu_layers: int | None = Field(None, ge=0, le=10_000)  # llama.cpp -ngl: layers on the GPUs
    threads: int | None = Field(None, gt=0, le=4096)  # CPU threads the engine computes on (default: every core)
    # latency targets (rules/latency.py): estimate reports whether they are met, recommend keeps builds that meet them
    max_ttft_s: float | None = Field(None, gt=0, le=1e6, allow_inf_nan=False)
    min_user_tokens_per_s: float | None = Field(None, gt=0, le=1e7, allow_inf_nan=False)
    dp_attention: bool = False  # serving: attention data parallel over the GPUs (estimate/dp_attention.py)
    # speculative decoding (estimate/inference.py speculative_token_s)
    speculative: SpeculativeMethod | None = None
    acceptance: float | None = Field(None, ge=0, lt=1, allow_inf_nan=False)  # share of draft tokens kept
    draft_tokens: int | None = Field(None, gt=0, le=64)  # tokens drafted per verify step (default 1)
    draft_model: Name | None = None  # --speculative draft-model: the drafter

    @field_validator("tokens", mode="before")
    @classmethod
    def _count(cls, value: Any) -> Any:
        """`200M`, `1.5B` as well as numbers (a form or a JSON body sends what the command line would)."""
        return parse_count(value, "--tokens") if isinstance(value, str) else value

    @field_validator("dp_attention")
    @classmethod
    def _serving_only(cls, value: bool, info: Any) -> bool:
        """Attention replicas are a serving engine's split: a training, distillation, RL or embedding run has none."""
        task = str(info.data.get("task", "inference"))
        if value and task.strip().lower() != "inference":
            raise SizingError(f"--dp-attention splits a serving engine's attention; --task {task} does not take it")
        return value


class RecommendRequest(Request):
    """`sizing recommend`: the workload (users = concurrent sequences, context = prompt + new tokens) and the
    constraints."""

    users: int = Field(DEFAULT_USERS, gt=0, le=MAX_BATCH)
    context: int | None = Field(None, gt=0, le=MAX_TOKENS)
    new_tokens: int | None = Field(DEFAULT_NEW_TOKENS, ge=0, le=MAX_TOKENS)
    budget: float | None = Field(None, gt=0, allow_inf_nan=False)
    gpus_allowed: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    cpus_allowed: tuple[str, ...] = ()
    circuit: Name | None = None
    circuits: int | None = Field(None, gt=0, le=64)
    max_gpus: int | None = Field(None, ge=0, le=MAX_GPUS)  # 0: CPU-only and edge builds
    build_class: BuildClass | None = None
    offline: bool = False
    form_factor: FormFactor | None = None
    target_tokens_per_s: float | None = Field(None, gt=0, allow_inf_nan=False)
    objective: Objective = "cost"
    currency: str = "USD"
    used: bool = False  # allow used-market prices
    as_of: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None  # judge price ages on this day

    @field_validator("gpus_allowed", "exclude", "cpus_allowed", mode="before")
    @classmethod
    def _ids(cls, value: Any, info: Any) -> Any:
        """Comma-separated ids, as `--gpu rtx-4090,rtx-a6000` or a form field gives them."""
        return split_ids(value, option_name(info.field_name)) if isinstance(value, (str, list, tuple)) else value
