"""Rules on the GPUs' work: memory, engine support, tensor-parallel splits, communication, target speed."""

from __future__ import annotations

from sizing.estimate.parallel import tensor_ways, tp_problem
from sizing.specs import Candidate, Engine, Execution, Finding, Gpu, MemoryEstimate, NetworkPart, said
from sizing.units import fmt_bytes, fmt_rate, fmt_seconds

from .memo import judged_once


def gpu_memory(c: Candidate) -> Finding:
    """The busiest GPU's need fits what the engine may use of it: its gpu_memory_utilization fraction, else 95% of
    the card (driver and allocator growth). Source: the estimator (sizing.estimate.memory)."""
    b = c.build
    return memory_finding(b.gpu, b.n_gpus * b.n_nodes, c.estimate.memory)


@judged_once
def memory_finding(gpu: Gpu, n_gpus: int, m: MemoryEstimate) -> Finding:
    """The gpu_memory finding for n_gpus x gpu (all nodes) with memory estimate m (the search judges a shape by it
    before composing any chassis: memory does not depend on the chassis)."""
    where = f"{n_gpus} x {gpu.name}"
    msg = (
        f"needs {fmt_bytes(m.need_per_gpu_bytes)} per GPU on {where}, {fmt_bytes(m.usable_per_gpu_bytes)} usable "
        f"of {fmt_bytes(m.gpu_memory_bytes)}"
    )
    if not m.fits:
        msg += "; use more or larger GPUs, a smaller quantization, fewer users or a shorter context"
    return Finding(
        rule="gpu_memory",
        ok=m.fits,
        need=round(m.need_per_gpu_bytes),
        have=round(m.usable_per_gpu_bytes),
        message=msg,
        **said(
            "finding.gpu_memory",
            *(() if m.fits else ("finding.gpu_memory.fix",)),
            need=fmt_bytes(m.need_per_gpu_bytes),
            where=where,
            usable=fmt_bytes(m.usable_per_gpu_bytes),
            capacity=fmt_bytes(m.gpu_memory_bytes),
        ),
    )


def engine_support(c: Candidate) -> Finding:
    """The engine has kernels for this GPU's vendor (engines.csv gpu_vendors: vLLM/TensorRT-LLM build on CUDA; Huawei
    Ascend needs the CANN stack: MindIE or vllm-ascend, hardware.md §5), and its kernels for that vendor take the
    precision (data/engine_support.csv: llama.cpp's CANN backend runs F16, Q8_0 and Q4_0 only, its
    docs/backend/CANN.md). A refusal quotes the engine's reason from engine_support.csv and, for another vendor,
    what to run instead (the GPU's stack_note in gpus.csv)."""
    return execution_runs_on(c.estimate.execution, c.build.gpu)


def execution_runs_on(execution: Execution, gpu: Gpu) -> Finding:
    """engine_runs_on for the execution's engine and precision; for training, first the trainer's own vendor list
    (trainers.csv gpu_vendors: unsloth's Triton kernels and fsdp_qlora's bitsandbytes build on CUDA, verl and
    OpenRLHF on CUDA and ROCm), so a trainer never passes on a GPU its framework does not train on."""
    t = execution.training
    if t is not None and gpu.vendor not in t.trainer.gpu_vendors:
        vendors = ", ".join(t.trainer.gpu_vendors)
        return Finding(
            rule="engine_support",
            ok=False,
            need=gpu.vendor,
            have=";".join(t.trainer.gpu_vendors),
            message=f"{t.trainer.name} does not train on {gpu.vendor} GPUs ({vendors} only); pick another --trainer "
            "or GPU",
            **said("finding.engine_support.trainer", trainer=t.trainer.name, vendor=gpu.vendor, vendors=vendors),
        )
    return engine_runs_on(execution.engine, gpu, execution.precision.id)


@judged_once
def engine_runs_on(engine: Engine, gpu: Gpu, precision: str | None = None) -> Finding:
    """The engine_support finding for `engine` on `gpu`, and for the precision (a precisions id) when one is given
    (the search first asks without one: a GPU whose vendor the engine lacks is refused before any shape)."""
    support = engine.support_on(gpu.vendor)
    reason = f": {support.note}" if support is not None else ""
    have = ";".join(engine.gpu_vendors)
    note_keys = ("finding.engine_support.note",) if support is not None else ()
    notes = {"note": support.note if support is not None else "", "stack_note": gpu.stack_note or ""}
    if gpu.vendor not in engine.gpu_vendors:
        msg = f"{engine.name} has no kernels for {gpu.vendor} GPUs ({', '.join(engine.gpu_vendors)} only){reason}" + (
            f"; {gpu.stack_note}" if gpu.stack_note else ""
        )
        keys = (
            "finding.engine_support.vendor",
            *note_keys,
            *(("finding.engine_support.stack",) if gpu.stack_note else ()),
        )
        words = said(*keys, engine=engine.name, vendor=gpu.vendor, vendors=", ".join(engine.gpu_vendors), **notes)
        return Finding(rule="engine_support", ok=False, need=gpu.vendor, have=have, message=msg, **words)
    limits = support.precisions if support is not None else ()
    if precision is not None and limits and precision not in limits:
        msg = (
            f"{engine.name} on {gpu.vendor} GPUs runs {', '.join(limits)} only, not {precision}{reason}; "
            f"use --precision {limits[0]} or another engine"
        )
        keys = ("finding.engine_support.precision", *note_keys, "finding.engine_support.precision_fix")
        words = said(
            *keys,
            engine=engine.name,
            vendor=gpu.vendor,
            limits=", ".join(limits),
            precision=precision,
            first=limits[0],
            **notes,
        )
        return Finding(rule="engine_support", ok=False, need=precision, have=";".join(limits), message=msg, **words)
    return Finding(
        rule="engine_support",
        ok=True,
        need=gpu.vendor,
        have=have,
        message=f"{engine.name} runs on {gpu.vendor} GPUs",
        **said("finding.engine_support.ok", engine=engine.name, vendor=gpu.vendor),
    )


def tensor_parallel(c: Candidate) -> Finding:
    """Tensor parallel splits attention heads evenly: the GPU count per node must divide the query heads, and the KV
    heads must divide among the GPUs or be replicated to them (vLLM/Megatron-LM check both at start-up)."""
    b, e = c.build, c.estimate
    tp = tensor_ways(e.execution)
    return _tensor_parallel(tp_problem(e.model, tp), e.model.n_heads, b.n_gpus, tp, e.model.n_kv_heads)


@judged_once
def _tensor_parallel(problem: str | None, n_heads: int, n_gpus: int, tp: int = 1, n_kv_heads: int = 0) -> Finding:
    if problem is None:
        return Finding(
            rule="tensor_parallel",
            ok=True,
            message=f"{n_gpus} GPU(s) per node split the model evenly",
            **said("finding.tensor_parallel.ok", n_gpus=n_gpus),
        )
    # the two problems of estimate/parallel.tp_problem: query heads, else KV heads
    key = "finding.tensor_parallel.heads" if n_heads % tp else "finding.tensor_parallel.kv_heads"
    words = said(key, tp=tp, n_heads=n_heads, n_kv_heads=n_kv_heads)
    return Finding(rule="tensor_parallel", ok=False, need=n_heads, have=n_gpus, message=problem, **words)


def gpu_communication(c: Candidate) -> Finding:
    """What multi-GPU traffic costs: tensor parallel all-reduces twice per layer; GeForce cards have no P2P or
    NVLink, so it crosses host memory (hardware.md §0, §3.4 [S15][S16]); layer split adds capacity, not speed."""
    b, e = c.build, c.estimate
    engine, link = e.execution.engine, e.system.gpu_link.name
    if b.n_gpus == 1 and b.n_nodes == 1:
        return _one_gpu()
    if e.training is not None and e.execution.training is not None:
        return _training_traffic(e.execution.training.sharding, link, e.training.comm_s, e.training.step_s)
    if engine.split == "layer":
        return _layer_traffic(engine.name)
    assert e.decode_step is not None and e.speed is not None
    nodes = (
        f"; {b.n_nodes} nodes pipeline layers over {b.nic.name if b.nic else 'the network'}" if b.n_nodes > 1 else ""
    )
    nic = (b.nic.name if b.nic else "") if b.n_nodes > 1 else None
    p = e.execution.parallelism
    kind = "dp_attention" if p.adp > 1 else ("expert" if p.ep > 1 else "tensor")
    return _tensor_traffic(link, e.decode_step.comm_s, e.speed.decode_tokens_per_s, nodes, (b.n_nodes, nic, kind))


# What each serving layout's per-step collectives are (estimate/expert.py layer_comm_s, dp_attention.py): tensor
# parallel all-reduces; expert parallel all-to-all dispatch and combine beside them; attention data parallel the MoE
# layers' gather and all-to-all only (no all-reduce after attention, which each rank runs alone)
TRAFFIC = {
    "tensor": "tensor parallel over {link}: all-reduces cost",
    "expert": "expert parallel over {link}: all-to-all and all-reduces cost",
    "dp_attention": "attention data parallel over {link}: the MoE layers' collectives cost",
}


@judged_once
def _one_gpu() -> Finding:
    return Finding(
        rule="gpu_communication",
        ok=True,
        message="one GPU: no inter-GPU traffic",
        **said("finding.gpu_communication.one"),
    )


@judged_once
def _training_traffic(sharding: str, link: str, comm_s: float, step_s: float) -> Finding:
    share = comm_s / step_s if step_s else 0.0
    return Finding(
        rule="gpu_communication",
        ok=True,
        have=link,
        message=f"{sharding} over {link}: collectives take {fmt_seconds(comm_s)} per "
        f"step ({share:.0%} of the step before overlap)",
        **said(
            "finding.gpu_communication.training",
            sharding=sharding,
            link=link,
            comm=fmt_seconds(comm_s),
            share=f"{share:.0%}",
        ),
    )


@judged_once
def _layer_traffic(engine: str) -> Finding:
    return Finding(
        rule="gpu_communication",
        ok=True,
        message=f"{engine} splits layers: activations hop GPU to GPU once per token; more GPUs add memory, not decode "
        "speed",
        **said("finding.gpu_communication.layer", engine=engine),
    )


@judged_once
def _tensor_traffic(
    link: str, per_token: float, decode_tokens_per_s: float, nodes: str, where: tuple[int, str | None, str]
) -> Finding:
    """`where`: (nodes, their NIC: None on one node, "" without one, the layout: a TRAFFIC key)."""
    n_nodes, nic, kind = where
    step = 1 / decode_tokens_per_s if decode_tokens_per_s else 0.0
    share = per_token / step if step else 0.0
    lead = TRAFFIC[kind].format(link=link)
    msg = f"{lead} {per_token * 1e3:.2f} ms per decode step ({share:.0%} of it)"
    more = () if nic is None else ("finding.gpu_communication.nodes" if nic else "finding.gpu_communication.nodes_net",)
    words = said(
        f"finding.gpu_communication.{kind}",
        *more,
        link=link,
        ms=f"{per_token * 1e3:.2f}",
        share=f"{share:.0%}",
        n_nodes=n_nodes,
        nic=nic or "",
    )
    return Finding(rule="gpu_communication", ok=True, need=None, have=link, message=msg + nodes, **words)


def network(c: Candidate) -> Finding:
    """Multi-node builds need a NIC per node and, beyond two nodes, a switch with a port per node."""
    b = c.build
    return _network(b.n_nodes, b.nic, b.switch)


@judged_once
def _network(n_nodes: int, nic: NetworkPart | None, switch: NetworkPart | None) -> Finding:
    if n_nodes == 1:
        return Finding(
            rule="network", ok=True, message="single node: no cluster network", **said("finding.network.single")
        )
    ok = nic is not None and (n_nodes <= 2 or (switch is not None and switch.ports >= n_nodes))
    name = nic.name if nic else "no NIC"
    sw = "back-to-back cable" if n_nodes <= 2 else (switch.name if switch else "no switch")
    words = said(
        "finding.network",
        n_nodes=n_nodes,
        nic=nic.name if nic else "@word.no_nic",
        switch="@word.cable" if n_nodes <= 2 else (switch.name if switch else "@word.no_switch"),
    )
    return Finding(
        rule="network", ok=ok, need=n_nodes, have=sw, message=f"{n_nodes} nodes: {name} per node, {sw}", **words
    )


def target_speed(c: Candidate) -> Finding:
    """Total decode throughput over all users meets --target-tokens-per-s."""
    e = c.estimate
    return _target_speed(e.throughput_tokens_per_s, c.constraints.target_tokens_per_s, e.training is not None)


@judged_once
def _target_speed(have: float, target: float | None, training: bool) -> Finding:
    verb = "trains" if training else "decodes"
    key = f"finding.target_speed.{verb}"
    if target is None:
        return Finding(
            rule="target_speed",
            ok=True,
            have=round(have, 1),
            message=f"{verb} {fmt_rate(have)} in total",
            **said(key, have=fmt_rate(have)),
        )
    return Finding(
        rule="target_speed",
        ok=have >= target,
        need=target,
        have=round(have, 1),
        message=f"{verb} {fmt_rate(have)} in total, target {fmt_rate(target)}",
        **said(key, "finding.target", have=fmt_rate(have), target=fmt_rate(target)),
    )
