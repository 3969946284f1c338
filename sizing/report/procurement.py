"""The procurement report (`sizing report`): what a buyer hands to purchasing, finance and facilities, as frozen
objects. Every amount is in the report's currency; every sentence is a message key and its values, so one report
renders in any language (procurement_render.py, templates/i18n/)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from sizing.specs import Base, NonNegFloat, PosFloat, PosInt

Lang = Literal["en", "zh"]
LANGS: tuple[str, ...] = ("en", "zh")
FORMATS: tuple[str, ...] = ("md", "html", "xlsx", "json", "pdf")

# Defaults, each with its source. The tariff is a US figure: give your own --tariff for any other place.
DEFAULT_TARIFF_USD_PER_KWH = 0.12  # EIA Electricity Monthly Update 2024: the median state's average retail
# revenue was 11.2-11.9 US cents/kWh (eia.gov/electricity/monthly/update/end-use.php)
TARIFF_SOURCE = "EIA Electricity Monthly Update 2024 (median US state, 11.2-11.9 US cents/kWh)"
DEFAULT_UTILISATION = 0.6  # issue 12's example: the share of the year the machine works at full load
DEFAULT_YEARS = 3.0  # issue 12's example: the ownership period
BTU_H_PER_W = 3.412  # 1 W = 3.412 BTU/h (1 BTU(IT)/h = 0.29307 W, NIST SP 811 appendix B)
HOURS_PER_YEAR = 8760.0  # 365 days x 24 h
TRANSIENT_FACTOR = 2.0  # GPU power excursions to 200% of rated power for up to 100 us, which ATX 3.x supplies ride
# (hardware.md §3.2 [S52]; sizing/estimate/power.py ATX_HEADROOM)
# The estimator's accuracy targets (median absolute error against public measurements, benchmarks/accuracy.py
# TARGETS and TRAIN_TARGETS): the band a measured figure should land in.
DECODE_BAND = 0.12
PREFILL_BAND = 0.20
MEMORY_BAND = 0.08


class ReportOptions(Base):
    """What the buyer adds to a recommendation: VAT, the energy tariff, how hard and how long the machine works,
    and the report's metadata (date, command line, catalog folder)."""

    vat: float | None = Field(None, ge=0, lt=1)  # 0.13: China's standard VAT rate; None: prices as listed
    tariff: float | None = Field(None, gt=0, le=1000, allow_inf_nan=False)  # report currency per kWh
    utilisation: float = Field(DEFAULT_UTILISATION, gt=0, le=1)
    years: float = Field(DEFAULT_YEARS, gt=0, le=30, allow_inf_nan=False)
    date: str | None = None  # the day the report is made (the CLI passes today)
    command: str | None = None  # the command line that made it
    data: str | None = None  # the catalog folder (None: the bundled data/)


class BomLine(Base):
    kind: str
    id: str
    name: str
    quantity: PosInt
    unit_price: PosFloat | None = None  # None: no price this request may use
    line_total: NonNegFloat | None = None
    price_kind: str | None = None
    price_date: str | None = None
    price_source: str | None = None
    stale: bool = False
    used: bool = False
    note: str | None = None
    unconfirmed: tuple[str, ...] = ()  # catalog columns no source confirms


class KindTotal(Base):
    kind: str
    amount: NonNegFloat  # the priced lines of this kind
    n_unpriced: int = 0


class Bom(Base):
    lines: tuple[BomLine, ...]
    by_kind: tuple[KindTotal, ...]
    priced_subtotal: NonNegFloat
    total: NonNegFloat | None  # None: a part has no usable price
    vat_rate: float | None = None
    vat: NonNegFloat | None = None  # on the priced subtotal
    total_with_vat: NonNegFloat | None = None  # total + VAT (= total without --vat)
    unpriced: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()


class MemoryShare(Base):
    part: str  # weights, kv_cache, activations, gradients, optimizer, overhead
    bytes: NonNegFloat


class MemoryFacts(Base):
    """The busiest GPU's memory against the card's."""

    shares: tuple[MemoryShare, ...]
    per_gpu_bytes: NonNegFloat
    need_bytes: NonNegFloat
    usable_bytes: NonNegFloat
    capacity_bytes: PosFloat
    fits: bool
    host_bytes: NonNegFloat | None = None  # hybrid offload: the weights and cache kept in host RAM
    ram_bytes: NonNegFloat | None = None  # hybrid offload: the RAM installed


class Performance(Base):
    task: str
    band: float  # the estimate's +- band (a fraction)
    decode_tokens_per_s: NonNegFloat | None = None  # per user
    decode_tokens_per_s_total: NonNegFloat | None = None
    prefill_tokens_per_s: NonNegFloat | None = None
    ttft_one_user_s: NonNegFloat | None = None
    ttft_all_users_s: NonNegFloat | None = None
    bound: str | None = None
    train_tokens_per_s: NonNegFloat | None = None
    step_s: NonNegFloat | None = None
    mfu: NonNegFloat | None = None
    run_s: NonNegFloat | None = None  # with --tokens
    gpu_hours: NonNegFloat | None = None

    @property
    def throughput(self) -> float:
        return self.train_tokens_per_s or self.decode_tokens_per_s_total or 0.0


Noise = Literal["server", "blower", "open_air"]


class Facilities(Base):
    """What facilities plan for: the draw, the supplies, the circuits, the heat, the space and the noise."""

    n_nodes: PosInt
    sustained_w: PosFloat  # DC load at full GPU power, all nodes
    transient_w: PosFloat  # with the GPUs at TRANSIENT_FACTOR x their power for up to 100 us
    wall_w: PosFloat  # AC at the wall with the build's GPU power cap
    full_wall_w: PosFloat  # AC at the wall at full GPU power
    gpu_power_limit_w: PosFloat | None = None
    gpu_tdp_w: PosFloat
    psu_name: str
    psu_w: PosFloat  # one supply's rating
    n_psus: PosInt  # installed, all nodes
    psu_capacity_w: PosFloat  # what the active supplies give, all nodes
    psu_efficiency: PosFloat
    redundancy: str
    circuit: str  # its label, e.g. 120 V / 15 A
    circuit_continuous_w: PosFloat
    n_circuits: PosInt  # all nodes
    heat_w: PosFloat
    heat_btu_h: PosFloat
    form_factor: str  # tower, workstation, rack
    rack_units: PosInt | None = None  # all nodes; None for towers
    has_switch: bool = False
    noise: Noise
    energy_kwh_year: NonNegFloat
    energy_cost_year: NonNegFloat


class Ownership(Base):
    """Hardware and energy over the ownership period, and what a million tokens or one training run costs."""

    hardware: NonNegFloat  # with VAT where given; the priced parts when `complete` is false (a lower bound)
    complete: bool
    energy_year: NonNegFloat
    energy_total: NonNegFloat
    total: NonNegFloat
    tokens_total: NonNegFloat | None = None  # inference: decoded over the period at the utilisation
    cost_per_mtok: NonNegFloat | None = None
    energy_per_mtok: NonNegFloat | None = None
    run_s: NonNegFloat | None = None  # training with --tokens
    energy_per_run: NonNegFloat | None = None
    cost_per_run: NonNegFloat | None = None  # the run's energy + its share of the hardware's working hours
    runs_in_period: NonNegFloat | None = None


class BuildFacts(Base):
    rank: PosInt
    gpu_id: str
    gpu_name: str
    n_gpus: PosInt  # all nodes
    n_gpus_per_node: PosInt
    n_nodes: PosInt
    chassis_id: str
    chassis_name: str
    cpu: str  # "2 x Intel Xeon ..."
    ram_bytes: PosFloat  # all nodes
    vram_bytes: PosFloat  # all nodes
    gpu_link: str  # how the GPUs talk: NVLink, PCIe P2P, host memory
    bom: Bom
    memory: MemoryFacts
    performance: Performance
    facilities: Facilities
    ownership: Ownership
    launch: str | None = None  # the engine's launch command for this split (inference)


Value = str | float | int | None


class Risk(Base):
    """One thing a buyer must know: a message key (risk.KEY.title / risk.KEY.text) and the values it names."""

    key: str
    params: dict[str, Value] = {}


class Miss(Base):
    """A rejected shape or a near miss: the first rule it failed, in plain words (rule.RULE) and as the tool
    said it (detail, English), with what it needed and had where the rule's unit is known."""

    gpu: str
    n_gpus: PosInt  # all nodes
    n_nodes: PosInt = 1
    chassis: str
    rule: str
    unit: str | None = None  # bytes, decimal_bytes, watts, count, tokens_per_s, money
    need: float | None = None
    have: float | None = None
    detail: str
    total: NonNegFloat | None = None  # near misses: the build's price


class Check(Base):
    metric: str  # a message key: accept.metric.KEY
    expected: str | float | None = None  # the figure the build should show (None: bench prints the estimate)
    band: float | None = None  # the least measured / estimate ratio is 1 - band
    unit: str | None = None


class Acceptance(Base):
    """What to run when the machine arrives and the figures that count as a pass."""

    bench_command: str
    bench_model: str
    same_model: bool  # the bench decoder has the report's model shape (else a smaller stand-in that fits a GPU)
    smi_command: str | None = None  # NVIDIA: nvidia-smi's inventory query
    load_command: str | None = None  # the engine's own serving benchmark, where it has one
    checks: tuple[Check, ...]


class ChartPoint(Base):
    rank: PosInt
    label: str
    price: NonNegFloat  # the total, or the priced subtotal (a lower bound) when `complete` is false
    complete: bool
    throughput: NonNegFloat


class Workload(Base):
    task: str
    engine: str
    engine_name: str
    precision: str
    kv_precision: str
    users: PosInt  # inference: concurrent sequences; training: micro-batch per GPU
    prompt_tokens: int
    new_tokens: int
    trainer: str | None = None
    sharding: str | None = None
    optimizer: str | None = None
    recompute: str | None = None
    grad_accum: int | None = None
    tokens: float | None = None
    epochs: float | None = None


class PhaseFacts(Base):
    """One phase of a distillation plan on the recommended build: what runs, how fast, how long, what it writes."""

    name: str  # teacher-labels, teacher-generation, student-training, online
    model: str
    tokens: PosFloat
    tokens_per_s: NonNegFloat  # the teacher's prefill or generation rate, or the student's training rate
    time_s: PosFloat
    storage_bytes: NonNegFloat = 0.0  # the top-k soft labels or generated text it writes
    write_bytes_s: NonNegFloat = 0.0
    memory: MemoryFacts
    best: str | None = None  # the cheapest build for this phase alone ("1 × GPU"), None where none passes
    best_price: NonNegFloat | None = None  # its total (the priced subtotal while a part is unpriced)


class ModeFacts(Base):
    """One distillation mode on the recommended build, costed like a run (Ownership.cost_per_run)."""

    mode: str  # offline, online, sequence
    fits: bool
    time_s: NonNegFloat
    storage_bytes: NonNegFloat
    cost_per_run: NonNegFloat | None = None  # None: the mode does not fit this build


class DistillFacts(Base):
    mode: str  # the chosen (cheapest) mode
    teacher: str
    student: str
    top_k: PosInt
    epochs: PosFloat
    samples: PosInt | None = None  # sequence-level
    total_time_s: PosFloat
    storage_bytes: NonNegFloat
    drive_bytes: NonNegFloat  # what the build's data drives hold
    phases: tuple[PhaseFacts, ...]
    modes: tuple[ModeFacts, ...]  # every mode judged on the build, the chosen one included


class RoleFacts(Base):
    name: str  # policy, reference, reward, critic, rollout
    model: str
    trains: bool
    gpus: str  # shared, training, rollout
    per_gpu_bytes: NonNegFloat


class RLFacts(Base):
    algo: str
    placement: str  # colocated, disaggregated
    n_gpus: PosInt  # training + rollout GPUs
    group_size: PosInt
    prompts_per_step: PosInt
    prompt_tokens: PosInt
    response_tokens: PosInt
    sequences: PosInt
    tokens_per_step: PosFloat
    rollout_batch: PosInt
    rollout_engine: str
    roles: tuple[RoleFacts, ...]
    rollout_s: NonNegFloat
    scoring_s: NonNegFloat
    update_s: NonNegFloat
    sync_s: NonNegFloat
    offload_s: NonNegFloat = 0.0  # offloaded frozen weights host -> GPU (--rl-offload)
    step_s: PosFloat
    n_steps: PosInt  # the steps a "run" is costed for (Ownership.cost_per_run)
    host_bytes: NonNegFloat  # the offloaded training states the host RAM holds, per node
    ram_bytes: PosFloat  # the build's RAM per node


class ProcurementReport(Base):
    tool: str = "sizing"
    version: str
    date: str | None = None
    command: str | None = None
    data: str | None = None
    currency: str
    fx_rate: PosFloat
    fx_date: str | None = None
    fx_source: str | None = None
    vat: float | None = None
    tariff: PosFloat  # report currency per kWh
    tariff_source: str  # "--tariff" or the default's source
    utilisation: Annotated[float, Field(gt=0, le=1)]
    years: PosFloat
    as_of: str | None = None  # the day price ages were judged on
    model_id: str
    model_name: str
    model_requested: str
    n_params: PosFloat
    assumed: str | None = None
    workload: Workload
    objective: str
    n_options: PosInt
    recommended: BuildFacts
    runner_up: BuildFacts | None = None
    chart: tuple[ChartPoint, ...]
    risks: tuple[Risk, ...]
    near_misses: tuple[Miss, ...]
    rejected: tuple[Miss, ...]
    n_rejected: int
    acceptance: Acceptance
    source: dict  # the recommendation's JSON for the two builds shown (sizing recommend --json keys)
    distill: DistillFacts | None = None  # --task distill: the plan on the recommended build
    rl: RLFacts | None = None  # --task grpo | ppo | dpo: the step on the recommended build
