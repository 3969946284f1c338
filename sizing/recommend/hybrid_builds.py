"""The hybrid build class (issue 14): one or two PCIe GPUs with the weights they cannot hold in RAM (routed experts
for an MoE model, else whole layers), composed by `derive` like any GPU build with the RAM sized to the host side,
estimated on the build's own host (estimate/hybrid.py) and judged by every rule plus the host-RAM fit: `Option`s the
recommender ranks with the GPU builds."""

from __future__ import annotations

from sizing import estimate as est
from sizing import rules
from sizing.estimate import cpu as host_cpu
from sizing.estimate import hybrid as hybrid_estimate
from sizing.estimate.requirements import DATA_BASE_BYTES, OS_DISK_BYTES
from sizing.estimate.shapes import model_file_bytes
from sizing.specs import (
    Candidate,
    Chassis,
    CpuEfficiency,
    Execution,
    Finding,
    Host,
    HybridSetup,
    ModelSpec,
    Option,
    Parallelism,
    Requirements,
    System,
    said,
)
from sizing.units import fmt_bytes, fmt_money, fmt_rate

from .classes import HYBRID_GPUS, ClassParts, host_ram_need
from .derive import Composer
from .provider import Problem
from .search import chassis_for


# -- hybrid: GPUs plus the weights they cannot hold in RAM ----------------------------------------------------------
def hybrid_setup(model: ModelSpec, x: Execution, system: System, cpu_eff: CpuEfficiency) -> HybridSetup | None:
    """Routed experts in RAM for an MoE model where the engine does that (attention, shared experts and the KV cache
    on the GPU); else the most whole layers that fit on the GPUs; None when the engine keeps nothing in RAM."""
    modes = x.engine.offload_modes
    if model.is_moe and "experts" in modes:
        return HybridSetup(offload="experts", gpu_layers=model.n_layers, cpu_eff=cpu_eff)
    if "layers" not in modes:
        return None
    if system.host is None:  # the layer split is sized on a host (estimate/hybrid.memory): the recommender's probe
        raise ValueError("hybrid_setup sizes a layer split on a System with a host (hybrid_builds._probe_host)")
    best = hybrid_estimate.layers_that_fit(model, x, system, cpu_eff)
    return HybridSetup(offload="layers", gpu_layers=best, cpu_eff=cpu_eff)


def hybrid_options(problem: Problem, parts: ClassParts, composer: Composer | None = None) -> list[Option]:
    """n x GPU (1 or 2) in every chassis that holds them with the rest of the weights in RAM: composed by `derive`
    (CPU, DIMMs in every channel sized to the host side, PSU), estimated on the build's own host and judged by
    every rule plus the host-RAM fit. The best chassis per shape is left to rank."""
    model, x, c = problem.model, problem.execution, problem.constraints
    composer = composer or Composer(problem)
    cpu_eff = parts.cpu_efficiency(x.engine.id)
    out: list[Option] = []
    setups: dict[tuple, HybridSetup | None] = {}
    for gpu in sorted(parts.gpus.values(), key=lambda g: g.id):
        if (c.gpus and gpu.id not in c.gpus) or gpu.id in c.exclude or gpu.form_factor != "pcie":
            continue
        if not rules.engine_runs_on(x.engine, gpu).ok:
            continue
        for n in (k for k in HYBRID_GPUS if c.max_gpus is None or k <= c.max_gpus):
            xn = x.model_copy(update={"parallelism": Parallelism(pp=n)})
            for chassis in chassis_for(problem, gpu, n):
                # the layer split is sized on a host: the probe host derive starts from in this chassis
                probe = System.of(gpu, n, latencies=problem.parts.links).model_copy(
                    update={"host": _probe_host(problem, chassis)}
                )
                if probe.host is None:
                    continue
                key = (gpu.id, n, probe.host)  # chassis of one socket share a probe host: size the split once
                if key not in setups:
                    setups[key] = hybrid_setup(model, xn, probe, cpu_eff)
                setup = setups[key]
                if setup is None:
                    return []
                if not _splits(model, setup):
                    continue
                xh = xn.model_copy(update={"hybrid": setup})
                option = _hybrid_option(problem, composer, xh, chassis, probe)
                if option is not None:
                    out.append(option)
    return out


def _splits(model: ModelSpec, setup: HybridSetup) -> bool:
    """A layer split that leaves both sides work: none on the GPUs is a CPU-only run (the CPU class), all of them a
    GPU build (the GPU search)."""
    return setup.offload != "layers" or 0 < setup.gpu_layers < model.n_layers


def _hybrid_option(
    problem: Problem, composer: Composer, xh: Execution, chassis: Chassis, probe: System
) -> Option | None:
    """The build `derive` composes in `chassis` for the hybrid run xh (sized on `probe`, the chassis' probe host),
    estimated on the build's own host and judged by every rule plus the host-RAM fit; None when it fails any."""
    model, gpu, n = problem.model, probe.gpu, probe.n_gpus
    mem, host_bytes, _ = hybrid_estimate.memory(model, xh, probe)
    if not mem.fits:
        return None
    file_bytes = model_file_bytes(model, xh.precision)
    need = Requirements(
        ram_bytes=host_ram_need(host_bytes),
        system_drive_bytes=OS_DISK_BYTES + 2 * file_bytes,
        data_drive_bytes=DATA_BASE_BYTES + 2 * file_bytes,
        cores=8,
    )
    built = composer.built(need, gpu, n, 1, chassis)
    if isinstance(built, Finding):
        return None
    build, (lines, subtotal, unpriced), draw = built
    host = Host(cpu=build.cpu, n_sockets=build.n_cpus, dimm=build.dimm, n_dimms=build.n_dimms)
    system = System.from_build(build, problem.parts.links).model_copy(update={"host": host})
    eff = problem.parts.efficiency(xh.engine.id, gpu.gpu_class)
    e = est.estimate(model, xh, system, eff)
    candidate = Candidate(
        build=build,
        requirements=need,
        power=draw,
        estimate=e,
        constraints=problem.constraints,
        subtotal_usd=subtotal,
        complete=not unpriced,
    )
    findings = rules.check(candidate)
    assert e.host is not None
    host_fit = Finding(
        rule="host_ram",
        ok=e.host.fits_host,
        need=round(e.host.host_bytes),
        have=round(build.ram_bytes),
        message=f"keeps {fmt_bytes(e.host.host_bytes)} in RAM; {build.n_dimms} x {build.dimm.name} = "
        f"{fmt_bytes(build.ram_bytes)} ({host_cpu.HOST_RAM_USABLE:.0%} usable)",
        **said(
            "finding.host_ram",
            need=fmt_bytes(e.host.host_bytes),
            n_dimms=build.n_dimms,
            dimm=build.dimm.name,
            ram=fmt_bytes(build.ram_bytes),
            usable=f"{host_cpu.HOST_RAM_USABLE:.0%}",
        ),
    )
    findings = (*findings, host_fit)
    if any(not f.ok for f in findings):
        return None
    return Option(candidate=candidate, lines=lines, unpriced=unpriced, findings=findings)


def _probe_host(problem: Problem, chassis: Chassis) -> Host | None:
    """A host of the chassis' socket to size the RAM side before derive picks the CPU (the RAM a run needs depends
    on the CPU only through per-socket copies, which no hybrid engine in engines.csv makes on one socket)."""
    cpus = [p for p in problem.parts.cpus.values() if p.socket == chassis.cpu_socket_type]
    if not cpus:
        return None
    cpu = min(cpus, key=lambda p: p.id)
    return Host(cpu=cpu, n_sockets=1, n_dimms=cpu.memory_channels)


def hybrid_reasons(o: Option) -> tuple[str, ...]:
    """What the hybrid build keeps where, its RAM and channels, and what a second GPU buys."""
    b, e = o.build, o.estimate
    h, x = e.host, e.execution
    if h is None or x.hybrid is None:
        return ()
    channels = b.cpu.memory_channels * b.n_cpus
    where = (
        "routed experts in RAM, attention, shared experts and KV cache on the GPU"
        if h.offload == "experts"
        else f"{h.gpu_layers} of {e.model.n_layers} layers on the GPU, the rest in RAM"
    )
    return (
        f"hybrid ({x.engine.name}, --offload {h.offload}): {where}",
        f"RAM {b.n_dimms} x {b.dimm.name} = {fmt_bytes(b.ram_bytes)} in all {channels} channels "
        f"({b.dimms_per_channel} per channel) for {fmt_bytes(h.host_bytes)} kept in RAM; "
        f"{fmt_bytes(h.socket_bw_bytes_s)}/s per socket; decode bound: {h.decode_bound}",
    )


def second_gpu_note(options: list[Option]) -> str | None:
    """What a second GPU buys over one of the same kind, for the best-ranked one-GPU build that has a two-GPU twin:
    decode speed and the price difference (`options` in rank order)."""
    by: dict[tuple[str, int], Option] = {}
    for o in options:  # in rank order: the best of each shape
        by.setdefault((o.build.gpu.id, o.build.n_gpus), o)
    for (gid, n), one in by.items():
        two = by.get((gid, 2)) if n == 1 else None
        if two is None:
            continue
        s1, s2 = one.estimate.speed, two.estimate.speed
        if s1 is None or s2 is None:
            continue
        gain = s2.decode_tokens_per_s / max(s1.decode_tokens_per_s, 1e-9) - 1
        price = two.subtotal_usd - one.subtotal_usd
        return (
            f"a second {one.build.gpu.name} changes decode by {gain:+.0%} "
            f"({fmt_rate(s1.decode_tokens_per_s)} -> {fmt_rate(s2.decode_tokens_per_s)} per user) for "
            f"{fmt_money(price)} more: what stays in RAM still bounds each token "
            f"(decode bound: {one.estimate.host.decode_bound if one.estimate.host else 'gpu_memory'})"
        )
    return None
