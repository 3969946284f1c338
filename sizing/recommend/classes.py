"""Build classes beside the GPU servers (issue 14): CPU-only servers, one- or two-GPU hybrid machines that keep the
weights the GPU cannot hold in RAM, small edge boxes (data/systems.csv), and what an air-gapped site adds (--offline).

- **cpu**: every allowed DDR5 CPU with 8-24 channels over one or two sockets, in the smallest catalog chassis for
  its socket, with identical DIMMs in *every* channel (bandwidth is channels x MT/s x 8 B; estimate/cpu.py), sized to
  the RAM the run needs; estimated by estimate/hybrid.py with the engine on the CPU alone.
- **hybrid**: n x GPU in a tower/workstation/rack chassis, the routed experts (MoE, `-ot exps=CPU`) or the layers that
  do not fit (`-ngl`) in RAM; composed by `derive` like any GPU build (RAM sized to the host side), judged by every
  rule, so these are `Option`s ranked with the GPU builds.
- **edge**: an EdgeSystem's accelerator as a GPU whose memory is the pool less the OS reserve; the engine must be one
  the box documents (llama.cpp on Metal, CUDA, Vulkan/ROCm), else it is refused with the reason.

Pure: the parts come through `ClassParts` (the catalog satisfies it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import NamedTuple, Protocol

from sizing import estimate as est
from sizing import rules
from sizing.estimate import cpu as host_cpu
from sizing.estimate import hybrid as hybrid_estimate
from sizing.estimate.power import load_w, psu_capacity_w, psu_headroom
from sizing.estimate.requirements import DATA_BASE_BYTES, OS_DISK_BYTES, OS_RAM_BYTES
from sizing.estimate.shapes import model_file_bytes
from sizing.specs import (
    Chassis,
    ClassOption,
    Cpu,
    CpuEfficiency,
    EdgeSystem,
    Efficiency,
    Engine,
    Estimate,
    Execution,
    Finding,
    Gpu,
    Host,
    HybridSetup,
    Line,
    Objective,
    Parallelism,
    Part,
    Requirements,
    System,
    said,
)
from sizing.units import fmt_bytes, fmt_money, fmt_rate, fmt_watts

from .derive import pick_dimms, pick_storage, psu_sets
from .prices import line_of
from .provider import PartsProvider, Problem

CPU_CHANNELS = (8, 24)  # the CPU-only class: one or two DDR5 sockets with 8-24 channels in all (issue 14)
HYBRID_GPUS = (1, 2)  # a second GPU adds capacity for layers; for decode it buys little (issue 14)
CPU_PLATFORM_W = 150.0  # board, fans, NIC and BMC of a CPU server besides CPUs, DIMMs and drives (UNCONFIRMED)


class ClassParts(PartsProvider, Protocol):
    """What the build classes ask of the catalog beyond the GPU search: edge systems, engines and CPU factors."""

    @property
    def systems(self) -> Mapping[str, EdgeSystem]: ...
    @property
    def engines(self) -> Mapping[str, Engine]: ...

    def cpu_efficiency(self, engine: str) -> CpuEfficiency: ...


class ClassPlan(NamedTuple):
    """What the class searches need beside the GPU problem: the parts, the request's execution with an engine that
    runs on the CPU alone (None: none named runs there), one with an engine that keeps weights in RAM (None: the
    named engine does not), whether the user named the engine, and the GPU a CPU-only System carries unread."""

    parts: ClassParts
    host_execution: Execution | None
    hybrid_execution: Execution | None
    engine_named: bool
    any_gpu: Gpu
    notes: tuple[str, ...] = ()


# -- ranking ------------------------------------------------------------------------------------------------------
def class_key(o: ClassOption, objective: Objective) -> tuple:
    """rank.rank_key for a class build: unpriced last, then by the objective."""
    rate = max(o.throughput_tokens_per_s, 1e-9)
    unknown = (o.total_price_usd is None, len(o.unpriced))
    if objective == "speed":
        return (-rate, *unknown, o.subtotal_usd)
    if objective == "cost-per-token":
        return (*unknown, o.subtotal_usd / rate, -rate)
    return (*unknown, o.subtotal_usd, -rate)


def ranked_classes(options: Iterable[ClassOption], objective: Objective) -> tuple[ClassOption, ...]:
    best = sorted(options, key=lambda o: class_key(o, objective))
    out = []
    for i, o in enumerate(best):
        place = f"{'best' if i == 0 else f'#{i + 1}'} of {len(best)} {o.build_class} builds by {objective}"
        out.append(o.model_copy(update={"reasons": (place, *o.reasons)}))
    return tuple(out)


def _speed_reason(e: Estimate) -> str:
    s = e.speed
    assert s is not None
    return (
        f"decode {fmt_rate(s.decode_tokens_per_s)} per user, {fmt_rate(s.decode_tokens_per_s_total)} in total "
        f"({e.execution.batch} users); first token after {s.time_to_first_token_one_user_s:.2f} s for one prompt"
    )


def _limits(o: ClassOption, problem: Problem) -> tuple[Finding, ...]:
    """The request's budget and speed target on a class build (rules.budget / target_speed read a Candidate)."""
    c, out = problem.constraints, []
    if c.budget_usd is not None:
        total = o.total_price_usd
        ok = total is not None and total <= c.budget_usd
        have = fmt_money(total) if total is not None else "no total (a part is unpriced)"
        words = said("finding.class_budget" if total is not None else "finding.class_budget.unpriced", total=have)
        out.append(Finding(rule="budget", ok=ok, need=c.budget_usd, have=total, message=f"costs {have}", **words))
    if c.target_tokens_per_s is not None:
        rate = o.throughput_tokens_per_s
        out.append(
            Finding(
                rule="target_speed",
                ok=rate >= c.target_tokens_per_s,
                need=c.target_tokens_per_s,
                have=rate,
                message=f"decodes {fmt_rate(rate)} in total, target {fmt_rate(c.target_tokens_per_s)}",
                **said(
                    "finding.target_speed.decodes",
                    "finding.target",
                    have=fmt_rate(rate),
                    target=fmt_rate(c.target_tokens_per_s),
                ),
            )
        )
    return tuple(out)


def _bill(items: Iterable[tuple[str, Part, int]], problem: Problem) -> tuple[tuple[Line, ...], float, tuple[str, ...]]:
    lines = tuple(line_of(kind, p, q, problem.constraints) for kind, p, q in items)
    return (
        lines,
        sum(ln.line_total_usd or 0.0 for ln in lines),
        tuple(ln.id for ln in lines if ln.unit_price_usd is None),
    )


# -- CPU-only servers ---------------------------------------------------------------------------------------------
def cpu_host_execution(x: Execution, cpu_eff: CpuEfficiency) -> Execution:
    """The execution on the CPU alone (llama.cpp -ngl 0 and its kin): no GPU layers, no split."""
    setup = HybridSetup(offload="cpu", gpu_layers=0, cpu_eff=cpu_eff)
    return x.model_copy(update={"hybrid": setup, "parallelism": Parallelism()})


def cpu_chassis(parts: PartsProvider, cpu: Cpu, sockets: int, form: str | None) -> Chassis | None:
    """The smallest, then cheapest, catalog chassis for the CPU's socket with `sockets` sockets (the catalog holds
    GPU platforms: a CPU-only build leaves their GPU slots empty)."""
    forms = {"tower": ("tower", "workstation"), "rack": ("rack",)}.get(form or "", None)
    boxes = [
        c
        for c in parts.chassis.values()
        if c.cpu_socket_type == cpu.socket and c.cpu_sockets >= sockets and (forms is None or c.form_factor in forms)
    ]
    return min(boxes, key=lambda c: (c.cpu_sockets, c.max_gpus, c.price_usd is None, c.price_usd or 0.0), default=None)


def _psu(parts: PartsProvider, chassis: Chassis, volts: float, load: float):
    """The first PSU set in derive.psu_sets' preference order whose capacity covers the headroom rule."""
    need = load * psu_headroom(chassis.psu_form)
    ranked = psu_sets(parts.psus.values(), chassis, volts)
    for psu, n, capacity in ranked.sets:
        if capacity >= need:
            return psu, n
    if not ranked.kind:
        return None
    return max(ranked.kind, key=lambda p: psu_capacity_w(p, chassis, volts, chassis.psu_bays)), chassis.psu_bays


def host_ram_need(host_bytes: float) -> float:
    """RAM to install for a run that keeps `host_bytes` in RAM: it must fit in 90% of the RAM (estimate/cpu.py
    HOST_RAM_USABLE) and leave the OS its 32 GiB (estimate/requirements.py)."""
    return max(host_bytes / host_cpu.HOST_RAM_USABLE, host_bytes + OS_RAM_BYTES)


def cpu_builds(problem: Problem, parts: ClassParts, x: Execution, eff: Efficiency, gpu: Gpu) -> list[ClassOption]:
    """Every allowed DDR5 CPU x {1, 2} sockets with 8-24 channels, every channel populated. `gpu`: any catalog GPU;
    the CPU-only estimate never reads it (System needs one; estimate/hybrid.py uses no GPU rate in cpu mode)."""
    c = problem.constraints
    cpu_eff = parts.cpu_efficiency(x.engine.id)
    xc = cpu_host_execution(x, cpu_eff)
    out: list[ClassOption] = []
    for cpu in sorted(parts.cpus.values(), key=lambda p: p.id):
        if (c.cpus and cpu.id not in c.cpus) or cpu.ddr_gen < 5:
            continue
        for sockets in (1, 2):
            channels = cpu.memory_channels * sockets
            if sockets > cpu.max_sockets or not CPU_CHANNELS[0] <= channels <= CPU_CHANNELS[1]:
                continue
            built = cpu_build(problem, parts, CpuRun(xc, eff, gpu), cpu, sockets)
            if built is not None:
                out.append(built)
    return out


class CpuRun(NamedTuple):
    """The CPU-only execution, the engine's factors and the GPU its System carries unread."""

    execution: Execution
    efficiency: Efficiency
    gpu: Gpu


def cpu_build(problem: Problem, parts: ClassParts, run: CpuRun, cpu: Cpu, sockets: int) -> ClassOption | None:
    """One CPU-only server: DIMMs in every channel of both sockets sized to the host side, drives, PSU, price."""
    model, c = problem.model, problem.constraints
    xc, eff, gpu = run
    chassis = cpu_chassis(parts, cpu, sockets, c.form_factor)
    if chassis is None:
        return None
    bare = System.of(gpu, 1, latencies=problem.parts.links).model_copy(
        update={"host": Host(cpu=cpu, n_sockets=sockets, n_dimms=cpu.memory_channels * sockets)}
    )
    _, host_bytes, _ = hybrid_estimate.memory(model, xc, bare)
    slots = chassis.dimm_slots * sockets // chassis.cpu_sockets
    picked = pick_dimms(parts.dimms.values(), cpu, sockets, slots, host_ram_need(host_bytes))
    if picked is None:
        return None
    dimm, n_dimms = picked
    host = Host(cpu=cpu, n_sockets=sockets, dimm=dimm, n_dimms=n_dimms)
    e = est.estimate(model, xc, bare.model_copy(update={"host": host}), eff)
    if not e.fits or e.speed is None:
        return None
    file_bytes = model_file_bytes(model, xc.precision)
    need = Requirements(
        ram_bytes=host_ram_need(host_bytes),
        system_drive_bytes=OS_DISK_BYTES + 2 * file_bytes,
        data_drive_bytes=DATA_BASE_BYTES,
        cores=8,
    )
    system, data = pick_storage(parts, chassis, need)
    if system is None:
        return None
    node: list[tuple[str, Part, int]] = [
        ("chassis", chassis, 1),
        ("cpu", cpu, sockets),
        ("memory", dimm, n_dimms),
        ("system_drive", system, 1),
    ]
    if data:
        node.append(("data_drive", data[0], data[1]))
    load = load_w(tuple((p, n) for _, p, n in node)) + CPU_PLATFORM_W
    volts = 208.0 if chassis.form_factor == "rack" else 120.0
    psu = _psu(parts, chassis, volts, load)
    if psu is not None:
        node.append(("psu", psu[0], psu[1]))
    lines, subtotal, unpriced = _bill(node, problem)
    channels = cpu.memory_channels * sockets
    populated = min(n_dimms, channels)
    bw = host_cpu.socket_bandwidth(host)
    assert e.host is not None
    notes = [
        f"{n_dimms} x {dimm.name} fill all {channels} channels of {sockets} socket(s) "
        f"({math.ceil(n_dimms / channels)} per channel): {fmt_bytes(bw)}/s per socket",
    ]
    if sockets == 2 and not xc.engine.numa_replicate:
        notes.append(
            f"{xc.engine.name} keeps one copy of the weights: a second socket adds cores and RAM, not decode bandwidth"
        )
    option = ClassOption(
        build_class="cpu",
        name=f"{sockets} x {cpu.name}, {n_dimms} x {dimm.name} ({fmt_bytes(n_dimms * dimm.capacity_bytes)})",
        form_factor=chassis.form_factor,
        estimate=e,
        lines=lines,
        subtotal_usd=subtotal,
        unpriced=unpriced,
        power_w=load,
        ram_bytes=n_dimms * dimm.capacity_bytes,
        mem_bw_bytes_s=bw,
        n_sockets=sockets,
        channels_populated=populated,
        channels_total=channels,
        notes=tuple(notes),
        reasons=(
            _speed_reason(e),
            f"needs {fmt_bytes(e.host.host_bytes)} of RAM; {fmt_watts(load)} sustained in {chassis.name}",
            *notes,
        ),
    )
    return option.model_copy(update={"findings": _limits(option, problem)})


# -- edge systems -------------------------------------------------------------------------------------------------
def edge_engine(system: EdgeSystem, x: Execution, parts: ClassParts, named: bool) -> Engine | Finding:
    """The engine on the box: the request's where the box documents it (else a refusal with the reason), or the
    first engine the box lists that runs the request's weights."""
    if named:
        if x.engine.id in system.engines:
            return x.engine
        support = rules.engine_runs_on(x.engine, system.device())
        why = support.message if not support.ok else f"{x.engine.name} is not documented on {system.name}"
        note = f"; {system.engine_note}" if system.engine_note else ""
        return Finding(
            rule="engine_support", ok=False, need=x.engine.id, have=";".join(system.engines), message=f"{why}{note}"
        )
    for engine_id in system.engines:
        engine = parts.engines.get(engine_id)
        if engine is not None and x.precision.family in engine.weight_families:
            return engine
    return Finding(
        rule="engine_support",
        ok=False,
        need=x.precision.id,
        have=";".join(system.engines),
        message=f"no engine documented on {system.name} ({', '.join(system.engines)}) runs {x.precision.id} weights",
        **said("finding.edge_engine", system=system.name, engines=", ".join(system.engines), precision=x.precision.id),
    )


def edge_builds(
    problem: Problem, parts: ClassParts, x: Execution, named_engine: bool, efficiency
) -> tuple[list[ClassOption], list[tuple[str, Finding]]]:
    """Each edge system whose usable memory holds the weights and cache: the estimate on its accelerator, its
    price, power and noise; and (system id, why) for each that cannot run the request."""
    out: list[ClassOption] = []
    refused: list[tuple[str, Finding]] = []
    for s in sorted(parts.systems.values(), key=lambda s: s.id):
        engine = edge_engine(s, x, parts, named_engine)
        if isinstance(engine, Finding):
            refused.append((s.id, engine))
            continue
        xe = x.model_copy(update={"engine": engine, "parallelism": Parallelism(), "hybrid": None})
        device = s.device()
        e = est.estimate(
            problem.model,
            xe,
            System.of(device, 1, latencies=problem.parts.links),
            efficiency(engine.id, device.gpu_class),
        )
        if not e.memory.fits or e.speed is None:
            refused.append(
                (
                    s.id,
                    Finding(
                        rule="gpu_memory",
                        ok=False,
                        need=e.memory.need_per_gpu_bytes,
                        have=s.usable_bytes,
                        message=f"needs {fmt_bytes(e.memory.need_per_gpu_bytes)}; {s.name} leaves "
                        f"{fmt_bytes(s.usable_bytes)} of its {fmt_bytes(s.memory_bytes)} after the OS",
                        **said(
                            "finding.edge_memory",
                            need=fmt_bytes(e.memory.need_per_gpu_bytes),
                            system=s.name,
                            usable=fmt_bytes(s.usable_bytes),
                            memory=fmt_bytes(s.memory_bytes),
                        ),
                    ),
                )
            )
            continue
        lines, subtotal, unpriced = _bill([("system", s, 1)], problem)
        pool = "unified" if s.unified else "GPU"
        notes = (
            f"{fmt_bytes(s.memory_bytes)} {pool} memory, {fmt_bytes(s.usable_bytes)} usable after "
            f"{fmt_bytes(s.os_reserve_bytes)} for the OS; {s.mem_bus_bits}-bit at {s.mem_mt_s} MT/s = "
            f"{fmt_bytes(s.mem_bw_bytes_s)}/s",
            f"{engine.name} on {s.software_stack}",
        )
        option = ClassOption(
            build_class="edge",
            name=s.name,
            form_factor=s.kind,
            estimate=e,
            lines=lines,
            subtotal_usd=subtotal,
            unpriced=unpriced,
            power_w=s.power_w,
            noise_dba=s.noise_dba,
            ram_bytes=s.memory_bytes,
            mem_bw_bytes_s=s.mem_bw_bytes_s,
            notes=notes,
            reasons=(
                _speed_reason(e),
                f"needs {fmt_bytes(e.memory.need_per_gpu_bytes)} of {fmt_bytes(s.usable_bytes)} usable; "
                f"{fmt_watts(s.power_w)} at most"
                + (f", {s.noise_dba:g} dBA" if s.noise_dba else ", noise not published"),
                *notes,
            ),
        )
        out.append(option.model_copy(update={"findings": _limits(option, problem)}))
    return out, refused
