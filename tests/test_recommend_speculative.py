"""`sizing recommend --speculative mtp|eagle|draft-model --acceptance a`: the request reaches every candidate
build's estimate (sizing/scenarios.py problem_of), so the ranking and the latency targets see the speculative
decode speed, as `sizing estimate --speculative` does."""

from __future__ import annotations

import json

import pytest
from cli_run import run_main

from sizing import scenarios
from sizing.estimate.inference import tokens_per_verify_step
from sizing.specs import RecommendRequest, Request

BASE = {"model": "llama-3-8b", "users": 1, "context": 1024, "new_tokens": 512, "gpus_allowed": ("rtx-4090",)}
SPEC = {"speculative": "eagle", "acceptance": 0.7, "draft_tokens": 3}


@pytest.fixture(scope="module")
def pair(catalog):
    plain = scenarios.recommend(catalog, RecommendRequest(**BASE))
    spec = scenarios.recommend(catalog, RecommendRequest(**BASE, **SPEC))
    return plain, spec


def test_every_build_is_estimated_with_the_drafter(pair):
    """EAGLE at a = 0.7 with 3 draft tokens keeps (1 - 0.7^4) / 0.3 = 2.53 tokens per verify step (Leviathan et al.
    2023 eq. 1) on every ranked build."""
    _, spec = pair
    assert spec.options
    for o in spec.options:
        assert o.estimate.execution.speculative is not None
        assert o.estimate.speed.tokens_per_step == pytest.approx(tokens_per_verify_step(0.7, 3))
        assert tokens_per_verify_step(0.7, 3) == pytest.approx((1 - 0.7**4) / 0.3)


def test_the_top_build_decodes_as_estimate_says(catalog, pair):
    """The recommended build's per-user decode is `sizing estimate --speculative` on the same GPU and count, and at
    batch 1 (weight-bound) it beats the plain decode by more than 1.5x: 2.53 tokens per step over a verify step of
    4 tokens plus 3 one-layer drafts (c = 1/32) is ~2.3x."""
    plain, spec = pair
    top = spec.options[0]
    b = top.build
    request = Request(
        model="llama-3-8b", gpu=b.gpu.id, n_gpus=b.n_gpus, batch=1, prompt_tokens=512, new_tokens=512, **SPEC
    )
    alone = scenarios.run(catalog, request)
    assert top.estimate.speed.decode_tokens_per_s == pytest.approx(alone.speed.decode_tokens_per_s, rel=1e-9)
    same = next(o for o in plain.options if (o.build.gpu.id, o.build.n_gpus) == (b.gpu.id, b.n_gpus))
    assert top.estimate.speed.decode_tokens_per_s > 1.5 * same.estimate.speed.decode_tokens_per_s


def test_a_user_speed_target_keeps_more_builds_with_speculation(catalog, pair):
    """--min-user-tokens-per-s just above the best plain build's per-user decode leaves no plain build; with the
    drafter the same target is met."""
    plain, _ = pair
    fastest = max(o.estimate.speed.decode_tokens_per_s for o in plain.options)
    target = {"min_user_tokens_per_s": fastest * 1.2}
    assert not scenarios.recommend(catalog, RecommendRequest(**BASE, **target)).options
    assert scenarios.recommend(catalog, RecommendRequest(**BASE, **SPEC, **target)).options


def test_cli_takes_the_flags(capsys):
    args = ["recommend", "--model", "llama-3-8b", "--users", "1", "--context", "1024", "--gpu", "rtx-4090"]
    code, out, _ = run_main([*args, "--speculative", "mtp", "--acceptance", "0.8", "--json"], capsys)
    assert code == 0
    body = json.loads(out)
    assert body["request"]["speculative"] == "mtp"
    assert body["options"][0]["speed"]["tokens_per_step"] == pytest.approx(1.8)
    code, out, _ = run_main([*args, "--speculative", "mtp", "--acceptance", "0.8"], capsys)
    assert code == 0 and "speculative mtp (1 draft tokens, acceptance 0.8)" in out.splitlines()[0]


def test_cli_acceptance_without_a_method_is_one_line(capsys):
    code, out, err = run_main(["recommend", "--model", "llama-3-8b", "--acceptance", "0.7"], capsys)
    assert code == 2 and not out
    assert "--speculative" in err and len(err.strip().splitlines()) == 1


def test_the_drafter_takes_memory_beside_the_model(catalog):
    """A draft model's weights sit on the GPUs split like the model's: Llama-3.2-1B in bf16 (1.24B params, 2.47 GB)
    adds a quarter of itself per GPU at tp 4; MTP adds one decoder block, the block weights / 80 layers for
    Llama-3.1-70B; both add their own KV cache, so memory only grows."""
    from sizing.estimate import shapes

    base = {"model": "llama-3.1-70b", "gpu": "h100-sxm", "n_gpus": 4, "batch": 8, "prompt_tokens": 2048}
    plain = scenarios.run(catalog, Request(**base)).memory
    draft = scenarios.run(
        catalog, Request(**base, speculative="draft-model", acceptance=0.6, draft_model="llama-3.2-1b")
    ).memory
    mtp = scenarios.run(catalog, Request(**base, speculative="mtp", acceptance=0.6)).memory
    one_b = sum(shapes.weight_bytes(catalog.models["llama-3.2-1b"], catalog.precision("bf16")))
    assert one_b == pytest.approx(2.47e9, rel=0.02)
    added = draft.breakdown.weights_bytes - plain.breakdown.weights_bytes
    assert added == pytest.approx(one_b / 4, rel=1e-6)
    blocks, _ = shapes.weight_bytes(catalog.models["llama-3.1-70b"], catalog.precision("bf16"))
    added = mtp.breakdown.weights_bytes - plain.breakdown.weights_bytes
    assert added == pytest.approx(blocks / 80 / 4, rel=1e-6)
    assert plain.need_per_gpu_bytes < mtp.need_per_gpu_bytes < draft.need_per_gpu_bytes
