"""RL host offload (--rl-offload): the frozen reference and reward weights in host RAM, streamed to the GPUs for
their forward; the optimizer states in host RAM (the training estimate's offload); the host RAM a build needs."""

from __future__ import annotations

import json
import math

import pytest
from cli_run import run_main
from hypothesis import given, settings
from hypothesis import strategies as st

from sizing import rl
from sizing.estimate import rl as rl_est
from sizing.estimate.training import host_link_bytes_s
from sizing.specs import RecommendRequest, Request, SizingError, System
from sizing.units import GIB


def req(**kw) -> Request:
    return Request(**{"model": "qwen2.5-7b", "task": "grpo", "gpu": "h100-sxm", "n_gpus": 8, **kw})


def role(plan, name):
    return next(r for r in plan.roles if r.name == name)


def test_verl_keeps_its_reference_in_host_ram_and_openrlhf_on_the_gpus(catalog):
    """verl wraps its ref (and reward) worker in FSDP CPUOffload(offload_params=True) whatever the config says
    (verl/workers/fsdp_workers.py); OpenRLHF's --ref_reward_offload is off unless given (train_ppo_ray.py)."""
    verl = rl.estimate(catalog, req())
    assert verl.setup.offload == "reference" and role(verl, "reference").lives == "host"
    openrlhf = rl.estimate(catalog, req(trainer="openrlhf"))
    assert openrlhf.setup.offload == "none" and role(openrlhf, "reference").lives == "gpu"
    assert openrlhf.host_bytes == 0
    # the policy's --offload optimizer shows in the setup beside the trainer's default
    assert rl.estimate(catalog, req(offload="optimizer")).setup.offload == "all"


@pytest.mark.parametrize("task", ["dpo", "grpo"])
def test_offloading_the_reference_moves_exactly_its_share_to_host_ram(catalog, task):
    """The busiest GPU loses the reference's bf16 shard (ZeRO-3 over the 8 GPUs: 15.2 GB / 8) and each node's host
    RAM gains it on every GPU of the node: the whole 15.2 GB copy (Qwen2.5-7B, 7.62e9 parameters x 2 bytes)."""
    on, off = (rl.estimate(catalog, req(task=task, rl_offload=o)) for o in ("none", "reference"))
    share = role(on, "reference").per_gpu_bytes
    assert share == pytest.approx(7.62e9 * 2 / 8, rel=0.01)
    assert on.per_gpu_bytes - off.per_gpu_bytes == pytest.approx(share, rel=1e-9)
    assert off.host_bytes - on.host_bytes == pytest.approx(8 * share, rel=1e-9)
    ref = role(off, "reference")
    assert ref.lives == "host" and ref.host_bytes == pytest.approx(8 * share) and 0 < ref.per_gpu_bytes < share


def test_the_step_grows_by_the_transfer_of_the_offloaded_weights(catalog):
    """DPO, 64 pairs x 1536 tokens = 196,608 tokens over 8 GPUs = 24,576 per GPU: two scoring forwards of 16,384
    tokens (verl log_prob_max_token_len_per_gpu), each copying the GPU's 1.9 GB shard over PCIe 5.0 x16 (63 GB/s):
    about 60 ms, and the other phases do not change."""
    on, off = (rl.estimate(catalog, req(task="dpo", rl_offload=o)) for o in ("none", "reference"))
    share = role(on, "reference").per_gpu_bytes
    link = host_link_bytes_s(System.of(catalog.gpu("h100-sxm"), 8))
    assert link == pytest.approx(63e9)
    assert off.step.offload_s == pytest.approx(2 * share / link, rel=1e-9)
    assert off.step.offload_s == pytest.approx(0.060, rel=0.05)
    assert off.step.step_s - on.step.step_s == pytest.approx(off.step.offload_s, rel=1e-9)
    assert on.step.offload_s == 0


def test_optimizer_offload_is_the_training_estimates_and_ppo_counts_the_critics_too(catalog):
    """--rl-offload optimizer sets the training offload (ZeRO-Offload): the policy's optimizer states leave the GPU for
    host RAM, the update pays the host traffic; PPO's critic offloads its own copy."""
    none, opt = (rl.estimate(catalog, req(rl_offload=o)) for o in ("none", "optimizer"))
    assert opt.update.execution.training is not None and opt.update.execution.training.offload == "optimizer"
    assert opt.update.training is not None and opt.host_bytes == pytest.approx(opt.update.training.host_bytes)
    assert opt.host_bytes > 8 * 7.62e9 * 12 / 8 * 0.99  # fp32 master + Adam moments, 12 bytes a parameter
    assert role(opt, "policy").per_gpu_bytes < role(none, "policy").per_gpu_bytes
    assert opt.step.update_s > none.step.update_s
    ppo = rl.estimate(catalog, req(task="ppo", rl_offload="optimizer"))
    assert ppo.host_bytes == pytest.approx(2 * opt.host_bytes, rel=1e-9)
    both = rl.estimate(catalog, req(rl_offload="all"))
    assert both.host_bytes == pytest.approx(opt.host_bytes + role(both, "reference").host_bytes, rel=1e-9)


def test_a_reward_model_is_offloaded_with_the_reference(catalog):
    plan = rl.estimate(catalog, req(reward_model="qwen2.5-1.5b", rl_offload="reference"))
    assert role(plan, "reward").lives == "host" and role(plan, "reward").host_bytes > 0
    assert plan.host_bytes == pytest.approx(role(plan, "reference").host_bytes + role(plan, "reward").host_bytes)


def test_recommended_builds_hold_the_host_share_in_ram(catalog):
    found = rl.recommend(catalog, RecommendRequest(model="qwen2.5-7b", task="grpo", rl_offload="all"))
    assert found.plan is not None and found.build is not None and found.plan.host_bytes > 100 * GIB
    b = found.build
    assert b.build.ram_bytes >= b.candidate.requirements.ram_bytes >= found.plan.host_bytes


def test_a_build_short_of_ram_is_derived_again_with_more(catalog):
    """host_sized re-derives the DIMMs of a build whose RAM does not hold the plan's host share (and the rules judge
    the new build): here 256 GiB more than the build has."""
    work = rl.work_of(catalog, req(rl_offload="reference"))
    found = rl.recommend(catalog, RecommendRequest(model="qwen2.5-7b", task="grpo", rl_offload="reference"))
    assert found.plan is not None and found.build is not None
    option = found.build
    counted = found.plan.update.training.host_bytes if found.plan.update.training else 0.0
    more = found.plan.model_copy(update={"host_bytes": counted + option.build.ram_bytes + 256 * GIB})
    sized = rl.host_sized(catalog, work, option, more)
    assert sized is not None
    assert sized.build.ram_bytes >= option.candidate.requirements.ram_bytes + option.build.ram_bytes + 256 * GIB
    assert sized.build.ram_bytes > option.build.ram_bytes and sized.build.chassis == option.build.chassis
    assert next(f for f in sized.findings if f.rule == "system_ram").ok
    assert rl.host_sized(catalog, work, option, found.plan.model_copy(update={"host_bytes": 0.0})) is option


QWEN = ["qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-7b", "qwen2.5-14b"]


@settings(max_examples=8, deadline=None)
@given(st.sampled_from(QWEN), st.sampled_from(QWEN), st.sampled_from(["reference", "optimizer", "all"]))
def test_host_bytes_grow_with_the_model(catalog, a, b, offload):
    """A larger policy never needs less host RAM for the same offload (its weights and states scale with it)."""
    small, large = sorted((a, b), key=lambda m: catalog.model(m).n_params)
    plans = [rl.estimate(catalog, req(model=m, rl_offload=offload)) for m in (small, large)]
    assert plans[0].host_bytes <= plans[1].host_bytes * (1 + 1e-12)
    assert plans[0].host_bytes > 0


def test_streamed_window_is_two_gathered_layers(catalog):
    """While an offloaded frozen model scores, FSDP holds the running wrapped layer and the prefetched next one."""
    model = catalog.model("qwen2.5-7b")
    layer = (model.n_params - 2 * model.vocab_size * model.hidden_size) / model.n_layers
    assert rl_est.streamed_bytes(model) == pytest.approx(2 * layer * 2, rel=0.02)


def test_cli_rl_offload_in_json_and_its_errors(capsys):
    args = ["estimate", "--task", "grpo", "--model", "qwen2.5-7b", "--gpu", "h100-sxm", "--gpus", "8"]
    code, out, _ = run_main([*args, "--rl-offload", "all", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["offload"] == "all" and data["host_bytes"] == data["memory"]["host_bytes"] > 0
    ref = next(r for r in data["roles"] if r["name"] == "reference")
    assert ref["lives"] == "host" and ref["host_bytes"] > 0
    assert data["time"]["offload_s"] > 0
    assert math.isclose(
        data["time"]["step_s"],
        sum(data["time"][k] for k in ("rollout_s", "scoring_s", "update_s", "sync_s", "offload_s")),
        rel_tol=1e-3,
    )
    code, out, err = run_main([*args, "--rl-offload", "weights"], capsys)
    assert code == 2 and "--rl-offload weights is not one of none, reference, optimizer, all" in out + err
    code, out, err = run_main(["estimate", "--model", "qwen2.5-7b", "--task", "lora", "--rl-offload", "all"], capsys)
    assert code == 2 and "--rl-offload places the roles of an RL step" in out + err
    code, out, err = run_main([*args, "--rl-offload", "optimizer", "--offload", "none"], capsys)
    assert code == 2 and "drop one of them" in out + err


def test_conflicting_offloads_are_refused_in_the_library(catalog):
    with pytest.raises(SizingError, match="--offload none keeps it on the GPUs"):
        rl.estimate(catalog, req(rl_offload="all", offload="none"))


def test_a_lora_policy_is_its_own_reference(catalog):
    """verl (ray_trainer.py ref_in_actor = lora_rank > 0) and TRL (peft: no ref_model, disable_adapter()) score the
    reference as the policy's frozen base with its adapters off: with --lora the plan keeps no second copy, and the
    reference's scoring forward still costs its time."""
    from sizing import rl
    from sizing.specs import Request

    full = rl.estimate(catalog, Request(model="qwen2.5-7b", task="grpo", gpu="h100-sxm", n_gpus=2, rl_offload="none"))
    lora = rl.estimate(
        catalog, Request(model="qwen2.5-7b", task="grpo", gpu="h100-sxm", n_gpus=2, lora=True, rl_offload="none")
    )
    ref_full = next(r for r in full.roles if r.name == "reference")
    ref_lora = next(r for r in lora.roles if r.name == "reference")
    assert ref_full.per_gpu_bytes > 1e9 and ref_lora.per_gpu_bytes == 0.0 and "adapters disabled" in ref_lora.note
    assert lora.step.scoring_s > 0
