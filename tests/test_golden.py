"""Golden summaries of `sizing recommend` and `sizing estimate` on the frozen catalog (tests/catalog/): any change to
what a buyer is told shows up as a diff of tests/golden/, reviewed and regenerated only with --regen-golden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sizing.report import estimate_json
from sizing.scenarios import recommend, run
from sizing.specs import Recommendation, RecommendRequest, Request

GOLDEN = Path(__file__).parent / "golden"
RECOMMEND = {
    "7b-default": {"model": "7b"},
    "70b-awq": {"model": "llama-3-70b", "precision": "awq-int4"},
    "32b-three-gpus": {"model": "qwen2.5-32b", "users": 8, "gpus_allowed": ("rtx-4090", "rtx-a6000", "l40s")},
    "r1-fp8": {"model": "deepseek-r1", "precision": "fp8"},
    "r1-distill-cny": {"model": "deepseek-r1-distill-qwen-14b", "currency": "CNY"},
    "7b-speed": {"model": "7b", "objective": "speed"},
    "14b-cost-per-token": {"model": "14b", "objective": "cost-per-token", "users": 16},
    "70b-tower": {"model": "70b", "form_factor": "tower"},
    "7b-budget": {"model": "7b", "budget": 1500},
    "mixtral-llama-cpp": {"model": "mixtral-8x7b", "engine": "llama.cpp", "precision": "q4_k_m"},
}
ESTIMATE = {
    "8b-q4-4090": {"model": "llama-3-8b", "engine": "llama.cpp", "precision": "q4_k_m", "prompt_tokens": 0},
    "70b-a100x4": {
        "model": "llama-3-70b",
        "gpu": "a100-80gb-sxm",
        "n_gpus": 4,
        "batch": 16,
        "prompt_tokens": 4096,
    },
    "v3-h200x8": {"model": "deepseek-v3", "gpu": "h200", "n_gpus": 8, "precision": "fp8", "batch": 8},
    "qwen7b-hf-long": {
        "model": "qwen2.5-7b",
        "engine": "transformers",
        "gpu": "a100-80gb",
        "prompt_tokens": 30720,
    },
}


def summary(r: Recommendation) -> dict:
    """What a buyer reads first: the ranked builds with price, speed and memory, the rejection count, the ways out."""
    return {
        "options": [
            [
                o.build.gpu.id,
                o.build.n_gpus * o.build.n_nodes,
                o.build.n_nodes,
                o.build.chassis.id,
                o.build.cpu.id,
                o.build.psu.id,
                None if o.total_price_usd is None else round(o.total_price_usd, 2),
                round(o.subtotal_usd, 2),
                round(o.estimate.speed.decode_tokens_per_s_total, 1),
                round(o.estimate.memory.need_per_gpu_bytes / 2**20),
            ]
            for o in r.options[:8]
        ],
        "n_options": len(r.options),
        "n_rejected": len(r.rejected),
        "ways_out": list(r.ways_out),
    }


def check(name: str, value: dict, regen: bool) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(value, indent=1, sort_keys=True) + "\n"
    if regen:
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}; run pytest --regen-golden and review it"
    assert json.loads(path.read_text()) == json.loads(text), f"{name} changed; review, then pytest --regen-golden"


@pytest.mark.parametrize("name", sorted(RECOMMEND))
def test_recommend_golden(snapshot, request, name):
    check(
        f"recommend-{name}",
        summary(recommend(snapshot, RecommendRequest(**RECOMMEND[name]))),
        request.config.getoption("--regen-golden"),
    )


@pytest.mark.parametrize("name", sorted(ESTIMATE))
def test_estimate_golden(snapshot, request, name):
    check(
        f"estimate-{name}",
        estimate_json(run(snapshot, Request(**ESTIMATE[name]))),
        request.config.getoption("--regen-golden"),
    )
