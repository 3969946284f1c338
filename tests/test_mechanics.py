"""Published mechanics the estimator builds on, pinned: the eager attention score matrix, the expected distinct
experts at a batch, speculative decoding's tokens per verify step and speed-up, and kernels per layer as the launch
cost of engines whose efficiency factors are borrowed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sizing import scenarios
from sizing.estimate import shapes
from sizing.estimate.engines import activation_bytes
from sizing.estimate.inference import tokens_per_verify_step
from sizing.estimate.roofline import layer_overhead_s
from sizing.specs import Request


def test_eager_attention_scores_are_heads_by_prompt_squared_in_fp32(catalog):
    """Without flash attention llama.cpp materialises KQ = n_heads x ubatch x kv_len in f32 for one layer
    (ggml soft_max_ext over the f32 KQ tensor). Llama-3-8B (32 heads), a 512-token prompt in one 512-token ubatch,
    no new tokens: 32 x 512 x 512 x 4 bytes = 33,554,432 bytes exactly, which flash attention (-fa auto) saves."""
    req = Request(model="llama-3-8b", precision="q4_k_m", prompt_tokens=512, new_tokens=0)
    model, eager = scenarios.resolve_execution(catalog, req.model_copy(update={"engine": "llama.cpp@b3000"}))
    _, flash = scenarios.resolve_execution(catalog, req.model_copy(update={"engine": "llama.cpp"}))
    assert eager.engine.attn_scores_materialized and not flash.engine.attn_scores_materialized
    assert activation_bytes(model, eager) - activation_bytes(model, flash) == 32 * 512**2 * 4


def test_expected_distinct_experts_at_batch(catalog):
    """E (1 - (1 - k/E)^b) distinct experts per MoE layer under uniform routing. DeepSeek-V3: E = 256, k = 8.
    b = 1: exactly k; b = 32: 256 (1 - (31/32)^32) = 163.3; b = 1000: all but ~0 of 256."""
    v3 = catalog.model("deepseek-v3")
    assert (v3.n_experts, v3.n_active_experts) == (256, 8)
    assert shapes.experts_touched(v3, 1) == pytest.approx(8)
    assert shapes.experts_touched(v3, 32) == pytest.approx(256 * (1 - (31 / 32) ** 32))
    assert shapes.experts_touched(v3, 32) == pytest.approx(163.3, abs=0.05)
    assert shapes.experts_touched(v3, 1000) == pytest.approx(256, abs=1e-9)


@given(b=st.integers(1, 10_000))
def test_experts_touched_rise_with_batch_and_stay_below_all(catalog, b):
    m = catalog.model("qwen3-235b-a22b") if "qwen3-235b-a22b" in catalog.models else catalog.model("deepseek-v3")
    assert m.n_active_experts <= shapes.experts_touched(m, b) <= m.n_experts + 1e-9
    assert shapes.experts_touched(m, b + 1) >= shapes.experts_touched(m, b)


def test_tokens_per_verify_step_leviathan():
    """(1 - a^(n+1)) / (1 - a), Leviathan et al. 2023 eq. 1: a = 0.7, one draft (DeepSeek-V3 MTP) -> 1.7 tokens;
    a = 0.8, n = 4 -> 3.3616 (the paper's Figure 3 curve for gamma = 4 at alpha = 0.8 reads ~3.4)."""
    assert tokens_per_verify_step(0.7, 1) == pytest.approx(1.7)
    assert tokens_per_verify_step(0.8, 4) == pytest.approx((1 - 0.8**5) / 0.2)
    assert tokens_per_verify_step(0.0, 3) == pytest.approx(1.0)


@given(a=st.floats(0.0, 0.99), n=st.integers(1, 16))
def test_tokens_per_step_between_one_and_n_plus_one(a, n):
    assert 1.0 - 1e-12 <= tokens_per_verify_step(a, n) <= n + 1 + 1e-12


def test_mtp_speedup_at_acceptance_0_7(catalog):
    """At batch 1 decode is bound by the weights, so a verify step over 2 tokens costs about one step: the speed-up
    is ~ tokens per step / (1 + n c) = 1.7 / (1 + 1/32) = 1.65 for Llama-3-8B (32 layers) with MTP at a = 0.7
    (DeepSeek-V3 report §5.4.3 measures 1.8x TPS at 85-90% acceptance of the second token). Tolerance 5%: the
    verify step's extra FLOPs and attention."""
    base = Request(model="llama-3-8b", gpu="h100-sxm", prompt_tokens=512, new_tokens=512)
    plain = scenarios.run(catalog, base).speed
    mtp = scenarios.run(catalog, base.model_copy(update={"speculative": "mtp", "acceptance": 0.7})).speed
    assert mtp.tokens_per_step == pytest.approx(1.7)
    assert mtp.decode_tokens_per_s / plain.decode_tokens_per_s == pytest.approx(1.7 / (1 + 1 / 32), rel=0.05)


def test_speculative_needs_acceptance(catalog):
    from sizing.specs import SizingError

    with pytest.raises(SizingError, match="--acceptance"):
        scenarios.run(catalog, Request(model="llama-3-8b", speculative="mtp"))
    with pytest.raises(SizingError, match="--draft-model"):
        scenarios.run(catalog, Request(model="llama-3-8b", speculative="draft-model", acceptance=0.6))


def test_kernels_per_layer_from_the_engines_design(catalog):
    """vLLM's Llama decoder layer launches 10 kernels (vllm/model_executor/models/llama.py: fused RMSNorm+residual,
    QKV GEMM, rotary, reshape_and_cache, attention, o_proj, fused RMSNorm, gate_up GEMM, SiluAndMul, down_proj);
    flash attention turns llama.cpp's KQ matmul, soft_max_ext and KQV matmul into one flash_attn_ext (22 -> 20)."""
    assert catalog.engine("vllm").kernels_per_layer == 10
    assert catalog.engine("llama.cpp@b3000").kernels_per_layer == 22
    assert catalog.engine("llama.cpp").kernels_per_layer == 20


def test_borrowed_factors_take_the_launch_cost_of_their_own_design(catalog):
    """An engine whose factors are copied pays its own kernels x dispatch per layer, not the borrowed constant; a
    measured engine keeps its fitted one."""
    exl = catalog.engine("exllamav2")
    eff = catalog.efficiency("exllamav2", "geforce")
    assert eff.copied_from == "llama.cpp"
    assert layer_overhead_s(exl, eff) == pytest.approx(exl.kernels_per_layer * exl.dispatch_s_per_kernel)
    assert layer_overhead_s(exl, eff) < eff.layer_overhead_s  # fused kernels: fewer launches than llama.cpp's
    cpp = catalog.engine("llama.cpp")
    assert layer_overhead_s(cpp, catalog.efficiency("llama.cpp", "geforce")) == pytest.approx(
        catalog.efficiency("llama.cpp", "geforce").layer_overhead_s
    )


def test_mechanics_rows_not_measured_are_marked(catalog):
    assert catalog.mechanics and all(m.source for m in catalog.mechanics)
    assert all(m.unconfirmed for m in catalog.mechanics if "UNCONFIRMED" in m.source)


def test_sglang_pays_graph_replay_per_kernel_once_its_scheduler_overlaps(catalog):
    """SGLang's current release replays CUDA graphs with its scheduler overlapped (v0.4 'zero-overhead batch
    scheduler'): one launch costs what gpt-fast's graph replay costs, not what vLLM 0.6.3's fit folds its
    between-step scheduler into; the pinned v0.4 release keeps vLLM's cost. Per layer that is 10 x 4.78 us."""
    now, old = catalog.engine("sglang"), catalog.engine("sglang@0.4.1")
    gpt_fast, vllm = catalog.engine("gpt-fast"), catalog.engine("vllm")
    assert now.version == "0.5.7" and old.version == "0.4.1"
    assert now.dispatch_s_per_kernel == gpt_fast.dispatch_s_per_kernel < vllm.dispatch_s_per_kernel
    assert old.dispatch_s_per_kernel == vllm.dispatch_s_per_kernel
    eff = catalog.efficiency("sglang", "datacenter")
    assert eff.copied_from == "vllm"
    assert layer_overhead_s(now, eff) == pytest.approx(10 * 4.78e-6)


def test_mlc_llm_pays_graph_replay_per_kernel(catalog):
    """MLC-LLM's decode runs as Relax VM bytecode in TVM's native runtime over CUDA-graph-captured kernels: a launch
    costs graph replay's (gpt-fast's fit), not vLLM 0.6.3's, whose fit folds its Python scheduler in."""
    mlc, gpt_fast = catalog.engine("mlc-llm"), catalog.engine("gpt-fast")
    assert mlc.cuda_graphs and mlc.dispatch_s_per_kernel == gpt_fast.dispatch_s_per_kernel
    assert catalog.efficiency("mlc-llm", "geforce").copied_from  # borrowed factors: the mechanics set its host cost
