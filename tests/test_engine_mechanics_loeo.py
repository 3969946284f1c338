"""Leave-one-engine-out from mechanics (benchmarks/calibrate.py): an engine the fit never saw pays its own kernels
per decode layer (data/engine_mechanics.csv, counted from its documented decode path) x the dispatch cost of its
runtime kind taken from the OTHER measured engines of that kind, never its own fitted constant; and a fitted
engine's band comes from its own cross-validated error (leave-one-GPU-out, or leave-one-model-out when it was
measured on one GPU), not from the leave-one-engine-out error of an engine never seen."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def calibrate():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import calibrate as module
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_kernel_counts_cited_from_the_decode_graphs(catalog):
    """transformers eager (modeling_llama.py, <= 4.35): 8 RMSNorm ops x2, q/k/v, 12 rotary ops with the cos/sin
    gathers, 2 cache cats, 2 repeat_kv copies, 7 eager attention ops, o_proj + add, 5 MLP ops, add = 50; SDPA (the
    default from 4.36) trades the 7 attention ops for 3 contiguous copies, SDPA and the output copy: 48. TensorRT-LLM
    0.6.1 with plugins: 12. gpt-fast under Inductor + CUDA graphs: 11."""
    assert catalog.engine("transformers@4.35").kernels_per_layer == 50
    assert catalog.engine("transformers@4.35").attn_scores_materialized
    assert catalog.engine("transformers").kernels_per_layer == 48
    assert not catalog.engine("transformers").attn_scores_materialized
    assert catalog.engine("tensorrt-llm@0.6.1").kernels_per_layer == 12
    assert catalog.engine("gpt-fast").kernels_per_layer == 11


def test_runtime_kinds(catalog, calibrate):
    kind = calibrate.runtime_kind
    assert kind(catalog.engine("transformers")) == "eager"
    assert kind(catalog.engine("vllm")) == "graph"
    assert kind(catalog.engine("gpt-fast")) == "graph"
    assert kind(catalog.engine("tensorrt-llm@0.6.1")) == "cpp"
    assert kind(catalog.engine("tensorrt-llm@1.0")) == "graph"
    assert kind(catalog.engine("llama.cpp@b3000")) == "cpp"


def test_host_cost_is_kernels_times_the_other_engines_dispatch(catalog, calibrate):
    """Held-out vLLM: 10 kernels x the median dispatch of the other graph-replay engines (gpt-fast 4.78 us,
    TensorRT-LLM 1.0 10.62 us); vLLM's own 14.27 us is never used."""
    others = [catalog.engine(n) for n in ("gpt-fast", "tensorrt-llm@1.0", "llama.cpp@b3000", "transformers")]
    host = calibrate.mechanics_overhead_s(catalog.engine("vllm"), others)
    assert host == pytest.approx(10 * statistics.median([4.78e-6, 10.62e-6]))
    with_self = calibrate.mechanics_overhead_s(catalog.engine("vllm"), [*others, catalog.engine("vllm")])
    assert with_self != host  # the function takes whatever it is given: leave_one_engine_out never passes the engine


def test_an_engine_alone_in_its_kind_pays_the_published_dispatch(catalog, calibrate):
    """transformers is the only eager-Python engine measured: 48 kernels x 15 us (the middle of 5-25 us per eager
    PyTorch op), not its fitted 973 us per layer."""
    others = [catalog.engine(n) for n in ("vllm", "gpt-fast", "tensorrt-llm@0.6.1", "llama.cpp@b3000")]
    host = calibrate.mechanics_overhead_s(catalog.engine("transformers"), others)
    assert host == pytest.approx(48 * calibrate.PUBLISHED_DISPATCH_S["eager"])
    assert host == pytest.approx(720e-6)
    fitted = catalog.efficiency("transformers", "datacenter").layer_overhead_s
    assert host != pytest.approx(fitted)


def test_leave_one_model_out_uses_only_the_engines_other_models(catalog, calibrate):
    """The within-engine k-fold holds out each model of an engine measured on one GPU and names it."""
    usable = [c for c in calibrate.usable_cases(catalog) if c.execution.engine.id == "gpt-fast"]
    held = calibrate.leave_one_model_out(catalog, usable)
    assert {h.held for h in held} == {c.model.id for c in usable}
    assert all(h.basis == "leave-one-model-out" and h.engine == "gpt-fast" for h in held)
    assert len(held) == len(usable)


@pytest.mark.parametrize("engine", ["vllm", "gpt-fast", "transformers"])
def test_a_fitted_engine_measured_on_one_gpu_gets_its_own_band(catalog, engine):
    """vLLM is in the fit: its decode band is its leave-one-model-out error, and the point lies strictly inside."""
    band = next(b for b in catalog.efficiency(engine, "datacenter").band if b.metric == "decode")
    assert band.basis == "leave-one-model-out"
    assert band.lo_ratio < 1 < band.hi_ratio


def test_the_pool_never_lends_its_cache_traffic(catalog, calibrate):
    """kv_traffic is a property of an engine's attention kernels, not of the GPU: the pooled fit holds every row at
    UNSEEN_KV_TRAFFIC (1: the bytes kv_passes counts, read once), so the coordinate moves nothing, and a long-context
    row of a pooled engine is predicted with that traffic whatever x says."""
    usable = calibrate.usable_cases(catalog)
    rows = [c for c in usable if c.execution.engine.id == "transformers" and c.execution.prompt_tokens >= 30720][:4]
    rows += [c for c in usable if c.execution.engine.id == "vllm"][:4]
    own = {"transformers": 800e-6, "vllm": 140e-6}
    x = calibrate.PRIOR.copy()
    base = calibrate.pooled_residuals(rows, x, own)
    x[calibrate.PARAMS.index("kv_traffic")] = 3.0
    assert calibrate.pooled_residuals(rows, x, own) == pytest.approx(base)
    assert calibrate.UNSEEN_KV_TRAFFIC == 1.0
