"""Estimator tests: published numbers with a stated tolerance, and invariants as hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sizing.estimate import ESTIMATORS, engines, estimate, inference, parallel, roofline, shapes
from sizing.scenarios import Request, resolve_execution, run
from sizing.specs import Execution, Parallelism, System
from sizing.specs.system import gpu_link as system_gpu_link
from sizing.units import GIB, KIB


def kv_per_token(catalog, model: str, kv: str, engine: str = "vllm") -> float:
    return shapes.kv_cache_bytes(
        catalog.model(model), catalog.engine(engine).mla_latent_cache, catalog.precision(kv).weight_bits, 1
    )


# ---- published numbers ------------------------------------------------------------------------------------
def test_llama2_7b_fp16_kv_is_512_kib_per_token(catalog):
    # Baseten "A guide to LLM inference and performance": 4 * 32 layers * 4096 = 524,288 B/token (hardware.md §4.4)
    assert kv_per_token(catalog, "llama-2-7b", "f16") == 512 * KIB


def test_llama3_70b_bf16_kv_is_320_kib_per_token(catalog):
    # hardware.md §4.4 worked example: 80 layers x 8 KV heads x 128 x 2 (K,V) x 2 B = 320 KiB (GQA, not MHA's 2.5 MiB)
    assert kv_per_token(catalog, "llama-3-70b", "bf16") == 320 * KIB


def test_llama3_8b_bf16_kv_is_128_kib_per_token(catalog):
    assert kv_per_token(catalog, "llama-3-8b", "bf16") == 128 * KIB  # hardware.md §4.4 table


def test_deepseek_v3_mla_latent_cache_per_token(catalog):
    # DeepSeek-V2 paper §2.1.2 / vLLM MLA: (kv_lora_rank 512 + rope 64) x 61 layers x 2 B = 70,272 B per token
    assert kv_per_token(catalog, "deepseek-v3", "bf16") == 70_272


def test_mla_without_latent_kernels_caches_full_heads(catalog):
    # transformers expands MLA to per-head K (192) and V (128) for 128 heads: 40,960 elements per layer
    full = kv_per_token(catalog, "deepseek-v3", "bf16", engine="transformers")
    assert full == 61 * 128 * (128 + 64 + 128) * 2


def test_fp8_kv_halves_the_cache(catalog):
    assert kv_per_token(catalog, "llama-3-8b", "fp8") == pytest.approx(64 * KIB)  # hardware.md §4.4: "FP8 halves"


def test_rtx4090_dense_bf16_is_165_not_330(catalog):
    # Ada whitepaper v2.1 App. A: 165.2 TFLOPS with FP32 accumulate; 330 is FP16-accumulate
    assert catalog.gpu("rtx-4090").bf16_flops == pytest.approx(165.2e12, rel=0.01)


def test_h100_sxm_dense_bf16_is_989_not_1979(catalog):
    assert catalog.gpu("h100-sxm").bf16_flops == pytest.approx(989e12, rel=0.01)  # hardware.md §1b [S7]


def test_llama3_8b_q4_k_m_weights_match_gguf_file(catalog):
    # measured.csv weights_size: Meta-Llama-3-8B Q4_K_M GGUF = 4.58 GiB; tolerance 4%
    lin, emb = shapes.weight_bytes(catalog.model("llama-3-8b"), catalog.precision("q4_k_m"))
    assert (lin + emb) / GIB == pytest.approx(4.58, rel=0.04)


def test_llama3_70b_f16_weights_match_gguf_file(catalog):
    # measured.csv weights_size: Meta-Llama-3-70B F16 GGUF = 131.42 GiB; tolerance 1%
    lin, emb = shapes.weight_bytes(catalog.model("llama-3-70b"), catalog.precision("f16"))
    assert (lin + emb) / GIB == pytest.approx(131.42, rel=0.01)


def test_qwen25_7b_bf16_allocated_memory(catalog):
    # Qwen2.5 speed benchmark (measured.csv): transformers, A100 80GB, 1-token prompt + 2048 new = 14.38 GiB
    # max_memory_allocated; tolerance 8% (the memory target)
    e = run(
        catalog,
        Request(model="qwen2.5-7b", engine="transformers", gpu="a100-80gb", prompt_tokens=1, new_tokens=2048),
    )
    assert e.memory.allocated_per_gpu_bytes / GIB == pytest.approx(14.38, rel=0.08)


def test_qwen25_7b_long_prompt_memory(catalog):
    # same table, 30,720-token prompt: 19.97 GiB; tolerance 8%
    e = run(
        catalog,
        Request(model="qwen2.5-7b", engine="transformers", gpu="a100-80gb", prompt_tokens=30720, new_tokens=2048),
    )
    assert e.memory.allocated_per_gpu_bytes / GIB == pytest.approx(19.97, rel=0.08)


def test_llama3_8b_q4_decode_on_4090(catalog):
    # XiongjieDai GPU-Benchmarks-on-LLM-Inference (measured.csv): llama.cpp tg512 Q4_K_M on RTX 4090 = 130.58 t/s;
    # tolerance 15% for one row (the 12% decode target is a median, checked by benchmarks/accuracy.py)
    e = run(
        catalog,
        Request(
            model="llama-3-8b",
            engine="llama.cpp",
            precision="q4_k_m",
            gpu="rtx-4090",
            prompt_tokens=0,
            new_tokens=512,
        ),
    )
    assert e.speed.decode_tokens_per_s == pytest.approx(130.58, rel=0.15)


def test_gpt_fast_llama2_7b_on_a100(catalog):
    # gpt-fast README: Llama-2-7B bf16, A100-80GB (330 W cap) = 104.9 tok/s; tolerance 12%
    e = run(
        catalog,
        Request(model="llama-2-7b", engine="gpt-fast", gpu="a100-80gb-sxm", prompt_tokens=5, new_tokens=200),
    )
    assert e.speed.decode_tokens_per_s == pytest.approx(104.9, rel=0.12)


def test_llama3_70b_f16_does_not_fit_one_a100(catalog):
    # measured.csv: llama.cpp oom flag for Llama-3-70B F16 on one A100 80GB
    e = run(
        catalog,
        Request(
            model="llama-3-70b",
            engine="llama.cpp",
            precision="f16",
            gpu="a100-80gb-pcie",
            prompt_tokens=0,
            new_tokens=1024,
        ),
    )
    assert not e.fits


def test_mixtral_active_params(catalog):
    # Mistral AI: Mixtral 8x7B uses 12.9B active parameters per token; tolerance 2%
    assert catalog.model("mixtral-8x7b").derived_active_params == pytest.approx(12.9e9, rel=0.02)


def test_pipeline_factor_matches_llama_cpp_pp_scaling():
    # llama.cpp PR #6017: 4 micro-batches on 4 GPUs finish in 7 stage-times of 1/4 -> 16/7 = 2.29x faster
    assert 1 / engines.pipeline_factor(2048, 512, 4, 4) == pytest.approx(16 / 7)
    assert engines.pipeline_factor(512, 512, 4, 4) == pytest.approx(1.0)  # one micro-batch cannot pipeline


def test_layer_split_adds_no_decode_speed(catalog):
    one = run(
        catalog,
        Request(
            model="llama-3-8b",
            engine="llama.cpp",
            precision="q4_k_m",
            gpu="rtx-3090",
            prompt_tokens=0,
            new_tokens=512,
        ),
    )
    four = run(
        catalog,
        Request(
            model="llama-3-8b",
            engine="llama.cpp",
            precision="q4_k_m",
            gpu="rtx-3090",
            n_gpus=4,
            prompt_tokens=0,
            new_tokens=512,
        ),
    )
    assert four.speed.decode_tokens_per_s <= one.speed.decode_tokens_per_s


# ---- properties -------------------------------------------------------------------------------------------
MODELS = [
    "llama-3-8b",
    "qwen2.5-7b",
    "mixtral-8x7b",
    "deepseek-v2-lite",
    "gemma-2-9b",
    "falcon-7b",
    "phi-3-mini",
]
ENGINES = ["vllm", "transformers", "llama.cpp", "tensorrt-llm"]


def _estimate(catalog, model: str, engine: str, **work):
    """One estimate on an A100 SXM: llama.cpp runs q8_0, the others bf16; `work` sets batch, prompt_tokens,
    new_tokens (default 128) and n_gpus."""
    prec = "q8_0" if engine == "llama.cpp" else "bf16"
    return run(
        catalog, Request(model=model, engine=engine, precision=prec, gpu="a100-80gb-sxm", **{"new_tokens": 128, **work})
    )


@settings(max_examples=40, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    engine=st.sampled_from(ENGINES),
    batch=st.integers(1, 64),
    prompt=st.integers(0, 16384),
    new=st.integers(1, 4096),
)
def test_memory_monotone_in_batch_and_context(catalog, model, engine, batch, prompt, new):
    base = _estimate(catalog, model, engine, batch=batch, prompt_tokens=prompt, new_tokens=new).memory
    more_batch = _estimate(catalog, model, engine, batch=batch + 1, prompt_tokens=prompt, new_tokens=new).memory
    more_ctx = _estimate(catalog, model, engine, batch=batch, prompt_tokens=prompt + 256, new_tokens=new).memory
    for more in (more_batch, more_ctx):
        assert more.fits <= base.fits  # what does not fit never starts fitting with more work
        if catalog.engine(engine).gpu_memory_utilization:  # pre-allocating engines: the fixed pool shrinks
            assert more.max_batch_at_context <= base.max_batch_at_context
        else:
            assert more.per_gpu_bytes >= base.per_gpu_bytes


@settings(max_examples=40, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    engine=st.sampled_from(ENGINES),
    batch=st.integers(1, 32),
    prompt=st.integers(0, 8192),
    n_gpus=st.sampled_from([1, 2, 4, 8]),
)
def test_breakdown_sums_to_total(catalog, model, engine, batch, prompt, n_gpus):
    mem = _estimate(catalog, model, engine, batch=batch, prompt_tokens=prompt, new_tokens=256, n_gpus=n_gpus).memory
    assert mem.breakdown.total_bytes == pytest.approx(mem.per_gpu_bytes, rel=1e-9)
    assert mem.allocated_per_gpu_bytes <= mem.per_gpu_bytes


@settings(max_examples=30, deadline=None)
@given(model=st.sampled_from(MODELS))
def test_int4_weights_smaller_than_bf16(catalog, model):
    spec = catalog.model(model)
    for quant in ("gptq-int4", "awq-int4", "q4_k_m", "nf4"):
        assert shapes.model_file_bytes(spec, catalog.precision(quant)) < shapes.model_file_bytes(
            spec, catalog.precision("bf16")
        )


@settings(max_examples=30, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    engine=st.sampled_from(["vllm", "tensorrt-llm", "llama.cpp", "transformers"]),
    n=st.sampled_from([1, 2, 4]),
)
def test_more_gpus_never_more_weight_memory_per_gpu(catalog, model, engine, n):
    few = _estimate(catalog, model, engine, n_gpus=n).memory.breakdown.weights_bytes
    many = _estimate(catalog, model, engine, n_gpus=2 * n).memory.breakdown.weights_bytes
    assert many <= few


@settings(max_examples=30, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    engine=st.sampled_from(ENGINES),
    batch=st.integers(1, 64),
    prompt=st.integers(0, 16384),
)
def test_decode_slows_with_context_and_batch_raises_total(catalog, model, engine, batch, prompt):
    base = _estimate(catalog, model, engine, batch=batch, prompt_tokens=prompt).speed
    longer = _estimate(catalog, model, engine, batch=batch, prompt_tokens=prompt + 1024).speed
    bigger = _estimate(catalog, model, engine, batch=batch * 2, prompt_tokens=prompt).speed
    assert longer.decode_tokens_per_s <= base.decode_tokens_per_s * (1 + 1e-9)
    assert bigger.decode_tokens_per_s <= base.decode_tokens_per_s * (1 + 1e-9)
    assert bigger.decode_tokens_per_s_total >= base.decode_tokens_per_s_total * (1 - 1e-9)


def test_mla_absorbed_attention_flops(catalog):
    # DeepSeek-V2 §2.1.3: with the latent cache, QK runs over kv_lora_rank + rope (576) and AV over kv_lora_rank
    # (512) per head: 2 * 128 heads * 1088 * 61 layers FLOPs per cached token
    model, engine = catalog.model("deepseek-v3"), catalog.engine("vllm")
    assert shapes.attention_flops_per_token(model, 1.0, engine.mla_latent_cache) == 2 * 128 * (2 * 512 + 64) * 61


def test_sliding_window_prefill_sum(catalog):
    # Mistral-7B v0.1: every layer slides over 4096 tokens; at an 8192-token prompt the causal sum is
    # P*w - w^2/2 per layer, not P^2/2
    model = catalog.model("mistral-7b")
    per = shapes.attention_flops_per_token(model, 1.0, latent=False) / model.n_layers
    assert shapes.prefill_attention_flops(model, 8192, latent=False) == pytest.approx(
        per * 32 * (8192 * 4096 - 4096**2 / 2)
    )


def test_tensor_parallel_shares_add_up(catalog):
    """Summed over the GPUs, tensor-parallel weight shares hold the whole model once (Megatron-LM split)."""
    model, engine, bf16 = catalog.model("llama-3-70b"), catalog.engine("vllm"), catalog.precision("bf16")
    lin, emb = shapes.weight_bytes(model, bf16)

    def shares(n: int) -> parallel.Shares:
        x = Execution(engine=engine, precision=bf16, kv_precision=bf16, parallelism=Parallelism.for_engine(engine, n))
        return parallel.shares(model, x, System.of(catalog.gpu("h100-sxm"), n))

    for n in (1, 2, 4, 8):
        share = shares(n)
        assert (lin * share.blocks + emb * share.embed) * n == pytest.approx(lin + emb)
        assert share.kv * n == pytest.approx(1.0)  # 8 KV heads split over up to 8 GPUs
    assert shares(16).kv * 16 == pytest.approx(2.0)  # replicated beyond 8


def test_odd_tensor_parallel_does_not_fit(catalog):
    e = run(
        catalog,
        Request(model="llama-3-70b", engine="vllm", precision="awq-int4", gpu="a100-80gb-sxm", n_gpus=3),
    )
    assert not e.fits and any("64 attention heads divisible by 3" in n for n in e.notes)


def test_execution_rejects_negative_batch(catalog):
    bf16 = catalog.precision("bf16")
    with pytest.raises(ValueError, match="batch"):
        Execution(engine=catalog.engine("vllm"), precision=bf16, kv_precision=bf16, batch=-1)


def test_a_builds_lanes_reach_the_estimate(catalog):
    """System.from_build: two cards at x8 on a PCIe 5.0 desktop get half an x16 4.0 link (hardware.md §3.4), and
    tensor-parallel prefill, bound by its all-reduces there, slows accordingly; decode barely moves."""
    gpu = catalog.gpu("rtx-4090")
    x16 = System.of(gpu, 2)
    x8 = System(gpu=gpu, n_gpus=2, gpu_link=system_gpu_link(gpu, 2, lanes=8, pcie_gen=5), node_link=x16.node_link)
    assert x8.gpu_link.bytes_s == pytest.approx(x16.gpu_link.bytes_s / 2)
    assert x16.gpu_link.kind == "host" and x16.gpu_link.bytes_s == pytest.approx(31.5e9 / 2)  # no P2P: via host
    req = Request(model="qwen2.5-14b", engine="vllm", gpu="rtx-4090", n_gpus=2, batch=4, prompt_tokens=4096)
    model, x = resolve_execution(catalog, req)
    eff = catalog.efficiency("vllm", gpu.gpu_class)
    fast, slow = (inference.estimate(model, x, s, eff) for s in (x16, x8))
    assert slow.prefill.comm_s == pytest.approx(2 * fast.prefill.comm_s, rel=0.01)
    assert slow.speed.prefill_tokens_per_s < fast.speed.prefill_tokens_per_s
    assert slow.decode_step.comm_s > fast.decode_step.comm_s


def test_a_power_cap_slows_compute_not_bandwidth(catalog):
    """Puget [S53]: 80% power keeps ~95% of compute throughput; memory-bound decode keeps its speed."""
    gpu = catalog.gpu("rtx-4090")
    capped = System.of(gpu).model_copy(update={"gpu_power_limit_w": 0.8 * gpu.tdp_w})
    assert roofline.power_factor(capped) == pytest.approx(0.95, abs=0.003)
    model, x = resolve_execution(catalog, Request(model="llama-3-8b", gpu="rtx-4090", prompt_tokens=2048))
    eff = catalog.efficiency("vllm", gpu.gpu_class)
    full, cap = (inference.estimate(model, x, s, eff) for s in (System.of(gpu), capped))
    assert cap.prefill.compute_s == pytest.approx(full.prefill.compute_s / 0.95, rel=0.01)
    assert cap.decode_step.weights_s == pytest.approx(full.decode_step.weights_s)


def test_estimators_dispatch_on_the_task(catalog):
    assert set(ESTIMATORS) == {"inference", "lora", "qlora", "full-finetune", "pretrain", "embed"}
    model, x = resolve_execution(catalog, Request(model="llama-3-8b"))
    gpu = catalog.gpu("rtx-4090")
    e = estimate(model, x, System.of(gpu), catalog.efficiency("vllm", gpu.gpu_class))
    assert e == inference.estimate(model, x, System.of(gpu), catalog.efficiency("vllm", gpu.gpu_class))


@settings(max_examples=30, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    engine=st.sampled_from(ENGINES),
    batch=st.integers(1, 64),
    prompt=st.integers(1, 8192),
    n_gpus=st.sampled_from([1, 2, 4]),
)
def test_step_time_is_never_below_its_slowest_component(catalog, model, engine, batch, prompt, n_gpus):
    """Roofline: a step takes at least as long as reading its bytes, doing its FLOPs, or its communication; the
    components are what the rules and reports quote, so they must bound the total."""
    e = _estimate(catalog, model, engine, batch=batch, prompt_tokens=prompt, n_gpus=n_gpus)
    for step in (e.decode_step, e.prefill):
        assert step.total_s >= max(step.weights_s + step.kv_s, step.compute_s) * (1 - 1e-9)
        assert step.total_s >= step.comm_s
    assert e.speed.decode_bound == e.decode_step.bound


def test_pipeline_factor_closed_form():
    """The closed form equals summing the groups of micro-batches, and a huge prefill (a scenario row's batch
    1,000,000 x prompt 10,000,000) takes no time to estimate."""
    for tokens, ubatch, m, p in [(512, 512, 4, 2), (5000, 512, 4, 3), (100_000, 256, 3, 8), (7, 512, 1, 1)]:
        n_ub = -(-tokens // ubatch)
        groups = [m] * (n_ub // m) + ([n_ub % m] if n_ub % m else [])
        assert engines.pipeline_factor(tokens, ubatch, m, p) == pytest.approx(
            sum((k + p - 1) / p for k in groups) / n_ub
        )
    assert 0 < engines.pipeline_factor(10**13, 512, 4, 3) < 1
