"""`--task grpo | ppo | dpo`: resolve the policy's training and rollout, estimate one step on a system, and find the
cheapest build on which every role fits (sizing.specs.rl for the roles, sizing.estimate.rl for the formulas)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from . import recommend as rec
from .catalog import Catalog
from .estimate import rl as rl_est
from .recommend.replicate import replicate
from .recommend.search import Shape
from .rules.deadline import rl_deadline
from .scenarios import constraints_of, resolve_execution
from .specs import (
    Execution,
    Option,
    Recommendation,
    RecommendRequest,
    Request,
    RLPlan,
    RLRecommendation,
    RLSetup,
    SizingError,
    System,
)
from .units import fmt_seconds

DEFAULT_RL_TRAINER = "verl"  # the RL trainer most R1-zero reproductions run (TinyZero, DAPO, SimpleRL are on verl)
MAX_BUILDS_TRIED = 40  # passing training builds, cheapest first, judged for the whole step
MAX_BUILDS_TRIED_DEADLINE = 200  # with --deadline: the builds that end in time are the larger, later ones
# Where each RL trainer keeps the frozen reference and reward weights when the user names no --rl-offload. verl
# wraps every non-actor FSDP module (its ref and reward workers) in CPUOffload(offload_params=True) whatever the
# config says ("We force reference policy to use CPUOffload to save memory", verl/workers/fsdp_workers.py, FSDP1;
# FSDP2 likewise CPUOffloadPolicy(pin_memory=True)); its actor optimizer_offload defaults to False
# (verl/trainer/config/ppo_trainer.yaml). OpenRLHF's --ref_reward_offload and --adam_offload are store_true flags,
# off unless given (openrlhf/cli/train_ppo_ray.py). Every other trainer: both on the GPUs.
RL_FROZEN_ON_HOST = {"verl": True, "openrlhf": False}


def _micro_batch(req: Request) -> int:
    if isinstance(req, RecommendRequest):
        return req.users if "users" in req.model_fields_set else 1
    return req.batch


def n_steps(req: Request, setup: RLSetup) -> int | None:
    """The run's optimizer steps: --steps, else --tokens x --epochs over the tokens one step trains (every sequence,
    prompt + response), rounded up; None when neither is given."""
    if req.steps is not None:
        return req.steps
    if req.tokens is None:
        return None
    return max(1, math.ceil(req.tokens * (req.epochs or 1.0) / (setup.sequences * setup.sequence_tokens)))


def work_of(catalog: Catalog, req: Request) -> rl_est.RLWork:
    """The policy's training execution (full fine-tune, or LoRA with --lora), its rollout execution (the inference
    engine: vLLM unless --engine names another) and the set-up, every name resolved."""
    algo = req.task.strip().lower()
    setup = RLSetup(
        algo=algo,  # the CLI routes only grpo, ppo and dpo here
        placement=req.placement or "colocated",
        group_size=req.group_size or 8,
        prompts_per_step=req.prompts_per_step or 64,
        prompt_tokens=req.prompt_tokens or 512,
        response_tokens=req.response_tokens or 1024,
        reward_model=req.reward_model,
        rollout_gpus=req.rollout_gpus,
        deadline_s=req.deadline_s,
    )
    setup = setup.model_copy(update={"n_steps": n_steps(req, setup)})
    fields = {
        k: getattr(req, k) for k in ("optimizer", "recompute", "sharding", "offload", "lora_rank") if getattr(req, k)
    }
    if req.rl_offload in ("optimizer", "all"):  # the training estimate's optimizer offload (ZeRO-Offload)
        if req.offload not in (None, "optimizer", "params"):
            raise SizingError(
                f"--rl-offload {req.rl_offload} offloads the optimizer but --offload {req.offload} keeps it on the "
                "GPUs; drop one of them"
            )
        fields.setdefault("offload", "optimizer")
    train_req = Request(
        model=req.model,
        task="lora" if req.lora else "full-finetune",
        trainer=req.trainer or DEFAULT_RL_TRAINER,
        precision=req.precision,
        batch=_micro_batch(req),
        seq_len=setup.sequence_tokens,
        **fields,
    )
    policy, train_x = resolve_execution(catalog, train_req)
    _, rollout_x = resolve_execution(
        catalog, Request(model=req.model, engine=req.engine or "vllm", precision=req.precision, batch=1)
    )
    reward = resolve_execution(catalog, Request(model=req.reward_model))[0] if req.reward_model else None
    eff = catalog.efficiency(rollout_x.engine.id, "*")  # replaced by the GPU class's row once the GPU is known
    setup = setup.model_copy(update={"offload": rl_offload(req, train_x)})
    return rl_est.RLWork(policy=policy, train=train_x, rollout=rollout_x, rollout_eff=eff, reward=reward, setup=setup)


def rl_offload(req: Request, train: Execution) -> str:
    """What lives in host RAM: the frozen models as --rl-offload says (else the trainer's default,
    RL_FROZEN_ON_HOST), the optimizer wherever the training execution offloads it (--rl-offload optimizer or all
    set --offload optimizer; --offload optimizer or params count too)."""
    t = train.training
    if req.rl_offload is not None:
        frozen = req.rl_offload in ("reference", "all")
    else:
        frozen = RL_FROZEN_ON_HOST.get(t.trainer.id, False) if t else False
    optimizer = t is not None and t.offload in ("optimizer", "params")
    return {(False, False): "none", (True, False): "reference", (False, True): "optimizer"}.get(
        (frozen, optimizer), "all"
    )


def _with_class(catalog: Catalog, work: rl_est.RLWork, system: System) -> rl_est.RLWork:
    return work.model_copy(update={"rollout_eff": catalog.efficiency(work.rollout.engine.id, system.gpu.gpu_class)})


def judged(plan: RLPlan) -> RLPlan:
    """The plan with its deadline finding (rules.deadline.rl_deadline) when --deadline was given."""
    return plan if plan.setup.deadline_s is None else plan.model_copy(update={"deadline": rl_deadline(plan)})


def _passes(plan: RLPlan) -> bool:
    return plan.fits and (plan.deadline is None or plan.deadline.ok)


def estimate(catalog: Catalog, req: Request) -> RLPlan:
    """`sizing estimate --task grpo`: one step on req.n_gpus of req.gpu (disaggregated: the rollout engine on
    --rollout-gpus more of them), and with --steps or --tokens the run, judged against --deadline."""
    work = work_of(catalog, req)
    gpu = catalog.gpu(req.gpu)
    system = System.of(gpu, req.n_gpus, latencies=catalog.links)
    rollout = (
        System.of(gpu, req.rollout_gpus or req.n_gpus, latencies=catalog.links)
        if work.setup.placement == "disaggregated"
        else None
    )
    return judged(rl_est.plan(_with_class(catalog, work, system), system, rollout))


class _Search(NamedTuple):
    plan: RLPlan | None  # the first plan that fits (and meets the deadline)
    option: Option | None  # its build
    tried: int
    fitting: list[RLPlan]  # plans that fit but miss the deadline
    runner_up: Option | None = None  # the next build that passes too (asked for by recommend)
    runner_up_plan: RLPlan | None = None


def _search(catalog: Catalog, work: rl_est.RLWork, options: Sequence[Option], runner_up: bool = False) -> _Search:
    """The training builds in order, each judged for the whole step on its own links: the first that fits (and, with
    a deadline, ends in time), and with `runner_up` the next one that does too. A deadline searches further: the
    cheap builds are the slow ones."""
    limit = MAX_BUILDS_TRIED if work.setup.deadline_s is None else MAX_BUILDS_TRIED_DEADLINE
    fitting: list[RLPlan] = []
    passed: list[tuple[Option, RLPlan]] = []
    tried = 0
    for option in options[:limit]:
        tried += 1
        system = System.from_build(option.build, catalog.links)
        rollout = system if work.setup.placement == "disaggregated" else None
        plan = judged(rl_est.plan(_with_class(catalog, work, system), system, rollout))
        sized = host_sized(catalog, work, option, plan) if _passes(plan) else None
        if sized is not None:
            passed.append((sized, plan))
            if not runner_up or len(passed) == 2:
                break
        elif plan.fits:
            fitting.append(plan)
    if not passed:
        return _Search(None, None, tried, fitting)
    (option, plan), *second = passed
    return _Search(plan, option, tried, fitting, *(second[0] if second else (None, None)))


def host_sized(catalog: Catalog, work: rl_est.RLWork, option: Option, plan: RLPlan) -> Option | None:
    """The training build with RAM for the plan's host share: its requirements already count the policy's offloaded
    state (estimate/requirements.py adds the training estimate's host RAM); the offloaded frozen weights and the
    critic's offloaded state come on top. With any on top, the build is derived again for the larger need in the
    same chassis (the same DIMMs where they hold it already, more where not) and judged by every rule, so the RAM
    rule checks the whole need (None when no DIMM set the CPUs address holds it)."""
    counted = plan.update.training.host_bytes if plan.update.training else 0.0
    need = option.candidate.requirements
    ram = need.ram_bytes + max(0.0, plan.host_bytes - counted)
    if ram <= need.ram_bytes:
        return option
    b = option.build
    problem = rec.Problem(
        parts=catalog, model=work.policy, execution=work.train, constraints=option.candidate.constraints
    )
    shape = Shape(problem, b.gpu, b.n_gpus, b.n_nodes)
    shape.requirements = need.model_copy(update={"ram_bytes": ram})
    outcome = rec.evaluate(shape, b.chassis)  # the ranking's reasons stay with the build
    return outcome.model_copy(update={"reasons": option.reasons}) if isinstance(outcome, Option) else None


def _training(catalog: Catalog, req: RecommendRequest, work: rl_est.RLWork) -> Recommendation:
    """The policy's training builds (the request, rejections and near misses travel into the report)."""
    training = rec.recommend(
        rec.Problem(parts=catalog, model=work.policy, execution=work.train, constraints=constraints_of(catalog, req))
    )
    if not training.options:
        raise SizingError(
            f"no build trains the policy {work.policy.id} at all; ways out: " + "; ".join(training.ways_out)
        )
    return training


def deadline_ways_out(
    catalog: Catalog, req: RecommendRequest, options: Sequence[Option], fitting: Sequence[RLPlan]
) -> list[str]:
    """What meets a missed deadline: the fastest build tried and how much faster one must be (more or faster GPUs),
    and each of --placement disaggregated (rollout on GPUs of its own, overlapping nothing but sharing no memory), a
    halved --group-size (fewer sequences per step; with --tokens the run has more steps) and --lora (no weight
    gradients), each searched over the same builds and named with the build that meets it."""
    s = work_of(catalog, req).setup
    assert s.deadline_s is not None
    out: list[str] = []
    if fitting:
        fastest = min(fitting, key=lambda p: p.total_s or 0.0)
        total = fastest.total_s or 0.0
        out.append(
            f"more or faster GPUs: the fastest build tried ({fastest.n_gpus} x {fastest.gpu}) takes "
            f"{fmt_seconds(total)}, {total / s.deadline_s:.2f}x the deadline"
        )
    variants: list[tuple[str, RecommendRequest]] = []
    if s.algo != "dpo" and s.placement == "colocated":
        variants.append(("--placement disaggregated", req.model_copy(update={"placement": "disaggregated"})))
    if s.algo != "dpo" and s.group_size > 1:
        variants.append((f"--group-size {s.group_size // 2}", req.model_copy(update={"group_size": s.group_size // 2})))
    if not req.lora:
        variants.append(("--lora", req.model_copy(update={"lora": True})))
    for flag, variant in variants:
        work = work_of(catalog, variant)
        found = _search(catalog, work, options if flag != "--lora" else _training(catalog, variant, work).options)
        if found.plan is not None and found.option is not None:
            b = found.option.build
            n_builds = machines(work.setup)
            order = replicate(catalog, found.option, n_builds)
            price = "unpriced" if order.total_price_usd is None else f"${order.total_price_usd:,.0f}"
            where = f"{b.n_gpus * b.n_nodes} x {b.gpu.name} ({price}{' for both' if n_builds == 2 else ''})"
            out.append(
                f"{flag} meets the deadline on {'two builds of ' if n_builds == 2 else ''}{where}: "
                f"{fmt_seconds(found.plan.total_s or 0.0)}"
            )
    return out


def machines(setup: RLSetup) -> int:
    """Machines a plan takes: a disaggregated rollout engine runs on a second build like the training one."""
    return 2 if setup.placement == "disaggregated" and setup.algo != "dpo" else 1


def recommend(catalog: Catalog, req: RecommendRequest) -> RLRecommendation:
    """The policy's training builds, cheapest first, each judged for the whole step on its own links: the first on
    which every role fits and, with --deadline, whose run ends in time. Disaggregated plans put the rollout engine on
    as many GPUs again (a second such build). A deadline no build meets is a value: the notes say what would."""
    work = work_of(catalog, req)
    training = _training(catalog, req, work)
    options = training.options
    found = _search(catalog, work, options, runner_up=True)
    if found.plan is not None:
        n = machines(work.setup)
        return RLRecommendation(
            plan=found.plan,
            build=replicate(catalog, found.option, n) if found.option is not None else None,
            n_builds=n,
            runner_up=replicate(catalog, found.runner_up, n) if found.runner_up is not None else None,
            runner_up_plan=found.runner_up_plan,
            training=training,
        )
    if work.setup.deadline_s is not None and found.fitting:
        ways = deadline_ways_out(catalog, req, options, found.fitting)
        return RLRecommendation(
            plan=None,
            build=None,
            deadline_missed=True,
            training=training,
            notes=(
                f"none of the {len(found.fitting)} builds tried that hold every role ends the run within the "
                f"{fmt_seconds(work.setup.deadline_s)} deadline",
                *(f"way out: {w}" for w in ways),
            ),
        )
    return RLRecommendation(
        plan=None,
        build=None,
        training=training,
        notes=(
            f"none of the {found.tried} cheapest builds that train {work.policy.id} also hold the rollout engine and "
            "the frozen models; try --lora, --placement disaggregated, fewer --prompts-per-step or shorter "
            "--response-tokens",
        ),
    )
