"""The models people run today (issue #8): the shape fields they need, every new row by id and alias, the stated
total and active counts, and the published facts that follow from shape and datasheet."""

from __future__ import annotations

import pytest

from sizing.estimate import shapes
from sizing.specs import ModelSpec

BF16_BYTES = 2


def variant(catalog, model_id: str, **update) -> ModelSpec:
    return catalog.model(model_id).model_copy(update=update)


# ---- the shape fields and their accounting ---------------------------------------------------------------------
def test_moe_on_every_second_layer_halves_the_moe_layers(catalog):
    """Llama 4 Maverick (interleave_moe_layer_step 2): MoE on half the layers, a dense MLP of ffn_size on the rest."""
    every = catalog.model("qwen3-30b-a3b")
    half = variant(catalog, "qwen3-30b-a3b", moe_layer_step=2)
    assert half.n_moe_layers == every.n_layers // 2
    moe_mlp = every.moe_layer_params(every.n_experts or 0)
    assert every.derived_params - half.derived_params == half.n_moe_layers * (moe_mlp - every.dense_mlp_params)
    unused = ((every.n_experts or 0) - (every.n_active_experts or 0)) * every.expert_params
    assert half.derived_params - half.derived_active_params == half.n_moe_layers * unused


def test_expert_bits_apply_to_routed_experts_only(catalog):
    """gpt-oss: MXFP4 experts (4.25 bits), everything else at the run's precision; never wider than the rest."""
    plain = catalog.model("qwen3-30b-a3b")
    mx = variant(catalog, "qwen3-30b-a3b", expert_weight_bits=4.25)
    routed = plain.n_moe_layers * (plain.n_experts or 0) * plain.expert_params
    bf16, q2 = catalog.precision("bf16"), catalog.precision("q2_k")
    blocks_plain, other_plain = shapes.weight_bytes(plain, bf16)
    blocks_mx, other_mx = shapes.weight_bytes(mx, bf16)
    assert other_mx == other_plain
    assert blocks_plain - blocks_mx == pytest.approx(routed * (16 - 4.25) / 8)
    assert shapes.weight_bytes(mx, q2) == shapes.weight_bytes(plain, q2)  # 3.16 bits < 4.25: the mix wins
    touched = shapes.experts_touched(plain, 1)
    saved = plain.n_moe_layers * touched * plain.expert_params * (16 - 4.25) / 8
    assert shapes.decode_weight_bytes(plain, bf16, 1) - shapes.decode_weight_bytes(mx, bf16, 1) == pytest.approx(saved)


def test_vision_tower_is_weight_memory_not_text_flops(catalog):
    text = catalog.model("qwen2.5-7b")
    vl = variant(catalog, "qwen2.5-7b", n_vision_params=0.675e9)
    assert vl.derived_params - text.derived_params == 675_000_000
    assert vl.derived_active_params == text.derived_active_params
    assert shapes.active_matmul_params(vl) == shapes.active_matmul_params(text)
    for precision in ("bf16", "awq-int4", "q4_k_m", "fp8"):  # kept in 16 bits under every format
        p = catalog.precision(precision)
        assert shapes.model_file_bytes(vl, p) - shapes.model_file_bytes(text, p) == pytest.approx(0.675e9 * BF16_BYTES)
    assert shapes.decode_weight_bytes(vl, catalog.precision("bf16"), 1) == shapes.decode_weight_bytes(
        text, catalog.precision("bf16"), 1
    )


def linear_hybrid(catalog) -> ModelSpec:
    """A Qwen3-Next-like stack: 3 of 4 layers Gated DeltaNet (32 value heads x 128 x 128 state + conv window)."""
    return variant(
        catalog,
        "qwen3-30b-a3b",
        n_linear_attn_layers=36,
        linear_attn_proj_size=12352,
        linear_attn_value_size=4096,
        linear_attn_state_elems=32 * 128 * 128 + 8192 * 3,
    )


def test_linear_attention_layers_cache_a_fixed_state(catalog):
    full, hybrid = catalog.model("qwen3-30b-a3b"), linear_hybrid(catalog)
    per_token_layer = shapes.kv_elems_per_token_layer(full, False) * BF16_BYTES
    state = 36 * (32 * 128 * 128 + 8192 * 3) * BF16_BYTES
    for tokens in (1, 4096, 262144):
        assert shapes.kv_cache_bytes(hybrid, False, 16, tokens) == pytest.approx(12 * per_token_layer * tokens + state)
    assert shapes.kv_cache_bytes(full, False, 16, 4096) == 48 * per_token_layer * 4096
    mixer = 36 * hybrid.hidden_size * (12352 + 4096) + 12 * full.attn_params_per_layer
    assert hybrid.derived_params - full.derived_params == mixer - 48 * full.attn_params_per_layer
    # attention FLOPs grow with the context on the 12 attention layers only
    grow = shapes.attention_flops_per_token(hybrid, 2000, False) - shapes.attention_flops_per_token(hybrid, 1000, False)
    grow_full = shapes.attention_flops_per_token(full, 2000, False) - shapes.attention_flops_per_token(
        full, 1000, False
    )
    assert grow == pytest.approx(grow_full * 12 / 48)


def sparse_mla(catalog) -> ModelSpec:
    """DeepSeek-V3.2: V3's shape plus the lightning indexer (64 heads x 128, top-2048)."""
    return variant(catalog, "deepseek-v3", index_n_heads=64, index_head_dim=128, index_topk=2048)


def test_sparse_attention_indexer_cache_and_compute(catalog):
    dense, sparse = catalog.model("deepseek-v3"), sparse_mla(catalog)
    tokens = 100_000
    extra = shapes.kv_cache_bytes(sparse, True, 16, tokens) - shapes.kv_cache_bytes(dense, True, 16, tokens)
    assert extra == pytest.approx(61 * tokens * (128 + 4))  # fp8 key + fp32 scale per 128, per token and layer
    index = 2 * 64 * 128 * 61 * tokens
    core_at_topk = shapes.attention_flops_per_token(dense, 2048, True)
    assert shapes.attention_flops_per_token(sparse, tokens, True) == pytest.approx(core_at_topk + index)
    assert shapes.attention_flops_per_token(sparse, 1000, True) == pytest.approx(
        shapes.attention_flops_per_token(dense, 1000, True) + 2 * 64 * 128 * 61 * 1000
    )
    # prefill: each query past 2048 attends 2048 tokens; the indexer scores all P^2/2
    p = 8192
    per_ctx = shapes.attention_flops_per_token(dense, 1, True) / 61
    want = per_ctx * 61 * (p * 2048 - 2048**2 / 2) + 2 * 64 * 128 * 61 * p**2 / 2
    assert shapes.prefill_attention_flops(sparse, p, True) == pytest.approx(want)
    assert sparse.derived_params - dense.derived_params == 61 * (1536 * 64 * 128 + 7168 * (128 + 64))
