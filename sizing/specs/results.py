"""Workloads and answers: estimates, composed builds, findings, options and recommendations."""

from __future__ import annotations

from typing import Literal

from .base import Base, NonNegFloat, NonNegInt, PosFloat, PosInt
from .hardware import Chassis, Circuit, Cpu, Dimm, Drive, Gpu, NetworkPart, Psu
from .model import Efficiency, Engine, ModelSpec, Precision

Task = Literal["inference"]


class Workload(Base):
    """How the model is run. Token counts are per sequence; batch is the number of concurrent sequences."""

    task: Task = "inference"
    engine: str = "vllm"
    precision: str = "bf16"
    kv_precision: str | None = None  # None: the engine's default
    batch: PosInt = 1
    prompt_tokens: NonNegInt = 512
    new_tokens: NonNegInt = 512
    n_gpus: PosInt = 1  # per node
    n_nodes: PosInt = 1  # nodes join by pipeline (layers split across nodes), tensor parallel within a node
    node_link_bytes_s: PosFloat = 25e9  # per direction between nodes (200 Gb/s InfiniBand HDR)


# ---------------------------------------------------------------------------------------------------- answers
class MemoryBreakdown(Base):
    weights_bytes: NonNegFloat
    kv_cache_bytes: NonNegFloat
    activations_bytes: NonNegFloat
    gradients_bytes: NonNegFloat = 0.0
    optimizer_bytes: NonNegFloat = 0.0
    overhead_bytes: NonNegFloat

    @property
    def total_bytes(self) -> float:
        return (self.weights_bytes + self.kv_cache_bytes + self.activations_bytes + self.gradients_bytes
                + self.optimizer_bytes + self.overhead_bytes)


class MemoryEstimate(Base):
    per_gpu_bytes: NonNegFloat  # device peak, what nvidia-smi shows (the busiest GPU)
    need_per_gpu_bytes: NonNegFloat  # what the work needs on that GPU (below per_gpu_bytes when an engine pre-allocates)
    usable_per_gpu_bytes: NonNegFloat  # what the engine may use: its pre-allocated fraction, else 95% of the card
    allocated_per_gpu_bytes: NonNegFloat  # allocator peak, torch.cuda.max_memory_allocated
    gpu_memory_bytes: PosFloat
    fits: bool
    breakdown: MemoryBreakdown  # of the busiest GPU; sums to per_gpu_bytes
    kv_bytes_per_token: NonNegFloat  # whole model, all layers
    max_batch_at_context: NonNegInt  # sequences of prompt+new tokens that fit beside the weights


class SpeedEstimate(Base):
    prefill_tokens_per_s: NonNegFloat
    decode_tokens_per_s: NonNegFloat  # per sequence, averaged while the cache grows
    decode_tokens_per_s_total: NonNegFloat  # summed over the batch
    e2e_tokens_per_s: NonNegFloat  # per sequence: new tokens / (prefill + decode time)
    time_to_first_token_s: NonNegFloat
    decode_bound: Literal["memory", "compute"]


class Estimate(Base):
    fits: bool
    model: ModelSpec
    gpu: Gpu
    engine: Engine
    precision: Precision
    kv_precision: Precision
    workload: Workload
    efficiency: Efficiency
    memory: MemoryEstimate
    speed: SpeedEstimate
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------------------ builds
class Constraints(Base):
    """What the user allows: resolved ids, limits and the ranking objective."""

    gpus: tuple[str, ...] = ()  # allow-list of GPU ids (empty: all)
    exclude: tuple[str, ...] = ()
    cpus: tuple[str, ...] = ()  # allow-list of CPU ids
    circuit: str | None = None  # None: 120 V/15 A for towers and workstations, rack 208 V/30 A for servers
    max_gpus: PosInt | None = None  # in total, over all nodes
    form_factor: Literal["tower", "rack"] | None = None  # tower includes workstations
    budget_usd: PosFloat | None = None
    target_tokens_per_s: PosFloat | None = None
    objective: Literal["cost", "speed", "cost-per-token"] = "cost"
    multi_node: bool = True


class Build(Base):
    """One composed server (or n_nodes identical ones): every part and its count."""

    gpu: Gpu
    n_gpus: PosInt  # per node
    n_nodes: PosInt = 1
    chassis: Chassis
    cpu: Cpu
    n_cpus: PosInt
    dimm: Dimm
    n_dimms: PosInt
    system_drive: Drive
    data_drive: Drive | None = None
    n_data_drives: NonNegInt = 0
    psu: Psu
    n_psus: PosInt
    nic: NetworkPart | None = None
    switch: NetworkPart | None = None
    circuit: Circuit
    gpu_lanes_each: PosInt  # PCIe lanes each GPU gets
    gpu_power_limit_w: PosFloat | None = None  # set when the circuit needs capped GPUs
    sustained_w: PosFloat  # DC load per node at full GPU power
    wall_w: PosFloat  # AC draw per node at the wall
    n_circuits: PosInt = 1  # circuits the node needs (rack servers spread their PSUs over feeds)
    psu_capacity_w: PosFloat  # continuous DC the PSU set delivers at this input voltage (redundant units excluded)
    ram_need_bytes: PosFloat
    system_drive_need_bytes: PosFloat
    data_drive_need_bytes: NonNegFloat
    cores_need: PosInt
    lanes_need: PosInt

    @property
    def ram_bytes(self) -> float:
        return self.n_dimms * self.dimm.capacity_bytes

    @property
    def memory_speed_mt_s(self) -> int:
        return min(self.dimm.speed_mt_s, self.cpu.max_memory_mt_s)

    @property
    def cpu_lanes(self) -> int:
        return self.cpu.usable_lanes(self.n_cpus)


class Finding(Base):
    rule: str
    ok: bool
    need: float | str | None = None
    have: float | str | None = None
    message: str


class Line(Base):
    kind: str
    id: str
    name: str
    quantity: PosInt
    unit_price_usd: PosFloat | None = None
    price_date: str | None = None


class Option(Base):
    build: Build
    lines: tuple[Line, ...]
    total_price_usd: NonNegFloat  # sum of priced lines
    unpriced: tuple[str, ...]  # ids of parts without a dated price (total is a lower bound)
    estimate: Estimate
    findings: tuple[Finding, ...]
    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)


class Rejection(Base):
    gpu: str
    n_gpus: PosInt
    n_nodes: PosInt = 1
    chassis: str
    findings: tuple[Finding, ...]  # the failed ones


class Recommendation(Base):
    request: dict
    workload: Workload
    model: ModelSpec
    options: tuple[Option, ...]  # ranked best first
    rejected: tuple[Rejection, ...]
    ways_out: tuple[str, ...] = ()  # when nothing fits: the cheapest changes that would
    currency: str = "USD"
    fx_rate: float = 1.0
    fx_date: str | None = None
    fx_source: str | None = None
