"""RL and preference fine-tuning: the roles each algorithm needs, where they sit, the step's phases, a build."""

from __future__ import annotations

import json

import pytest
from cli_run import run_main

from sizing import rl
from sizing.specs import RecommendRequest, Request


def req(**kw) -> Request:
    return Request(**{"model": "qwen2.5-7b", "task": "grpo", "gpu": "h100-sxm", "n_gpus": 8, **kw})


def test_grpo_has_a_policy_a_reference_and_a_rollout_engine(catalog):
    plan = rl.estimate(catalog, req())
    assert {r.name for r in plan.roles} == {"policy", "reference", "rollout"}
    assert plan.step.step_s == pytest.approx(
        plan.step.rollout_s + plan.step.scoring_s + plan.step.update_s + plan.step.sync_s
    )
    assert plan.step.sequences == 64 * 8
    assert plan.fits


def test_ppo_adds_a_critic_and_dpo_generates_nothing(catalog):
    ppo = rl.estimate(catalog, req(task="ppo"))
    grpo = rl.estimate(catalog, req())
    assert "critic" in {r.name for r in ppo.roles}
    assert ppo.per_gpu_bytes > grpo.per_gpu_bytes and ppo.step.update_s > grpo.step.update_s
    dpo = rl.estimate(catalog, req(task="dpo"))
    assert "rollout" not in {r.name for r in dpo.roles} and dpo.step.rollout_s == 0
    assert dpo.step.sequences == 64 * 2


def test_a_reward_model_is_a_frozen_role(catalog):
    plan = rl.estimate(catalog, req(reward_model="qwen2.5-1.5b"))
    reward = next(r for r in plan.roles if r.name == "reward")
    assert not reward.trains and reward.per_gpu_bytes > 0
    assert plan.step.scoring_s > rl.estimate(catalog, req()).step.scoring_s


def test_colocated_needs_fewer_gpus_than_disaggregated(catalog):
    """The same training GPUs: colocated shares them with the rollout engine, disaggregated adds its own."""
    colocated = rl.estimate(catalog, req(n_gpus=4))
    apart = rl.estimate(catalog, req(n_gpus=4, placement="disaggregated"))
    assert colocated.n_gpus < apart.n_gpus
    assert apart.step.sync_s > 0 and colocated.step.sync_s == 0
    assert {r.gpus for r in apart.roles} == {"training", "rollout"}


def test_longer_responses_take_longer_to_roll_out(catalog):
    short, long = (rl.estimate(catalog, req(response_tokens=n)) for n in (512, 4096))
    assert long.step.rollout_s > short.step.rollout_s
    assert long.step.tokens > short.step.tokens


def test_lora_policy_needs_less_memory(catalog):
    assert rl.estimate(catalog, req(lora=True)).per_gpu_bytes < rl.estimate(catalog, req()).per_gpu_bytes


def test_recommend_grpo_gives_a_build_with_its_roles(catalog):
    found = rl.recommend(catalog, RecommendRequest(model="qwen2.5-7b", task="grpo"))
    assert found.build is not None and found.plan is not None and found.plan.fits
    assert found.plan.gpu == found.build.build.gpu.id


def test_cli_json_has_roles_and_the_step_split(capsys):
    code, out, _ = run_main(["recommend", "--task", "grpo", "--model", "qwen2.5-7b", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert {r["name"] for r in data["roles"]} >= {"policy", "reference", "rollout"}
    assert set(data["time"]) >= {"step_s", "rollout_s", "scoring_s", "update_s", "sync_s"}
    assert data["build"]["gpu"]
