"""--task embed (issue 8): embedding and reranker servers beside an LLM in RAG. One forward per batch, no decode and
no KV cache kept; memory = weights + one forward's tensors; speed = the prefill's FLOPs over the GPU's matmul rate;
the recommender ranks by embedded tokens/s."""

from __future__ import annotations

import json

import pytest
from cli_run import run_main
from hypothesis import given, settings
from hypothesis import strategies as st

from sizing.catalog.checks import check_model_params
from sizing.estimate import embed
from sizing.recommend import search
from sizing.recommend.rank import rank_key
from sizing.scenarios import problem_of, run
from sizing.specs import RecommendRequest, Request

EMBEDDERS = (
    "bge-m3 bge-reranker-v2-m3 qwen3-embedding-0.6b qwen3-embedding-4b qwen3-embedding-8b "
    "qwen3-reranker-0.6b qwen3-reranker-4b qwen3-reranker-8b"
).split()


def embed_run(catalog, model="bge-m3", **kw):
    req = {"model": model, "task": "embed", "precision": "f16", "gpu": "l4", "batch": 32, "seq_len": 512, **kw}
    return run(catalog, Request(**req))


@pytest.mark.parametrize("model", EMBEDDERS)
def test_embedding_rows_resolve_pool_and_match_their_counts(catalog, model):
    m = catalog.model(model)
    assert m.is_embedding and m.pooling and catalog.model(m.aliases[0]).id == model
    assert check_model_params(m) is None  # the shape's count within 2% of the stated one


def test_bge_m3_weights_in_f16_are_about_1_1_gb(catalog):
    """BAAI/bge-m3 model card: 568M parameters, so ~1.14 GB at 2 bytes (5% for the biases the arithmetic leaves out)."""
    e = embed_run(catalog)
    assert e.memory.breakdown.weights_bytes == pytest.approx(568e6 * 2, rel=0.05)
    assert e.memory.breakdown.kv_cache_bytes == 0 and e.speed.decode_tokens_per_s == 0
    assert e.fits and e.speed.sequences_per_s == pytest.approx(e.speed.prefill_tokens_per_s / 512)


def test_the_encoder_attends_both_ways_and_keeps_one_layer_of_kv(catalog):
    """bge-m3 (XLM-RoBERTa) is bidirectional: P^2 attention per layer, twice a causal model's P^2/2; its forward
    holds one layer's K/V, a decoder engine every layer's for the pass."""
    m = catalog.model("bge-m3")
    causal = m.model_copy(update={"architecture": "qwen3-embedding"})
    e = embed_run(catalog, seq_len=8192, batch=1)
    x, system, eff = e.execution, e.system, e.efficiency
    assert embed.forward(m, x, system, eff).compute_s > embed.forward(causal, x, system, eff).compute_s
    kv_one_layer = embed.forward_bytes(m, x) - embed.forward_bytes(causal, x)
    assert kv_one_layer < 0  # one layer of K/V, not 24


@settings(max_examples=25, deadline=None)
@given(
    model=st.sampled_from(["bge-m3", "qwen3-embedding-0.6b", "qwen3-embedding-8b"]),
    gpu=st.sampled_from(["l4", "rtx-4090", "h100-sxm"]),
    batch=st.integers(1, 256),
    seq=st.sampled_from([64, 512, 2048, 8192]),
)
def test_throughput_never_drops_when_the_batch_doubles(catalog, model, gpu, batch, seq):
    """Every part of a forward's time (FLOPs, weight reads per prefill chunk, launches, all-reduces) at most doubles
    when the batch doubles, so embedded tokens/s never falls."""
    one = embed_run(catalog, model, gpu=gpu, batch=batch, seq_len=seq, precision="bf16")
    two = embed_run(catalog, model, gpu=gpu, batch=2 * batch, seq_len=seq, precision="bf16")
    assert two.speed.prefill_tokens_per_s >= one.speed.prefill_tokens_per_s * (1 - 1e-9)
    assert two.memory.need_per_gpu_bytes >= one.memory.need_per_gpu_bytes


def test_embed_json_reports_sequences_per_second(catalog, capsys):
    code, out, _ = run_main(
        [
            "estimate",
            "--task",
            "embed",
            "--model",
            "qwen3-embedding-0.6b",
            "--batch",
            "16",
            "--seq-len",
            "1024",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    speed = json.loads(out)["speed"]
    assert speed["sequences_per_s"] > 0 and speed["decode_tokens_per_s"] == 0
    assert speed["prefill_tokens_per_s"] == pytest.approx(speed["sequences_per_s"] * 1024, rel=1e-3)


def test_a_chat_model_is_refused_naming_the_embedding_models(capsys):
    code, out, err = run_main(["estimate", "--task", "embed", "--model", "llama-3.2-1b"], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "embedding or reranker model" in err and "bge-m3" in err and "qwen3-embedding-8b" in err


def test_the_recommender_ranks_by_embedding_throughput(catalog):
    """--objective speed: the options come fastest first by embedded tokens/s (decode is zero for all of them)."""
    req = RecommendRequest(model="bge-m3", task="embed", users=32, context=512, max_gpus=2, objective="speed")
    options, _ = search(problem_of(catalog, req))
    order = sorted(options, key=lambda o: rank_key(o, "speed"))
    assert len(order) > 3 and all(o.estimate.execution.task == "embed" for o in order)
    rates = [o.estimate.speed.prefill_tokens_per_s for o in order]
    assert rates == sorted(rates, reverse=True)
    assert order[0].estimate.throughput_tokens_per_s == rates[0]
