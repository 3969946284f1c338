"""The models people run today (issue #8): the shape fields they need, every new row by id and alias, the stated
total and active counts, and the published facts that follow from shape and datasheet."""

from __future__ import annotations

import json

import pytest
from cli_run import run_main

from sizing.catalog.checks import check_active_params, check_model_params
from sizing.estimate import inference, parallel, shapes
from sizing.report import estimate_json, estimate_text
from sizing.scenarios import Request, run
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
    assert shapes.kv_bytes_per_token(hybrid, False, 16) == pytest.approx(12 * per_token_layer)
    assert shapes.kv_bytes_per_token(full, False, 16) == shapes.kv_cache_bytes(full, False, 16, 1)
    mixer = 36 * hybrid.hidden_size * (12352 + 4096) + 12 * full.attn_params_per_layer
    assert hybrid.derived_params - full.derived_params == mixer - 48 * full.attn_params_per_layer
    # attention FLOPs grow with the context on the 12 attention layers only
    grow = shapes.attention_flops_per_token(hybrid, 2000, False) - shapes.attention_flops_per_token(hybrid, 1000, False)
    grow_full = shapes.attention_flops_per_token(full, 2000, False) - shapes.attention_flops_per_token(
        full, 1000, False
    )
    assert grow == pytest.approx(grow_full * 12 / 48)


def test_a_mamba_attention_stack_with_mlp_only_blocks(catalog):
    """Nemotron-H 8B (NVIDIA-NeMo/Megatron-Bridge docs/models/nemotron/nemotronh.md: 52 blocks `M-M-M-M*-...` =
    24 Mamba2, 4 attention, 24 MLP-only; 4096 wide, squared-ReLU MLP 21504, 32/8 heads of 128, 128 Mamba heads of 64,
    state 128; stated 8B): n_layers = the 28 mixer blocks, n_mlp_layers = 24. Groups 8 and vocab 131072 assumed."""
    d_inner, groups, d_state, n_heads = 128 * 64, 8, 128, 128
    spec = variant(
        catalog,
        "llama-3-8b",
        n_layers=28,
        n_mlp_layers=24,
        gated_mlp=False,
        ffn_size=21504,
        vocab_size=131072,
        n_linear_attn_layers=24,
        linear_attn_proj_size=2 * d_inner + 2 * groups * d_state + n_heads,
        linear_attn_value_size=d_inner,
        linear_attn_state_elems=n_heads * 64 * d_state + (d_inner + 2 * groups * d_state) * 3,
    )
    assert spec.n_attn_layers == 4
    assert spec.derived_params == pytest.approx(8e9, rel=0.03)
    mlp = 24 * 2 * 4096 * 21504
    assert (
        spec.linear_params - mlp == 24 * spec.linear_attn_params_per_layer + 4 * spec.attn_params_per_layer + 28 * 8192
    )
    state = 24 * spec.linear_attn_state_elems * BF16_BYTES
    assert shapes.kv_cache_bytes(spec, False, 16, 8192) == 4 * 2 * 8 * 128 * BF16_BYTES * 8192 + state


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


# ---- the estimator on these shapes -------------------------------------------------------------------------------
QWEN3_NEXT_TOKEN = 12 * 2 * 2 * 256 * BF16_BYTES  # 12 attention layers x K,V x 2 KV heads x 256, bf16
QWEN3_NEXT_STATE = 36 * 548_864 * BF16_BYTES  # 36 Gated DeltaNet layers' recurrent + conv state, bf16


def test_hybrid_reports_the_per_token_cache_and_counts_the_state_per_sequence(catalog):
    """The per-token figure is the 12 attention layers' K/V (24 KiB), not the 39.5 MB fixed state; how many
    sequences fit still charges every sequence its state (at the rank's share of it)."""
    e = run(catalog, Request(model="qwen3-next-80b-a3b", gpu="h200", n_gpus=2, prompt_tokens=4096, new_tokens=1024))
    m, share = e.memory, parallel.shares(e.model, e.execution, e.system)
    assert m.kv_bytes_per_token == QWEN3_NEXT_TOKEN
    room = m.usable_per_gpu_bytes - m.breakdown.weights_bytes - m.breakdown.activations_bytes
    room -= m.breakdown.overhead_bytes
    per_seq = QWEN3_NEXT_TOKEN * 5120 * share.kv + QWEN3_NEXT_STATE * share.state
    assert m.max_batch_at_context == int(room // per_seq)
    assert m.max_batch_at_context < int(room // (QWEN3_NEXT_TOKEN * 5120 * share.kv))  # the state costs sequences


@pytest.mark.parametrize("tp", [1, 2, 4, 8])
def test_linear_attention_state_splits_by_value_heads_under_tensor_parallel(catalog, tp):
    """vLLM mamba_utils gated_delta_net_state_shape: divide(num_v_heads, tp) state heads per rank (32 value heads:
    4 each at tp 8), while the 2 KV heads of the attention layers replicate past tp 2."""
    e = run(catalog, Request(model="qwen3-next-80b-a3b", gpu="h200", n_gpus=tp, batch=4, prompt_tokens=8192))
    share = parallel.shares(e.model, e.execution, e.system)
    assert share.state == pytest.approx(1 / tp)
    assert share.kv == pytest.approx(max(1, 2 // tp) / 2)
    x, eff = e.execution, e.efficiency
    step = inference.decode_step(e.model, x, e.system, eff, 10_000)
    read = 4 * (QWEN3_NEXT_TOKEN * 10_000 * share.kv + QWEN3_NEXT_STATE / tp) * eff.kv_traffic
    assert step.kv_s == pytest.approx(read / (e.system.gpu.mem_bw_bytes_s * eff.bw_eff))


def test_sparse_attention_decode_reads_top_k_latents_and_every_indexer_key(catalog):
    """DeepSeek-V3.2-Exp paper §1 (eq. 1-2): the indexer scores every cached token, the MLA reads the top-2048
    latents only; up to 2048 tokens that is the whole cache."""
    sparse, dense = catalog.model("deepseek-v3.2"), catalog.model("deepseek-v3")
    latent, index_key = (512 + 64) * BF16_BYTES, 128 + 4  # per token and layer: bf16 latent; fp8 key + fp32 scale
    for ctx in (1000, 2048):
        assert shapes.decode_token_read_bytes(sparse, True, 16, ctx) == shapes.token_cache_bytes(sparse, True, 16, ctx)
    ctx = 100_000
    assert shapes.decode_token_read_bytes(sparse, True, 16, ctx) == pytest.approx(
        61 * (latent * 2048 + index_key * ctx)
    )
    assert shapes.decode_token_read_bytes(dense, True, 16, ctx) == shapes.kv_cache_bytes(dense, True, 16, ctx)
    e = run(catalog, Request(model="deepseek-v3.2", gpu="h200", n_gpus=8, precision="fp8", batch=8))
    x, eff = e.execution, e.efficiency
    step = inference.decode_step(sparse, x, e.system, eff, ctx)
    kv_bits = shapes.kv_bits_of(x.kv_precision)
    read = 8 * 61 * (576 * kv_bits / 8 * 2048 + index_key * ctx) * eff.kv_traffic  # the latent is replicated
    assert step.kv_s == pytest.approx(read / (e.system.gpu.mem_bw_bytes_s * eff.bw_eff))
    full = inference.decode_step(sparse.model_copy(update={"index_topk": None}), x, e.system, eff, ctx)
    assert full.kv_s > 5 * step.kv_s  # reading the whole 100K-token latent cache instead


def test_estimate_text_names_the_expert_format(catalog):
    """gpt-oss as shipped: bf16 attention and head, MXFP4 routed experts (4.25 bits); a q2_k run is narrower than
    the experts' own format, so they go down with it (shapes.expert_bits)."""
    text = estimate_text(run(catalog, Request(model="gpt-oss-20b", gpu="rtx-4090")))
    assert "bf16 (16 bits/weight, routed experts 4.25 bits)" in text
    q2 = catalog.precision("q2_k").weight_bits
    text = estimate_text(run(catalog, Request(model="gpt-oss-20b", gpu="rtx-4090", precision="q2_k")))
    assert f"q2_k ({q2:g} bits/weight, routed experts {q2:g} bits)" in text
    assert "routed experts" not in estimate_text(run(catalog, Request(model="qwen3-30b-a3b", gpu="h200")))


# ---- the rows: every new model by id and alias, counts, sources ------------------------------------------------
NEW_MODELS = (
    "gpt-oss-20b gpt-oss-120b llama-4-scout llama-4-maverick gemma-3-1b gemma-3-4b gemma-3-12b gemma-3-27b "
    "qwen3-235b-a22b-2507 qwen3-30b-a3b-2507 qwen3-4b-2507 qwen3-coder-480b-a35b qwen3-coder-30b-a3b "
    "qwen3-next-80b-a3b qwen2.5-vl-3b qwen2.5-vl-7b qwen2.5-vl-72b deepseek-v3.1 deepseek-v3.2 kimi-k2 "
    "glm-4.5 glm-4.6 glm-4.5-air "
    "minimax-m2 mistral-small-3 mistral-small-3.1 mistral-small-3.2 magistral-small devstral-small phi-4 qwq-32b "
    "llama-7b llama-13b llama-33b llama-65b open-llama-3b open-llama-7b open-llama-13b "
    "qwen3.5-35b-a3b qwen3.5-397b-a17b"
).split()
# stated active counts that no counting convention brings within 2% of the shape, and why
ACTIVE_EXCEPTIONS = {
    "deepseek-v2-lite": "DeepSeek's stated 2.4B is 2.1% below the shape without the embedding (kept as published)",
    "qwen3-next-80b-a3b": "'A3B' is a rounded name: the shape gives 3.15-3.77B depending on what is counted",
    "qwen3.5-35b-a3b": "'A3B' is a rounded name (keras-hub: ~3 billion); the shape gives 2.9-3.4B",
}


@pytest.mark.parametrize("model_id", NEW_MODELS)
def test_new_model_resolves_by_id_and_every_alias(catalog, model_id):
    model = catalog.model(model_id)
    assert model.id == model_id
    for alias in model.aliases:
        assert catalog.model(alias).id == model_id, alias
        assert catalog.model(alias.upper()).id == model_id, alias


@pytest.mark.parametrize("name", ["gpt-oss:20b", "gpt-oss-20b", "llama4-scout", "kimi-k2-instruct", "qwen3-coder:30b"])
def test_names_users_type_reach_an_estimate(catalog, name):
    assert run(catalog, Request(model=name, gpu="h200")).model.id in NEW_MODELS


@pytest.mark.parametrize("model_id", NEW_MODELS)
def test_new_rows_are_sourced_and_name_their_shipped_format(catalog, model_id):
    model = catalog.model(model_id)
    assert model.source and model.hf_repo and model.default_precision in catalog.precisions
    assert check_model_params(model) is None  # also a load-time check: total within 2% of the shape


def test_stated_active_counts_match_the_shape(catalog):
    """Every stated active count within 2% of the shape's (with or without embedding and head), bar the listed."""
    off = {m.id: check_active_params(m) for m in catalog.models.values() if check_active_params(m)}
    assert set(off) == set(ACTIVE_EXCEPTIONS), off


def test_models_json_shows_total_active_context_and_format(capsys):
    code, out, _ = run_main(["models", "--json", "gpt-oss"], capsys)
    rows = {row["id"]: row for row in json.loads(out)}
    assert code == 0 and set(rows) == {"gpt-oss-20b", "gpt-oss-120b"}
    big = rows["gpt-oss-120b"]
    assert big["n_params"] == 116_830_000_000 and big["n_active_params"] == 5_130_000_000
    assert big["max_context_tokens"] == 131072 and big["default_precision"] == "bf16"
    assert big["expert_weight_bits"] == 4.25
    code, out, _ = run_main(["models", "llama4-scout"], capsys)  # aliases filter too
    assert code == 0 and "llama-4-scout" in out and "109B" in out


def test_estimate_json_states_the_active_count(catalog):
    e = run(catalog, Request(model="qwen3-30b-a3b-2507", gpu="h200"))
    assert estimate_json(e)["assumptions"]["n_active_params"] == e.model.derived_active_params


# ---- published facts that follow from shape and datasheet -------------------------------------------------------
def fits(catalog, **request) -> bool:
    return run(catalog, Request(prompt_tokens=4096, new_tokens=1024, **request)).fits


def test_gpt_oss_120b_fits_one_80gb_gpu(catalog):
    # openai/gpt-oss README: gpt-oss-120b fits a single 80GB GPU (H100, MI300X) with its MXFP4 MoE weights
    assert fits(catalog, model="gpt-oss-120b", gpu="h100-sxm", engine="vllm", precision="bf16")


def test_gpt_oss_20b_runs_within_16_gb(catalog):
    # openai/gpt-oss README: gpt-oss-20b runs within 16GB of memory (MXFP4 experts); the RTX 4080 has 16 GB
    assert fits(catalog, model="gpt-oss-20b", gpu="rtx-4080", engine="llama.cpp", precision="bf16")
    assert fits(catalog, model="gpt-oss-20b", gpu="rtx-4080", engine="vllm", precision="bf16")


def test_gpt_oss_needs_its_mxfp4_experts_to_fit(catalog):
    """The same shape with bf16 experts (41 GB) does not fit 16 GB: the fit above is the expert format's doing."""
    upcast = variant(catalog, "gpt-oss-20b", expert_weight_bits=None)
    assert shapes.model_file_bytes(upcast, catalog.precision("bf16")) > 40e9
    assert shapes.model_file_bytes(catalog.model("gpt-oss-20b"), catalog.precision("bf16")) < 14e9


def test_llama_4_scout_int4_fits_one_h100(catalog):
    # meta-llama/llama-models Llama 4 MODEL_CARD: Scout fits a single H100 GPU with on-the-fly int4 quantization
    assert fits(catalog, model="llama-4-scout", gpu="h100-sxm", engine="vllm", precision="gptq-int4")
    assert not fits(catalog, model="llama-4-scout", gpu="h100-sxm", engine="vllm", precision="bf16")


def test_gemma_3_27b_int4_fits_a_24_gb_card(catalog):
    # Google's Gemma 3 QAT release: the int4 (Q4_0) 27B runs on one 24 GB consumer card (RTX 3090/4090)
    for gpu in ("rtx-3090", "rtx-4090"):
        assert fits(catalog, model="gemma-3-27b", gpu=gpu, engine="llama.cpp", precision="q4_0")
    assert not fits(catalog, model="gemma-3-27b", gpu="rtx-4090", engine="llama.cpp", precision="bf16")


def test_kimi_k2_fp8_does_not_fit_eight_h100(catalog):
    # MoonshotAI/Kimi-K2 README: 1T parameters in block-fp8 are about 1 TB, more than 8 x 80 GB
    assert not fits(catalog, model="kimi-k2", gpu="h100-sxm", n_gpus=8, engine="vllm", precision="fp8")
    assert shapes.model_file_bytes(catalog.model("kimi-k2"), catalog.precision("fp8")) > 8 * 80e9


def test_minimax_m2_cache_per_million_tokens(catalog):
    # MiniMax-AI/MiniMax-M2 docs/vllm_deploy_guide.md: 240 GB per 1M context tokens (bf16 KV); tolerance 10%
    per_token = shapes.kv_cache_bytes(catalog.model("minimax-m2"), False, 16, 1)
    assert per_token * 1e6 == pytest.approx(240e9, rel=0.10)


def test_qwen3_next_cache_is_a_quarter_of_a_full_stack_plus_state(catalog):
    """12 of 48 layers keep K/V (2 heads x 256); the 36 DeltaNet layers hold 548,864 state elements each."""
    model = catalog.model("qwen3-next-80b-a3b")
    per_token = 12 * 2 * 2 * 256 * BF16_BYTES
    state = 36 * 548_864 * BF16_BYTES
    assert shapes.kv_cache_bytes(model, False, 16, 262_144) == pytest.approx(per_token * 262_144 + state)


def test_gemma_3_sliding_layers_cap_the_cache(catalog):
    """Gemma 3 27B: 52 of 62 layers keep at most 1024 tokens, so at 128K the cache is ~1/6 of a full stack."""
    model = catalog.model("gemma-3-27b")
    full = 62 * 131_072
    assert shapes.layer_tokens(model, 131_072) == 10 * 131_072 + 52 * 1024
    assert shapes.layer_tokens(model, 131_072) < full / 5
