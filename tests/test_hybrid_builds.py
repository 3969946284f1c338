"""Hybrid layer-offload builds on GPU systems (recommend/hybrid_builds.py): the layer split is sized on the probe
host of each chassis (the host `derive` starts from), so a dense model too big for the GPUs gets llama.cpp -ngl
builds, not none, though the GPU search's System carries no host."""

from __future__ import annotations

import pytest

from sizing.estimate import hybrid as hybrid_estimate
from sizing.recommend import hybrid_builds as hyb
from sizing.recommend.search import chassis_for
from sizing.scenarios import problem_of, recommend
from sizing.specs import Parallelism, RecommendRequest, System

REQ = {"model": "llama-3-70b", "precision": "q4_k_m", "engine": "llama.cpp", "build_class": "hybrid"}


def test_dense_model_gets_layer_offload_builds(catalog):
    """Llama 3 70B at Q4_K_M (~40 GiB) on one or two 16-32 GB cards: some of the 80 layers on the GPUs, the rest in
    RAM, every build passing its rules and the RAM fit."""
    r = recommend(catalog, RecommendRequest(**REQ))
    assert r.options
    for o in r.options:
        h = o.estimate.execution.hybrid
        assert h is not None and h.offload == "layers" and 0 < h.gpu_layers < o.estimate.model.n_layers
        assert o.estimate.memory.fits and o.estimate.host is not None and o.estimate.host.fits_host
        assert all(f.ok for f in o.findings) and any(f.rule == "host_ram" for f in o.findings)
        assert any("layers on the GPU, the rest in RAM" in line for line in o.reasons)


def test_the_split_is_the_most_layers_that_fit_on_the_probe_host(catalog):
    """Each build's -ngl is layers_that_fit on its chassis' probe host, and one layer more would not fit."""
    problem = problem_of(catalog, RecommendRequest(**REQ))
    x, model = problem.execution, problem.model
    o = recommend(catalog, RecommendRequest(**REQ)).options[0]
    gpu, n = o.build.gpu, o.build.n_gpus
    xn = x.model_copy(update={"parallelism": Parallelism(pp=n)})
    chassis = next(c for c in chassis_for(problem, gpu, n) if c.id == o.build.chassis.id)
    probe = System.of(gpu, n).model_copy(update={"host": hyb._probe_host(problem, chassis)})
    cpu_eff = catalog.cpu_efficiency(x.engine.id)
    assert o.estimate.execution.hybrid.gpu_layers == hybrid_estimate.layers_that_fit(model, xn, probe, cpu_eff)
    more = o.estimate.execution.hybrid.model_copy(update={"gpu_layers": o.estimate.execution.hybrid.gpu_layers + 1})
    mem, _, _ = hybrid_estimate.memory(model, xn.model_copy(update={"hybrid": more}), probe)
    assert not mem.fits


def test_a_layer_split_needs_a_host(catalog):
    problem = problem_of(catalog, RecommendRequest(**REQ))
    gpu = catalog.gpu("rtx-4090")
    with pytest.raises(ValueError, match="host"):
        hyb.hybrid_setup(problem.model, problem.execution, System.of(gpu), catalog.cpu_efficiency("llama.cpp"))


def test_a_model_the_gpus_hold_gets_no_layer_hybrid(catalog):
    """qwen2.5-7b q4_k_m fits one 16 GB card whole: a split would put every layer on the GPU (a GPU build), so the
    hybrid class has nothing to add on such cards."""
    r = recommend(catalog, RecommendRequest(model="qwen2.5-7b", precision="q4_k_m", build_class="hybrid"))
    for o in r.options:
        h = o.estimate.execution.hybrid
        assert h is not None and 0 < h.gpu_layers < o.estimate.model.n_layers
