"""Inference with weights in host RAM: CPU only, llama.cpp layer offload, routed experts in RAM (ktransformers,
llama.cpp -ot exps=CPU). Memory on each side, and per token time = GPU part + host part + PCIe copies of the hidden
state + the engine's per-layer cost, each part the slower of its bytes over bandwidth and its FLOPs over peak.

The engine works the layers one after another, handing the hidden state between the devices, so the parts add up
(the task's premise: bytes each side reads over its bandwidth, plus the PCIe transfers). GPU rates take the
engine's fitted GPU factors (data/efficiency.csv); host rates its CPU factors (data/cpu_efficiency.csv).
"""

from __future__ import annotations

from typing import NamedTuple

from sizing.specs import (
    CpuEfficiency,
    Efficiency,
    Estimate,
    Execution,
    HostBound,
    HostEstimate,
    HybridSetup,
    MemoryBreakdown,
    MemoryEstimate,
    ModelSpec,
    SpeedEstimate,
    StepTime,
    System,
)

from . import cpu, placement, shapes
from .comm import hops_s
from .engines import ACT_BYTES, activation_bytes, logit_tokens, prefill_chunks, usable_bytes
from .inference import DECODE_SAMPLES, mean_step
from .parallel import keeps_latent
from .roofline import mm_eff, peak_flops, weight_eff


class Rates(NamedTuple):
    """Peaks of one run (B/s, FLOP/s) before the efficiency factors."""

    gpu_bw: float
    gpu_flops: float
    host_bw: float
    cpu_flops: float
    kernel: str
    pcie: float


class Part(NamedTuple):
    """One side's step: its bytes time (weights, cache), its FLOPs time, and what bounds it."""

    weights_s: float = 0.0
    kv_s: float = 0.0
    compute_s: float = 0.0
    memory_bound: HostBound = "gpu_memory"

    @property
    def total_s(self) -> float:  # roofline: the slower of moving the bytes and doing the FLOPs
        return max(self.weights_s + self.kv_s, self.compute_s)

    @property
    def bound(self) -> HostBound:
        return "compute" if self.compute_s > self.weights_s + self.kv_s else self.memory_bound


def rates(x: Execution, system: System) -> Rates:
    host, hy = system.host, x.hybrid
    assert host is not None and hy is not None
    flops, kernel = cpu.cpu_peak(host, x.engine, x.precision)
    on_gpu = hy.offload != "cpu"
    return Rates(
        gpu_bw=system.gpu.mem_bw_bytes_s if on_gpu else 0.0,
        gpu_flops=peak_flops(system, x.precision) if on_gpu else 0.0,
        host_bw=cpu.host_bandwidth(host, x.engine, hy.cpu_eff),
        cpu_flops=flops,
        kernel=kernel,
        pcie=cpu.pcie_bandwidth(system.gpu, host),
    )


def _kv_read(model: ModelSpec, x: Execution, context: float) -> float:
    """Cache bytes one decode step reads for the batch (estimate/inference.py decode_step's reads, no tensor split)."""
    latent = keeps_latent(model, x)
    read = shapes.decode_token_read_bytes(model, latent, shapes.kv_bits_of(x.kv_precision), context)
    return x.batch * (read + shapes.linear_state_bytes(model))


def decode_step(
    model: ModelSpec, x: Execution, system: System, eff: Efficiency, context: float
) -> tuple[StepTime, dict[str, float], HostBound]:
    """One decode step of the batch at cache depth `context`: the GPU reads its weights (the touched experts only,
    shapes.experts_touched) and its share of the cache, the host its own, each against its FLOPs (2 per weight per
    token, Kaplan et al. 2020; attention as shapes.attention_flops_per_token); the hidden state crosses PCIe at every
    boundary; the engine's per-layer cost (efficiency.csv layer_overhead_us) is paid for every layer wherever it
    runs. Layer split over several GPUs reads their layers one after another and hops between them."""
    hy, r = x.hybrid, rates(x, system)
    assert hy is not None
    ce = hy.cpu_eff
    gpu, host = placement.shares(model, hy, shapes.experts_touched(model, x.batch))  # bytes: the experts touched
    act_gpu, act_host = placement.shares(model, hy, model.n_active_experts or 0)  # FLOPs: each token's own k
    kv_gpu = placement.kv_gpu_share(model, hy)
    kv = _kv_read(model, x, context) * eff.kv_traffic
    attn = x.batch * shapes.attention_flops_per_token(model, context, keeps_latent(model, x))
    g = Part()
    if r.gpu_bw:
        g = Part(
            gpu.bytes(model, x.precision) / (r.gpu_bw * weight_eff(eff, x.precision)),
            kv * kv_gpu / (r.gpu_bw * eff.bw_eff),
            (2 * x.batch * act_gpu.params + attn * kv_gpu) / (r.gpu_flops * eff.mm_eff),
        )
    h = Part(
        host.bytes(model, x.precision) / (r.host_bw * ce.bw_eff),
        kv * (1 - kv_gpu) / (r.host_bw * ce.bw_eff),
        (2 * x.batch * act_host.params + attn * (1 - kv_gpu)) / (r.cpu_flops * _cpu_mm(r, ce)),
        "host_memory",
    )
    message = x.batch * model.hidden_size * ACT_BYTES
    pcie = placement.crossings(model, hy) * (cpu.PCIE_COPY_LATENCY_S + message / r.pcie)
    if system.n_gpus > 1 and hy.offload != "cpu":
        pcie += hops_s(system.gpu_link, system.n_gpus - 1, message)
    overhead = model.n_layers * eff.layer_overhead_s
    parts = {"gpu": g.total_s, "host": h.total_s, "pcie": pcie, "overhead": overhead}
    return _step(g, h, pcie, overhead), parts, _bound(g, h, pcie)


def _cpu_mm(r: Rates, ce: CpuEfficiency) -> float:
    """The host matmul efficiency of the kernel in use: AMX tiles or the vector units."""
    return ce.amx_eff if r.kernel == "amx" else ce.mm_eff


def _step(g: Part, h: Part, pcie: float, overhead: float) -> StepTime:
    compute = g.compute_s + h.compute_s
    return StepTime(
        total_s=g.total_s + h.total_s + pcie + overhead,
        weights_s=g.weights_s + h.weights_s,
        kv_s=g.kv_s + h.kv_s,
        compute_s=compute,
        comm_s=pcie,
        host_s=overhead,
        bound="compute" if _bound(g, h, pcie) == "compute" else "memory",
    )


def _bound(g: Part, h: Part, pcie: float) -> HostBound:
    """The resource that takes the most of the step: each side counts under its own roofline bound."""
    times: dict[HostBound, float] = {"gpu_memory": 0.0, "host_memory": 0.0, "pcie": pcie, "compute": 0.0}
    for part in (g, h):
        times[part.bound] += part.total_s
    return max(times, key=lambda k: times[k])


def prefill(model: ModelSpec, x: Execution, system: System, eff: Efficiency) -> tuple[StepTime, dict, HostBound]:
    """The batch's prompts, chunk by chunk (engines.prefill_chunks): each side's matmul and attention FLOPs over its
    peak, never faster than reading its weights once per chunk (the experts a chunk touches). An engine that ships
    host weights to the GPU for large batches (llama.cpp from 32 tokens, ggml-cuda offload_op) streams them over
    PCIe once per chunk and the GPU does their FLOPs; otherwise the host computes them (ktransformers' CPU experts,
    AMX kernels where it has them). Activations cross PCIe at every boundary of every chunk."""
    hy, r = x.hybrid, rates(x, system)
    assert hy is not None
    ce = hy.cpu_eff
    tokens = x.batch * x.prompt_tokens
    zero = StepTime(total_s=0.0, weights_s=0.0, kv_s=0.0, compute_s=0.0, comm_s=0.0, host_s=0.0, bound="memory")
    if tokens <= 0:
        return zero, {"gpu": 0.0, "host": 0.0, "pcie": 0.0, "overhead": 0.0}, "compute"
    n_chunks, chunk = prefill_chunks(x.engine, tokens)
    gpu, host = placement.shares(model, hy, shapes.experts_touched(model, chunk))  # read once per chunk
    act_gpu, act_host = placement.shares(model, hy, model.n_active_experts or 0)  # multiplied by every token
    kv_gpu = placement.kv_gpu_share(model, hy)
    head_extra = logit_tokens(x.engine, x.batch, tokens) - tokens  # logits of the last token only, or of all
    attn = x.batch * shapes.prefill_attention_flops(model, x.prompt_tokens, keeps_latent(model, x))
    gpu_mm = 2 * act_gpu.params * tokens + 2 * act_gpu.head * head_extra
    host_mm = 2 * act_host.params * tokens + 2 * act_host.head * head_extra
    host_bytes = n_chunks * host.bytes(model, x.precision)
    streamed = bool(r.gpu_bw) and x.engine.op_offload_tokens is not None and chunk >= x.engine.op_offload_tokens
    stream_s = host_bytes / (r.pcie * ce.pcie_eff) if streamed else 0.0
    if streamed:  # the GPU multiplies the host weights it was sent; the host only holds them
        gpu_mm, host_mm = gpu_mm + host_mm, 0.0
    g = Part()
    if r.gpu_bw:
        attn_gpu = attn * (kv_gpu if not streamed else 1.0)
        g_comp = (gpu_mm / mm_eff(eff, x.precision) + attn_gpu / eff.attn_eff) / r.gpu_flops
        g = Part(n_chunks * gpu.bytes(model, x.precision) / (r.gpu_bw * weight_eff(eff, x.precision)), 0.0, g_comp)
    h = Part(memory_bound="host_memory")
    if not streamed:
        host_flops = host_mm + attn * (1 - kv_gpu)
        h = Part(host_bytes / (r.host_bw * ce.bw_eff), 0.0, host_flops / (r.cpu_flops * _cpu_mm(r, ce)), "host_memory")
    message = chunk * model.hidden_size * ACT_BYTES
    pcie = stream_s + n_chunks * placement.crossings(model, hy) * (cpu.PCIE_COPY_LATENCY_S + message / r.pcie)
    if system.n_gpus > 1 and hy.offload != "cpu":
        pcie += n_chunks * hops_s(system.gpu_link, system.n_gpus - 1, message)
    overhead = n_chunks * model.n_layers * eff.layer_overhead_s
    parts = {"gpu": g.total_s, "host": h.total_s, "pcie": pcie, "overhead": overhead}
    return _step(g, h, pcie, overhead), parts, _bound(g, h, pcie)


def speed(model: ModelSpec, x: Execution, system: System, eff: Efficiency) -> tuple[SpeedEstimate, StepTime, tuple]:
    """Prefill, then decode averaged while the cache grows from prompt to prompt + new tokens (midpoint rule, as
    estimate/inference.py speed). Returns the speeds, the mean decode step and (prefill step, its parts, its bound,
    the mean decode parts, the decode bound)."""
    pre, pre_parts, pre_bound = prefill(model, x, system, eff)
    alone = prefill(model, x.model_copy(update={"batch": 1}), system, eff)[0] if x.batch > 1 else pre
    steps = max(x.new_tokens, 1)
    samples = [
        decode_step(model, x, system, eff, x.prompt_tokens + (i + 0.5) * steps / DECODE_SAMPLES)
        for i in range(DECODE_SAMPLES)
    ]
    step = mean_step([s for s, _, _ in samples])
    parts = {k: sum(p[k] for _, p, _ in samples) / DECODE_SAMPLES for k in samples[0][1]}
    bounds = [b for _, _, b in samples]
    t_decode = step.total_s * steps
    rate = steps / t_decode
    t_pre = pre.total_s
    speeds = SpeedEstimate(
        prefill_tokens_per_s=x.batch * x.prompt_tokens / t_pre if t_pre > 0 else 0.0,
        decode_tokens_per_s=rate,
        decode_tokens_per_s_total=rate * x.batch,
        e2e_tokens_per_s=x.new_tokens / (t_pre + t_decode) if x.new_tokens else 0.0,
        time_to_first_token_s=t_pre if x.prompt_tokens > 0 else t_decode / steps,
        time_to_first_token_one_user_s=alone.total_s if x.prompt_tokens > 0 else t_decode / steps,
        decode_bound=step.bound,
    )
    return speeds, step, (pre, pre_parts, pre_bound, parts, max(set(bounds), key=bounds.count))


def memory(model: ModelSpec, x: Execution, system: System) -> tuple[MemoryEstimate, float, float]:
    """(the busiest GPU's memory, host bytes needed, all GPUs' bytes). GPU: its weights and cache share spread over
    its GPUs (layer split), the prefill activations, the CUDA context and allocator slack (estimate/inference.py
    memory). Host: the weights kept in RAM, once per NUMA copy, and its share of the cache; a CPU-only run holds the
    activations there too."""
    hy, host = x.hybrid, system.host
    assert hy is not None and host is not None
    w_gpu, w_host = placement.stored_bytes(model, x.precision, hy)
    latent = keeps_latent(model, x)
    kv_seq = shapes.kv_cache_bytes(model, latent, shapes.kv_bits_of(x.kv_precision), x.context_tokens)
    kv_gpu = placement.kv_gpu_share(model, hy)
    act = activation_bytes(model, x)
    host_bytes = w_host * cpu.weight_copies(host, x.engine) + x.batch * kv_seq * (1 - kv_gpu)
    n = system.n_gpus
    if hy.offload == "cpu":
        host_bytes += act
        breakdown = MemoryBreakdown(weights_bytes=0, kv_cache_bytes=0, activations_bytes=0, overhead_bytes=0)
        return _memory(breakdown, 0.0, 0.0, model, x), host_bytes, 0.0
    allocated = w_gpu / n + x.batch * kv_seq * kv_gpu / n + act
    overhead = x.engine.context_bytes + x.engine.fragmentation * allocated
    breakdown = MemoryBreakdown(
        weights_bytes=w_gpu / n,
        kv_cache_bytes=x.batch * kv_seq * kv_gpu / n,
        activations_bytes=act,
        overhead_bytes=overhead,
    )
    usable = usable_bytes(x.engine, system.gpu)
    return _memory(breakdown, usable, system.gpu.memory_bytes, model, x), host_bytes, allocated * n


def _memory(b: MemoryBreakdown, usable: float, card: float, model: ModelSpec, x: Execution) -> MemoryEstimate:
    latent = keeps_latent(model, x)
    kv_bits = shapes.kv_bits_of(x.kv_precision)
    need = b.total_bytes
    per_seq = b.kv_cache_bytes / x.batch
    room = usable - (need - b.kv_cache_bytes)
    return MemoryEstimate(
        per_gpu_bytes=need,
        need_per_gpu_bytes=need,
        usable_per_gpu_bytes=usable,
        allocated_per_gpu_bytes=need - b.overhead_bytes,
        gpu_memory_bytes=card,
        fits=need <= usable or card == 0,
        breakdown=b,
        kv_bytes_per_token=shapes.kv_bytes_per_token(model, latent, kv_bits),
        max_batch_at_context=int(room // per_seq) if per_seq > 0 and room > 0 else 0,
    )


def estimate(model: ModelSpec, x: Execution, system: System, eff: Efficiency) -> Estimate:
    """Memory on both sides, speeds, the host's view (RAM needed and installed, bandwidths, bounds) and notes."""
    hy, host = x.hybrid, system.host
    assert hy is not None and host is not None
    mem, host_bytes, gpu_bytes = memory(model, x, system)
    speeds, step, (pre, pre_parts, pre_bound, parts, bound) = speed(model, x, system, eff)
    r = rates(x, system)
    ram = host.ram_bytes
    fits_host = ram is None or host_bytes <= ram * cpu.HOST_RAM_USABLE
    notes = _notes(model, x, system, host_bytes)
    view = HostEstimate(
        offload=hy.offload,
        n_gpus=0 if hy.offload == "cpu" else system.n_gpus,
        gpu_layers=hy.gpu_layers,
        host_bytes=host_bytes,
        gpu_bytes=gpu_bytes,
        ram_bytes=ram,
        fits_host=fits_host,
        socket_bw_bytes_s=cpu.socket_bandwidth(host),
        host_bw_bytes_s=r.host_bw,
        cpu_flops=r.cpu_flops,
        cpu_kernel=r.kernel,
        pcie_bytes_s=r.pcie,
        decode_bound=bound,
        prefill_bound=pre_bound,
        decode_parts_s=parts,
        prefill_parts_s=pre_parts,
        notes=tuple(notes),
    )
    return Estimate(
        fits=mem.fits and fits_host,
        model=model,
        execution=x,
        system=system,
        efficiency=eff,
        memory=mem,
        speed=speeds,
        decode_step=step,
        prefill=pre,
        host=view,
        notes=tuple(([model.assumed] if model.assumed else []) + notes),
    )


def _notes(model: ModelSpec, x: Execution, system: System, host_bytes: float) -> list[str]:
    hy, host = x.hybrid, system.host
    assert hy is not None and host is not None
    out: list[str] = []
    if x.context_tokens > model.max_context_tokens:
        out.append(f"prompt+new = {x.context_tokens} tokens exceeds the model's context of {model.max_context_tokens}")
    if host.n_sockets > 1 and not x.engine.numa_replicate:
        out.append(
            f"{x.engine.name} keeps one copy of the weights: a run over {host.n_sockets} sockets reads at about one "
            "socket's bandwidth (cross-socket traffic); bind it to one socket (numactl) or use an engine that copies "
            "the weights per NUMA node"
        )
    if host.n_sockets > 1 and x.engine.numa_replicate:
        out.append(f"{x.engine.name} copies the host weights to each of the {host.n_sockets} sockets' memory")
    if host.ram_bytes is None:
        out.append(f"RAM not given (--memory, --dimms): the run needs {host_bytes / 2**30:,.0f} GiB of it")
    channels = host.cpu.memory_channels * host.n_sockets
    if host.n_dimms < channels:
        out.append(f"{host.n_dimms} DIMMs fill {host.n_dimms} of {channels} memory channels: bandwidth drops with them")
    if hy.offload == "layers" and hy.gpu_layers > model.n_layers:
        out.append(f"--gpu-layers {hy.gpu_layers} is past the model's {model.n_layers} layers: all are on the GPU")
    return out


def layers_that_fit(model: ModelSpec, x: Execution, system: System, cpu_eff: CpuEfficiency) -> int:
    """Layer offload without --gpu-layers: the most layers whose weights and cache fit on the GPUs (what llama.cpp's
    automatic fitting aims at; older builds default to none), at least none."""
    best = 0
    for n in range(model.n_layers + 1):
        setup = HybridSetup(offload="layers", gpu_layers=n, cpu_eff=cpu_eff)
        mem, _, _ = memory(model, x.model_copy(update={"hybrid": setup}), system)
        if not mem.fits:
            break
        best = n
    return best
