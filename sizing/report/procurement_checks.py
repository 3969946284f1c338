"""The parts of a procurement report that judge rather than add up: the risks a buyer must know, the rejected
options and near misses in plain words, the acceptance test for the day the machine arrives, and the engine's
launch command."""

from __future__ import annotations

from sizing.specs import CATALOG_GAP, Finding, Option, Recommendation
from sizing.specs.training import TRAIN_BAND

from .procurement import (
    DECODE_BAND,
    MEMORY_BAND,
    PREFILL_BAND,
    Acceptance,
    Bom,
    Check,
    Miss,
    Risk,
)

# GPUs that US export rules on advanced computing chips (EAR ECCN 3A090 / 4A090; BIS rules of 7 Oct 2022 and
# 17 Oct 2023, and later changes) have put under licence requirements for China and other destinations, as NVIDIA
# reported them in its Form 8-K filings (31 Aug 2022: A100, H100; 24 Oct 2023: A100, A800, H100, H800, L4, L40,
# L40S, RTX 4090; 15 Apr 2025: H20); H200 and the Blackwell parts exceed the same 3A090 thresholds. A list to check
# the rules against, not a legal classification; the RTX 4090 D was made to stay outside them.
CONTROLLED = ("a100", "a800", "h100", "h800", "h200", "h20", "b100", "b200", "b300", "gb200", "gb300", "l4", "l40")
CONTROLLED_EXACT = ("l40s", "rtx-4090", "rtx-4090-blower")
# the unit of a rule's need/have (sizing/rules/*.py), where the rule gives numbers
RULE_UNITS = {
    "gpu_memory": "bytes",
    "system_ram": "bytes",
    "system_drive": "decimal_bytes",
    "data_drive": "decimal_bytes",
    "psu_capacity": "watts",
    "wall_circuit": "watts",
    "pcie_lanes": "count",
    "cpu_cores": "count",
    "memory_channels": "count",
    "psu_connectors": "count",
    "target_speed": "tokens_per_s",
    "budget": "money",
}
N_REJECTED = 8  # rejected shapes the report explains (the JSON of `sizing recommend` lists every one)
BENCH_FIT = 0.6  # the bench decoder's bf16 weights may take this share of one GPU: the rest holds its cache and
# activations (a margin chosen here, not measured)
STAND_INS = (8e9, 3e9, 1e9)  # generic sizes `sizing bench --model 8b|3b|1b` resolves (README, --model)
BF16_BYTES = 2


def is_controlled(gpu_id: str) -> bool:
    return gpu_id in CONTROLLED_EXACT or any(gpu_id == p or gpu_id.startswith(p + "-") for p in CONTROLLED)


def _ids(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(dict.fromkeys(values))


def _gpu_risks(o: Option) -> list[Risk]:
    b = o.build
    gpu = b.gpu
    out: list[Risk] = []
    if not gpu.p2p and gpu.nvlink == "none":
        key = "no_p2p" if b.n_gpus > 1 else "no_p2p_single"
        out.append(Risk(key=key, params={"gpu": gpu.name, "n": b.n_gpus}))
    if gpu.gpu_class == "geforce":
        out.append(Risk(key="geforce_licence", params={"gpu": gpu.name}))
        out.append(Risk(key="consumer_warranty", params={"gpu": gpu.name}))
    if is_controlled(gpu.id):
        out.append(Risk(key="export_control", params={"gpu": gpu.name}))
    if b.gpu_power_limit_w:
        key = "power_cap_psu" if o.power.capped_for_psu else "power_cap"
        out.append(Risk(key=key, params={"cap_w": b.gpu_power_limit_w, "tdp_w": gpu.tdp_w}))
    if b.dimm.speed_mt_s > b.memory_speed_mt_s:
        params = {"dimm": b.dimm.name, "rated": b.dimm.speed_mt_s, "runs": b.memory_speed_mt_s, "cpu": b.cpu.name}
        out.append(Risk(key="ddr_capped", params=params))
    return out


def risks(r: Recommendation, o: Option, bom: Bom, tariff_given: bool) -> tuple[Risk, ...]:
    """What the buyer must check before ordering, the build's own risks first, then the figures' quality."""
    out = _gpu_risks(o)
    if bom.unpriced:
        out.append(Risk(key="unpriced", params={"parts": _ids(bom.unpriced)}))
    if bom.stale:
        out.append(Risk(key="stale_prices", params={"parts": _ids(bom.stale)}))
    estimated = [ln.id for ln in bom.lines if ln.price_kind == "estimate" and ln.unit_price is not None]
    if estimated:
        out.append(Risk(key="estimated_prices", params={"parts": _ids(estimated)}))
    used = [ln.id for ln in bom.lines if ln.used]
    if used:
        out.append(Risk(key="used_parts", params={"parts": _ids(used)}))
    unconfirmed = [f"{ln.id} ({', '.join(ln.unconfirmed)})" for ln in bom.lines if ln.unconfirmed]
    if unconfirmed:
        out.append(Risk(key="unconfirmed", params={"parts": "; ".join(dict.fromkeys(unconfirmed))}))
    if r.model.assumed:
        out.append(Risk(key="assumed_model", params={"model": r.model.name}))
    if r.currency != "USD":
        out.append(Risk(key="fx", params={"rate": r.fx_rate, "currency": r.currency, "date": r.fx_date or "?"}))
    if not tariff_given:
        out.append(Risk(key="tariff_assumed"))
    return tuple(out)


def _miss(f: Finding, where: tuple[str, int, int, str], fx_rate: float, total: float | None = None) -> Miss:
    gpu, n_gpus, n_nodes, chassis = where
    unit = RULE_UNITS.get(f.rule)
    numbers = isinstance(f.need, (int, float)) and isinstance(f.have, (int, float))
    scale = fx_rate if unit == "money" else 1.0
    return Miss(
        gpu=gpu,
        n_gpus=n_gpus,
        n_nodes=n_nodes,
        chassis=chassis,
        rule=f.rule,
        unit=unit if numbers else None,
        need=float(f.need) * scale if numbers and unit else None,  # type: ignore[arg-type]
        have=float(f.have) * scale if numbers and unit else None,  # type: ignore[arg-type]
        detail=f.message,
        total=None if total is None else round(total * fx_rate, 2),
    )


def near_misses(r: Recommendation) -> tuple[Miss, ...]:
    """The cheapest fully priced builds that fail exactly one rule, one per shape."""
    return tuple(
        _miss(m.findings[0], (m.gpu, m.n_gpus * m.n_nodes, m.n_nodes, m.chassis), r.fx_rate, m.total_price_usd)
        for m in r.near_misses
        if m.findings
    )


def rejected(r: Recommendation, n: int = N_REJECTED) -> tuple[Miss, ...]:
    """Shapes (GPU and count) with no passing chassis, each with the first rule its first judged chassis failed;
    a catalog gap (the catalog lacks a part the chassis needs) says nothing about the shape and is skipped."""
    passed = {(o.build.gpu.id, o.build.n_gpus * o.build.n_nodes) for o in r.options}
    seen: set[tuple[str, int]] = set()
    out: list[Miss] = []
    for rj in r.rejected:
        key = (rj.gpu, rj.n_gpus * rj.n_nodes)
        judged = [f for f in rj.findings if f.rule != CATALOG_GAP]
        if not judged or key in passed or key in seen or len(out) >= n:
            continue
        seen.add(key)
        out.append(_miss(judged[0], (rj.gpu, key[1], rj.n_nodes, rj.chassis), r.fx_rate))
    return tuple(out)


def launch_command(o: Option) -> str | None:
    """How the engine is started for this build's split: the estimate's own command (estimate/launch.py, the one
    `sizing estimate` and `sizing recommend` print, with its replicas, expert and attention data parallel), None for
    training or an engine without a command there."""
    return None if o.estimate.execution.training is not None else o.estimate.launch_command


def _bench_model(r: Recommendation, o: Option) -> tuple[str, bool]:
    """The report's model when its bf16 weights fit one GPU with room for the bench's cache (dense decoders only),
    else the largest generic stand-in that does."""
    room = BENCH_FIT * o.build.gpu.memory_bytes
    if not r.model.is_moe and r.model.n_params * BF16_BYTES <= room:
        return str(r.request.get("model") or r.model.id), True
    size = next((s for s in STAND_INS if s * BF16_BYTES <= room), STAND_INS[-1])
    return f"{size / 1e9:.0f}b", False


def acceptance(r: Recommendation, o: Option) -> Acceptance:
    """The day the machine arrives: the inventory (nvidia-smi), `sizing bench` on every GPU, and the workload's own
    throughput, each with the figure that counts as a pass (the estimator's accuracy targets as bands)."""
    b, e = o.build, o.estimate
    model, same = _bench_model(r, o)
    x = e.execution
    work = f" --batch {x.batch} --prompt-tokens {x.prompt_tokens}" if same and x.training is None else ""
    bench = (
        f"for i in $(seq 0 {b.n_gpus - 1}); do CUDA_VISIBLE_DEVICES=$i sizing bench --model {model} --gpu {b.gpu.id}"
        f"{work} --out acceptance/gpu$i; done"
    )
    lanes = min(b.gpu.pcie_lanes, 16 if b.chassis.pcie_switch else b.gpu_lanes_each)
    checks = [
        Check(metric="gpu_count", expected=b.n_gpus, unit="count"),
        Check(metric="gpu_memory", expected=round(b.gpu.memory_bytes / 2**20), unit="mib"),
        Check(metric="power_limit", expected=b.gpu_power_limit_w or b.gpu.tdp_w, unit="watts"),
        Check(metric="pcie_width", expected=lanes, unit="count"),
        Check(metric="bench_decode", band=DECODE_BAND),
        Check(metric="bench_prefill", band=PREFILL_BAND),
        Check(metric="bench_memory", band=MEMORY_BAND),
    ]
    load = None
    if e.training is not None:
        checks.append(
            Check(metric="train_throughput", expected=e.training.train_tokens_per_s, band=TRAIN_BAND, unit="tok")
        )
    elif e.speed is not None:
        checks.append(
            Check(metric="serve_decode", expected=e.speed.decode_tokens_per_s_total, band=DECODE_BAND, unit="tok")
        )
        if x.engine.id == "vllm":
            load = (
                f"vllm bench serve --model {r.model.hf_repo or '<model>'} --dataset-name random --random-input-len "
                f"{x.prompt_tokens} --random-output-len {x.new_tokens} --max-concurrency {x.batch} "
                f"--num-prompts {x.batch * 8}"
            )
    smi = (
        "nvidia-smi --query-gpu=name,memory.total,power.limit,pcie.link.width.max --format=csv"
        if b.gpu.vendor == "nvidia"
        else None
    )
    return Acceptance(
        bench_command=bench,
        bench_model=model,
        same_model=same,
        smi_command=smi,
        load_command=load,
        checks=tuple(checks),
    )
