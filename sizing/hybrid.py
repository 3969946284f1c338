"""The host side of a request, resolved: the CPU, its sockets and DIMMs, where the weights live (`--offload`,
`--gpu-layers`, `--gpus 0`) and the engine's CPU factors, for sizing/estimate/hybrid.py.

`scenarios.run` hands a request here when it names any of these; the model and its execution are resolved by the
caller's `resolve` (scenarios.resolve_execution), so this module needs no import of scenarios.
"""

from __future__ import annotations

from collections.abc import Callable

from . import estimate as est
from .catalog import Catalog
from .estimate import hybrid as hybrid_estimate
from .specs import (
    HOST_OFFLOADS,
    Efficiency,
    Engine,
    Estimate,
    Execution,
    Host,
    HybridSetup,
    ModelSpec,
    Offload,
    Parallelism,
    Request,
    SizingError,
    System,
)

Resolve = Callable[[Catalog, Request], tuple[ModelSpec, Execution]]
HOST_FIELDS = ("cpu", "n_sockets", "memory", "n_dimms", "gpu_layers", "threads")
TRAINING_OFFLOADS = ("none", "optimizer", "params")
DEFAULT_HOST_ENGINE = "llama.cpp"  # the engine that runs every host mode, when the request names none


def wanted(req: Request) -> bool:
    """An inference request that names the host (a CPU, sockets, DIMMs, GPU layers), a host offload or no GPUs."""
    if req.task.strip().lower() != "inference":
        return False
    named = any(getattr(req, f) is not None for f in HOST_FIELDS)
    return named or req.n_gpus == 0 or req.offload not in (None, "none")


def training_offload(req: Request) -> Offload:
    """The training offload of a request; a host offload of inference is refused by name."""
    if req.offload in (None, "none"):
        return "none"
    if req.offload not in TRAINING_OFFLOADS:
        raise SizingError(
            f"--offload {req.offload} places inference weights; training offloads none, optimizer or params"
        )
    return req.offload  # type: ignore[return-value]


def _engine(catalog: Catalog, req: Request) -> str:
    """The named engine, else the precision's default engine if it can keep weights in RAM, else llama.cpp."""
    if req.engine:
        return req.engine
    precision = catalog.precision(req.precision)
    if precision.recipe is not None and precision.recipe.engines:  # types only some engines load
        return precision.recipe.engines[0]
    default = catalog.default_engine(precision.family)
    return default.id if default.offload_modes else DEFAULT_HOST_ENGINE


def _offload(req: Request, engine: Engine) -> str:
    """The host mode: cpu for --gpus 0; as given; layers when --gpu-layers is given; the engine's only mode
    (ktransformers: experts); else none."""
    mode = req.offload
    if mode is not None and mode not in HOST_OFFLOADS:
        raise SizingError(f"--offload {mode} is a training offload; inference takes none, layers, experts or cpu")
    if req.n_gpus == 0:
        if mode not in (None, "cpu"):
            raise SizingError(f"--gpus 0 runs on the CPU alone; --offload {mode} needs a GPU (give --gpus 1)")
        return "cpu"
    if mode is None:
        if req.gpu_layers is not None:
            return "layers"
        return engine.offload_modes[0] if engine.offload_modes == ("experts",) else "none"
    return mode


def _check_mode(mode: str, engine: Engine, model: ModelSpec, catalog: Catalog) -> None:
    if mode != "none" and mode not in engine.offload_modes:
        able = [f"{e.id} ({', '.join(e.offload_modes)})" for e in catalog.engines.values() if mode in e.offload_modes]
        raise SizingError(
            f"{engine.name} does not run --offload {mode}; engines that do: {', '.join(able) or 'none in engines.csv'}"
        )
    if mode == "experts" and not model.is_moe:
        raise SizingError(f"{model.name} has no routed experts to keep in RAM; use --offload layers or cpu")


def host_of(catalog: Catalog, req: Request) -> Host:
    """The CPU, its sockets and DIMMs: every channel of every socket filled once unless --dimms says otherwise, at
    the CPU's top speed unless --memory names the modules."""
    if req.cpu is None:
        raise SizingError(
            "a run with weights in RAM needs the host CPU: give --cpu (an id from data/cpus.csv, e.g. epyc-9354); "
            "its channels and memory speed set the bandwidth"
        )
    cpu = catalog.cpu(req.cpu)
    sockets = req.n_sockets or 1
    if sockets > cpu.max_sockets:
        raise SizingError(f"{cpu.name} scales to {cpu.max_sockets} socket(s), not --sockets {sockets}")
    dimm = catalog.dimm(req.memory) if req.memory else None
    if dimm is not None and dimm.ddr_gen != cpu.ddr_gen:
        raise SizingError(f"{dimm.name} is DDR{dimm.ddr_gen}; {cpu.name} takes DDR{cpu.ddr_gen} (pick from memory.csv)")
    slots = 2 * cpu.memory_channels * sockets
    n_dimms = req.n_dimms or cpu.memory_channels * sockets
    if n_dimms % sockets or n_dimms > slots:
        raise SizingError(
            f"--dimms {n_dimms} must split evenly over {sockets} socket(s), at most 2 per channel ({slots} in all)"
        )
    return Host(cpu=cpu, n_sockets=sockets, dimm=dimm, n_dimms=n_dimms, threads=req.threads)


def resolve(catalog: Catalog, req: Request, resolve: Resolve) -> tuple[ModelSpec, Execution, System, Efficiency]:
    """The model, its execution (with `hybrid` set unless nothing is offloaded), the system (with its `host`) and
    the engine's GPU factors, every name in `req` resolved."""
    engine_id = _engine(catalog, req)
    engine = catalog.engine(engine_id)
    mode = _offload(req, engine)
    n_gpus = max(req.n_gpus, 1)
    if mode == "none":  # nothing in RAM: the request's own engine, or the precision's default as on GPUs alone
        engine_id = req.engine or catalog.default_engine(catalog.precision(req.precision).family).id
    model, x = resolve(catalog, req.model_copy(update={"engine": engine_id, "n_gpus": n_gpus}))
    _check_mode(mode, engine, model, catalog)
    gpu = catalog.gpu(req.gpu)
    eff = catalog.efficiency(x.engine.id, gpu.gpu_class)
    if mode == "none":
        return model, x, System.of(gpu, n_gpus, latencies=catalog.links), eff
    if req.gpu_layers is not None and mode != "layers":
        raise SizingError(f"--gpu-layers places whole layers (--offload layers), not --offload {mode}")
    system = System.of(gpu, n_gpus, latencies=catalog.links).model_copy(update={"host": host_of(catalog, req)})
    cpu_eff = catalog.cpu_efficiency(x.engine.id)
    if mode == "layers":
        layers = (
            req.gpu_layers if req.gpu_layers is not None else hybrid_estimate.layers_that_fit(model, x, system, cpu_eff)
        )
    else:
        layers = 0 if mode == "cpu" else model.n_layers
    setup = HybridSetup(offload=mode, gpu_layers=layers, cpu_eff=cpu_eff)
    split = Parallelism(pp=n_gpus) if mode != "cpu" else Parallelism()
    return model, x.model_copy(update={"hybrid": setup, "parallelism": split}), system, eff


def run(catalog: Catalog, req: Request, resolve_fn: Resolve) -> Estimate:
    """Resolve the host side of `req` and estimate it; with nothing offloaded, the GPU estimate as it stands."""
    model, x, system, eff = resolve(catalog, req, resolve_fn)
    result = est.estimate(model, x, system, eff)
    if x.hybrid is None:
        unused = "nothing is offloaded: the CPU and DIMMs are unused"
        return result.model_copy(update={"notes": (*result.notes, unused)})
    return result
