"""Families widely run by late 2026 that issue 8 asks to add when their config can be cited: OLMo 3 (interleaved
sliding-window attention), Phi-4-mini, Kimi K2 Thinking (INT4 routed experts), GLM-4.7 (GLM-4.6's shape)."""

from __future__ import annotations

import pytest

from sizing.catalog.checks import check_model_params
from sizing.estimate import shapes
from sizing.scenarios import run
from sizing.specs import Request

NEWER = {"olmo-3-7b": "olmo3-7b", "olmo-3-32b": "olmo-3.1-32b-instruct", "phi-4-mini": "phi4-mini",
         "kimi-k2-thinking": "moonshotai/kimi-k2-thinking", "glm-4.7": "zai-org/glm-4.7"}  # fmt: skip


@pytest.mark.parametrize(("model", "alias"), NEWER.items())
def test_newer_rows_resolve_and_match_their_shape(catalog, model, alias):
    m = catalog.model(alias)
    assert m.id == model and m.source and m.hf_repo
    assert check_model_params(m) is None


def test_olmo3_keeps_a_window_on_three_layers_in_four(catalog):
    """OLMo 3 (maxtext olmo3-7b.yml): layers 0-2 of every 4 attend within 4,096 tokens, so at 64K the cache holds
    8 full layers and 24 windows: a quarter of the full-attention cache plus 24 x 4,096 tokens' worth."""
    m = catalog.model("olmo-3-7b")
    assert m.n_sliding_layers == 24 and m.sliding_window_tokens == 4096
    full = m.model_copy(update={"n_sliding_layers": None, "sliding_window_tokens": None})

    def kv(model) -> float:  # one sequence's cache at 64K tokens in bf16
        return shapes.token_cache_bytes(model, False, 16, 65536)

    per_token_layer = 2 * m.n_kv_heads * m.head_dim * 2  # K and V in bf16
    assert kv(m) == pytest.approx(per_token_layer * (8 * 65536 + 24 * 4096), rel=1e-6)
    assert kv(full) == pytest.approx(per_token_layer * 32 * 65536, rel=1e-6)
    e = run(catalog, Request(model="olmo-3-7b", gpu="h100-sxm", engine="llama.cpp", prompt_tokens=65536 - 512))
    assert e.memory.breakdown.kv_cache_bytes == pytest.approx(kv(m), rel=0.02)


def test_kimi_k2_thinking_stores_its_experts_in_int4(catalog):
    """INT4 group-32 routed experts (4.5 bits with the scale), the rest bf16: about 0.58 TB of weights, against
    ~2 TB for the same shape all in bf16."""
    thinking, instruct = catalog.model("kimi-k2-thinking"), catalog.model("kimi-k2")
    assert thinking.n_params == instruct.n_params and thinking.expert_weight_bits == 4.5
    e = run(catalog, Request(model="kimi-k2-thinking", gpu="h200", n_gpus=8))
    weights = e.memory.breakdown.weights_bytes * 8
    assert 0.5e12 < weights < 0.65e12
