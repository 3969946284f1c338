"""Answers: estimates (memory, time per component, speed), findings, options and recommendations."""

from __future__ import annotations

from typing import Literal

from .base import Base, NonNegFloat, NonNegInt, PosFloat, PosInt
from .build import Build, Constraints, PowerDraw, Requirements
from .classes import BuildClass
from .execution import Execution
from .host import HostEstimate
from .model import Efficiency, ModelSpec
from .system import System
from .training import TrainingEstimate


class MemoryBreakdown(Base):
    weights_bytes: NonNegFloat
    kv_cache_bytes: NonNegFloat
    activations_bytes: NonNegFloat
    gradients_bytes: NonNegFloat = 0.0
    optimizer_bytes: NonNegFloat = 0.0
    overhead_bytes: NonNegFloat

    @property
    def total_bytes(self) -> float:
        return (
            self.weights_bytes
            + self.kv_cache_bytes
            + self.activations_bytes
            + self.gradients_bytes
            + self.optimizer_bytes
            + self.overhead_bytes
        )


class MemoryEstimate(Base):
    per_gpu_bytes: NonNegFloat  # device peak, what nvidia-smi shows (the busiest GPU)
    need_per_gpu_bytes: (
        NonNegFloat  # what the work needs on that GPU (below per_gpu_bytes when an engine pre-allocates)
    )
    usable_per_gpu_bytes: NonNegFloat  # what the engine may use: its pre-allocated fraction, else 95% of the card
    allocated_per_gpu_bytes: NonNegFloat  # allocator peak, torch.cuda.max_memory_allocated
    gpu_memory_bytes: NonNegFloat  # 0: no GPU (a CPU-only run)
    fits: bool
    breakdown: MemoryBreakdown  # of the busiest GPU; sums to per_gpu_bytes
    kv_bytes_per_token: NonNegFloat  # whole model, all layers
    max_batch_at_context: NonNegInt  # sequences of prompt+new tokens that fit beside the weights
    per_gpu_bytes_range: tuple[float, float] | None = None  # band of per_gpu_bytes (sizing.estimate.bands)


class StepTime(Base):
    """One forward step and the time of each component. The GPU's components overlap (roofline), so `total_s` is
    not their sum: it is what sizing.estimate.roofline.step_time makes of them, plus the communication."""

    total_s: NonNegFloat
    weights_s: NonNegFloat  # reading the weights
    kv_s: NonNegFloat  # reading the KV cache
    compute_s: NonNegFloat  # matmul and attention FLOPs
    comm_s: NonNegFloat  # all-reduces, activation hops between GPUs and nodes
    host_s: NonNegFloat  # per-layer launch and scheduling cost
    bound: Literal["memory", "compute"]


class SpeedEstimate(Base):
    prefill_tokens_per_s: NonNegFloat
    decode_tokens_per_s: NonNegFloat  # per sequence, averaged while the cache grows
    decode_tokens_per_s_total: NonNegFloat  # summed over the batch
    e2e_tokens_per_s: NonNegFloat  # per sequence: new tokens / (prefill + decode time)
    time_to_first_token_s: NonNegFloat  # the whole batch's prefill: what the last of `batch` users waits
    time_to_first_token_one_user_s: NonNegFloat  # one prompt alone: what a user arriving at an idle server waits
    decode_bound: Literal["memory", "compute"]
    # one request arriving at the server while the other batch-1 users decode and prefill (continuous batching with
    # chunked prefill: its own chunks interleaved with their decode steps, queued behind their prefills);
    # sizing.estimate.inference.loaded_ttft_s. 0 where not estimated (CPU/hybrid runs).
    time_to_first_token_loaded_s: NonNegFloat = 0.0
    tokens_per_step: PosFloat = 1.0  # expected tokens a decode step emits per sequence (>1 with --speculative)
    sequences_per_s: NonNegFloat = 0.0  # --task embed: sequences embedded (or query-document pairs scored) per s
    # uncertainty bands [lo, hi] from the cross-validated error of the engine and GPU class (data/bands.csv;
    # sizing.estimate.bands); None where the catalog has no band for the figure
    decode_tokens_per_s_range: tuple[float, float] | None = None
    decode_tokens_per_s_total_range: tuple[float, float] | None = None
    prefill_tokens_per_s_range: tuple[float, float] | None = None
    time_to_first_token_s_range: tuple[float, float] | None = None
    time_to_first_token_loaded_s_range: tuple[float, float] | None = None
    time_to_first_token_one_user_s_range: tuple[float, float] | None = None


CATALOG_GAP = "catalog_gap"  # a Finding's rule when the catalog lacks a part a chassis needs: no rule was judged


def said(*keys: str, **params: object) -> dict[str, object]:
    """A Finding's `key` and `params` (Finding(..., **said("finding.x", need="4"))): several keys are fragments
    joined in order ("finding.a|finding.b"), all filled from the same params, each value as str."""
    # zip/map build the (name, text) pairs without a Python generator step per field: ~8,500 Findings a search
    return {"key": "|".join(keys), "params": tuple(zip(params, map(str, params.values()), strict=True))}


class Finding(Base):
    rule: str
    ok: bool
    need: float | str | None = None
    have: float | str | None = None
    message: str  # English, as --json and the English terminal print it
    # the same sentence as a message-catalog key (templates/i18n/LANG.json `finding.*`) and its named fields,
    # numbers already formatted: what the terminal renders in another language (sizing.report.say.finding_text)
    key: str | None = None
    params: tuple[tuple[str, str], ...] = ()


class Estimate(Base):
    fits: bool
    model: ModelSpec
    execution: Execution
    system: System
    efficiency: Efficiency
    memory: MemoryEstimate
    speed: SpeedEstimate | None = None  # inference
    decode_step: StepTime | None = None  # inference: the mean decode step while the cache grows
    prefill: StepTime | None = None  # inference: the whole batch's prefill
    training: TrainingEstimate | None = None  # training tasks
    host: HostEstimate | None = None  # inference with weights in host RAM: RAM, bandwidths, bounds, parts
    notes: tuple[str, ...] = ()
    launch_command: str | None = None  # the engine command that runs what this estimate assumed
    targets: tuple[Finding, ...] = ()  # `estimate --max-ttft-s / --min-user-tokens-per-s`: met or not (rules.latency)

    @property
    def throughput_tokens_per_s(self) -> float:
        """What the build delivers: decoded tokens/s over all users, trained tokens/s over all GPUs, or for
        --task embed the prompt tokens embedded per second."""
        if self.training is not None:
            return self.training.train_tokens_per_s
        if self.execution.task == "embed" and self.speed:
            return self.speed.prefill_tokens_per_s
        return self.speed.decode_tokens_per_s_total if self.speed else 0.0


class Candidate(Base):
    """A composed build and everything the rules judge it by: what the work needs of it, what it draws, the
    estimate on its own links and power cap, what the user allows and what its priced parts cost."""

    build: Build
    requirements: Requirements
    power: PowerDraw
    estimate: Estimate
    constraints: Constraints
    subtotal_usd: NonNegFloat = 0.0  # the priced lines
    complete: bool = True  # every line has a price: only then is subtotal_usd the build's total

    @property
    def total_usd(self) -> float | None:
        """The build's price, or None when a part has no price this request may use."""
        return self.subtotal_usd if self.complete else None


class Line(Base):
    kind: str
    id: str
    name: str
    quantity: PosInt
    unit_price_usd: PosFloat | None = None  # None: no price this request may use (none, or used-only without --used)
    price_date: str | None = None
    price_kind: str | None = None
    stale: bool = False  # the price is more than 18 months older than the request's as_of date
    note: str | None = None  # why a part with a catalog price is unpriced here

    @property
    def line_total_usd(self) -> float | None:
        return self.unit_price_usd * self.quantity if self.unit_price_usd is not None else None


class Option(Base):
    """A build that passed every rule: the candidate, its bill of materials, every finding and why it ranks here."""

    candidate: Candidate
    lines: tuple[Line, ...]
    unpriced: tuple[str, ...]  # ids of parts without a dated price (total is a lower bound)
    findings: tuple[Finding, ...]
    reasons: tuple[str, ...] = ()

    @property
    def build(self) -> Build:
        return self.candidate.build

    @property
    def estimate(self) -> Estimate:
        return self.candidate.estimate

    @property
    def power(self) -> PowerDraw:
        return self.candidate.power

    @property
    def total_price_usd(self) -> float | None:
        """The whole order's price; None when any part is unpriced (subtotal_usd then counts the priced ones)."""
        return self.candidate.total_usd

    @property
    def subtotal_usd(self) -> float:
        return self.candidate.subtotal_usd


class Rejection(Base):
    gpu: str
    n_gpus: PosInt  # per node
    n_nodes: PosInt = 1
    chassis: str
    findings: tuple[Finding, ...]  # the failed ones
    total_price_usd: NonNegFloat | None = None  # the composed build's total (None: not composed, or a part unpriced)


class ClassOption(Base):
    """A CPU-only server or an edge box the recommender proposes: the estimate on it, its bill of materials, what
    it draws, and its memory layout (CPU-only: sockets, channels populated of the channels there are)."""

    build_class: BuildClass
    name: str
    form_factor: str  # rack, tower, embedded, mini-pc, unified
    estimate: Estimate
    lines: tuple[Line, ...]
    subtotal_usd: NonNegFloat
    unpriced: tuple[str, ...]
    power_w: PosFloat  # sustained draw at full load
    noise_dba: PosFloat | None = None
    ram_bytes: NonNegFloat  # installed memory (edge: the pool)
    mem_bw_bytes_s: PosFloat  # what decode reads weights at: populated channels x MT/s x 8 B per socket, or the bus
    n_sockets: NonNegInt = 0
    channels_populated: NonNegInt = 0
    channels_total: NonNegInt = 0
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def total_price_usd(self) -> float | None:
        return None if self.unpriced else self.subtotal_usd

    @property
    def throughput_tokens_per_s(self) -> float:
        return self.estimate.throughput_tokens_per_s


class Recommendation(Base):
    request: dict
    execution: Execution  # the base execution: one GPU; each option's estimate carries its own split
    model: ModelSpec
    options: tuple[Option, ...]  # ranked best first
    rejected: tuple[Rejection, ...]
    near_misses: tuple[Rejection, ...] = ()  # the cheapest composed builds that fail exactly one rule
    ways_out: tuple[str, ...] = ()  # when nothing fits: the cheapest changes that would
    currency: str = "USD"
    fx_rate: PosFloat = 1.0
    fx_date: str | None = None
    fx_source: str | None = None
    classes: tuple[ClassOption, ...] = ()  # CPU-only and edge builds (recommend/classes.py), ranked best first
    offline: tuple[str, ...] = ()  # --offline: what an air-gapped site adds, one line each
    class_notes: tuple[str, ...] = ()  # why a build class has no builds, what a second GPU buys, refusals
