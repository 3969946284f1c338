"""RL and preference fine-tuning: the roles each algorithm needs, where they sit, the step's phases, a build."""

from __future__ import annotations

import json
import math

import pytest
from cli_run import run_main
from hypothesis import given, settings
from hypothesis import strategies as st

from sizing import rl
from sizing.rules.deadline import rl_deadline
from sizing.specs import RecommendRequest, Request


def req(**kw) -> Request:
    return Request(**{"model": "qwen2.5-7b", "task": "grpo", "gpu": "h100-sxm", "n_gpus": 8, **kw})


def test_grpo_has_a_policy_a_reference_and_a_rollout_engine(catalog):
    plan = rl.estimate(catalog, req())
    assert {r.name for r in plan.roles} == {"policy", "reference", "rollout"}
    assert plan.step.step_s == pytest.approx(
        plan.step.rollout_s + plan.step.scoring_s + plan.step.update_s + plan.step.sync_s + plan.step.offload_s
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


# --- the RL run and its deadline (rules/deadline.py rl_deadline) ---------------------------------------------------


def with_rl_deadline(plan, deadline_s):
    return plan.model_copy(update={"setup": plan.setup.model_copy(update={"deadline_s": deadline_s})})


@pytest.fixture(scope="module")
def timed_plans(catalog):
    """One GRPO run of 200 steps on a few systems: their run times differ by GPU and count."""
    out = []
    for gpu, n in (("h100-sxm", 8), ("h100-sxm", 4), ("a100-sxm-80gb", 8), ("rtx-pro-6000", 2)):
        plan = rl.estimate(catalog, req(gpu=gpu, n_gpus=n, steps=200))
        assert plan.fits
        out.append(plan)
    return out


def test_the_run_is_its_steps_one_after_another(catalog):
    plan = rl.estimate(catalog, req(steps=300))
    assert plan.total_s == pytest.approx(300 * plan.step.step_s)
    assert plan.gpu_hours == pytest.approx(plan.total_s * 8 / 3600)
    assert rl.estimate(catalog, req()).total_s is None  # neither --steps nor --tokens: a step, not a run


def test_tokens_decide_the_steps_when_steps_are_not_given(catalog):
    """64 prompts x 8 responses x (512 + 1024) tokens = 786,432 tokens per step: 1B tokens x 2 epochs = 2,544 steps
    (rounded up)."""
    plan = rl.estimate(catalog, req(tokens=1e9, epochs=2))
    assert plan.step.tokens == 64 * 8 * 1536
    assert plan.setup.n_steps == math.ceil(2e9 / (64 * 8 * 1536)) == 2544
    assert rl.estimate(catalog, req(tokens=1e9, steps=10)).setup.n_steps == 10  # --steps wins


def test_rl_deadline_passes_at_the_boundary_and_fails_just_below(timed_plans):
    plan = timed_plans[0]
    total = plan.total_s
    assert rl_deadline(with_rl_deadline(plan, total)).ok
    below = rl_deadline(with_rl_deadline(plan, total * (1 - 1e-6)))
    assert not below.ok and below.rule == "deadline"
    assert "200 steps" in below.message and "--group-size" in below.message and "--lora" in below.message
    assert below.have == pytest.approx(total, abs=0.1)
    assert rl_deadline(with_rl_deadline(plan, None)).ok
    untimed = plan.model_copy(update={"setup": plan.setup.model_copy(update={"n_steps": None, "deadline_s": 60.0})})
    assert not rl_deadline(untimed).ok and "--steps or --tokens" in rl_deadline(untimed).message


@settings(max_examples=50, deadline=None)
@given(st.floats(0.05, 1.5), st.floats(1.0, 4.0))
def test_a_looser_rl_deadline_never_removes_a_plan_a_tighter_one_kept(timed_plans, share, looser):
    slowest = max(p.total_s for p in timed_plans)
    tight, loose = share * slowest, share * slowest * looser
    kept_tight = {i for i, p in enumerate(timed_plans) if rl_deadline(with_rl_deadline(p, tight)).ok}
    kept_loose = {i for i, p in enumerate(timed_plans) if rl_deadline(with_rl_deadline(p, loose)).ok}
    assert kept_tight <= kept_loose


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 10**6), st.integers(1, 50))
def test_the_run_time_is_linear_in_steps(timed_plans, steps, factor):
    plan = timed_plans[1]
    one = plan.model_copy(update={"setup": plan.setup.model_copy(update={"n_steps": steps})})
    many = plan.model_copy(update={"setup": plan.setup.model_copy(update={"n_steps": steps * factor})})
    assert many.total_s == pytest.approx(one.total_s * factor, rel=1e-9)


RL_BASE = dict(model="qwen2.5-1.5b", task="grpo", steps=500, form_factor="tower")


def test_recommend_with_an_rl_deadline_picks_a_build_that_meets_it(catalog):
    free = rl.recommend(catalog, RecommendRequest(**RL_BASE))
    assert free.plan is not None and free.build is not None and free.plan.total_s is not None
    cut = free.plan.total_s * 0.6
    bound = rl.recommend(catalog, RecommendRequest(**RL_BASE, deadline_s=cut))
    assert bound.plan is not None and bound.build is not None
    assert bound.plan.total_s <= cut and bound.plan.deadline is not None and bound.plan.deadline.ok
    assert (bound.build.total_price_usd or 0) >= (free.build.total_price_usd or 0)  # a faster build costs more


def test_an_impossible_rl_deadline_is_a_value_with_ways_out(catalog):
    found = rl.recommend(catalog, RecommendRequest(**RL_BASE, deadline_s=60.0))
    assert found.plan is None and found.build is None and found.deadline_missed
    assert any("ends the run within the 60.0 s deadline" in n for n in found.notes)
    assert any(n.startswith("way out: more or faster GPUs") for n in found.notes)


def test_a_smaller_group_is_a_way_out_of_a_fixed_step_count(catalog):
    """With --steps fixed, halving --group-size halves the sequences each step generates and trains: the run is
    shorter, so a deadline between the two runs is met that way (and by LoRA, which skips the weight gradients).
    The reference stays on the GPU (--rl-offload none), as the 8.3 h below assumes."""
    base = {**RL_BASE, "max_gpus": 1, "rl_offload": "none"}
    free = rl.recommend(catalog, RecommendRequest(**base))
    assert free.plan is not None
    half = rl.recommend(catalog, RecommendRequest(**base, group_size=4))
    assert half.plan is not None and half.plan.total_s < free.plan.total_s
    found = rl.recommend(catalog, RecommendRequest(**base, deadline_s=half.plan.total_s * 1.05))
    assert found.plan is None  # no single-GPU build runs 500 groups of 8 that fast (8.3 h on the fastest)
    assert any(n.startswith("way out: --group-size 4 meets the deadline") for n in found.notes)
    assert any(n.startswith("way out: --lora meets the deadline") for n in found.notes)


def test_cli_rl_deadline_in_json_and_text(capsys):
    args = ["estimate", "--task", "grpo", "--model", "qwen2.5-7b", "--gpu", "h100-sxm", "--gpus", "8", "--steps", "100"]
    code, out, _ = run_main([*args, "--deadline", "10m", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["time"]["n_steps"] == 100 and data["time"]["meets_deadline"] is False
    assert data["time"]["total_s"] == pytest.approx(100 * data["time"]["step_s"], rel=1e-3)
    assert data["findings"][0]["rule"] == "deadline"
    code, out, _ = run_main([*args, "--deadline", "30d"], capsys)
    assert code == 0 and "meets it" in out


def test_a_disaggregated_plan_costs_both_of_its_builds(catalog):
    """The rollout engine's GPUs are a second such build (sizing.rl.recommend): the price counts both."""
    found = rl.recommend(catalog, RecommendRequest(model="qwen2.5-7b", task="grpo", placement="disaggregated"))
    assert found.build is not None and found.plan is not None and found.n_builds == 2
    b = found.build.build  # the order: both machines
    assert found.plan.n_gpus == b.n_gpus * b.n_nodes and b.n_nodes == 2
    assert b.nic is not None  # the weight sync runs between the machines
    one = next(ln for ln in found.build.lines if ln.kind == "gpu")
    assert one.quantity == found.plan.n_gpus
    nic = next(ln for ln in found.build.lines if ln.kind == "nic")
    per_machine = sum(ln.line_total_usd or 0 for ln in found.build.lines if ln.kind != "nic") / 2
    assert found.build.total_price_usd is not None  # a priced workstation
    assert found.total_price_usd == pytest.approx(2 * per_machine + (nic.line_total_usd or 0))
    colocated = rl.recommend(catalog, RecommendRequest(model="qwen2.5-7b", task="grpo"))
    assert colocated.n_builds == 1
