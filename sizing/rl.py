"""`--task grpo | ppo | dpo`: resolve the policy's training and rollout, estimate one step on a system, and find the
cheapest build on which every role fits (sizing.specs.rl for the roles, sizing.estimate.rl for the formulas)."""

from __future__ import annotations

from . import recommend as rec
from .catalog import Catalog
from .estimate import rl as rl_est
from .scenarios import constraints_of, resolve_execution
from .specs import (
    Option,
    RecommendRequest,
    Request,
    RLPlan,
    RLRecommendation,
    RLSetup,
    SizingError,
    System,
)

DEFAULT_RL_TRAINER = "verl"  # the RL trainer most R1-zero reproductions run (TinyZero, DAPO, SimpleRL are on verl)
MAX_BUILDS_TRIED = 40  # passing training builds, cheapest first, judged for the whole step


def _micro_batch(req: Request) -> int:
    if isinstance(req, RecommendRequest):
        return req.users if "users" in req.model_fields_set else 1
    return req.batch


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
    )
    fields = {
        k: getattr(req, k) for k in ("optimizer", "recompute", "sharding", "offload", "lora_rank") if getattr(req, k)
    }
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
    return rl_est.RLWork(policy=policy, train=train_x, rollout=rollout_x, rollout_eff=eff, reward=reward, setup=setup)


def _with_class(catalog: Catalog, work: rl_est.RLWork, system: System) -> rl_est.RLWork:
    return work.model_copy(update={"rollout_eff": catalog.efficiency(work.rollout.engine.id, system.gpu.gpu_class)})


def estimate(catalog: Catalog, req: Request) -> RLPlan:
    """`sizing estimate --task grpo`: one step on req.n_gpus of req.gpu (disaggregated: the rollout engine on
    --rollout-gpus more of them)."""
    work = work_of(catalog, req)
    gpu = catalog.gpu(req.gpu)
    system = System.of(gpu, req.n_gpus)
    rollout = System.of(gpu, req.rollout_gpus or req.n_gpus) if work.setup.placement == "disaggregated" else None
    return rl_est.plan(_with_class(catalog, work, system), system, rollout)


def recommend(catalog: Catalog, req: RecommendRequest) -> RLRecommendation:
    """The policy's training builds, cheapest first, each judged for the whole step on its own links: the first on
    which every role fits. Disaggregated plans put the rollout engine on as many GPUs again (a second such build)."""
    work = work_of(catalog, req)
    constraints = constraints_of(catalog, req)
    training = rec.recommend(
        rec.Problem(parts=catalog, model=work.policy, execution=work.train, constraints=constraints)
    )
    if not training.options:
        raise SizingError(
            f"no build trains the policy {work.policy.id} at all; ways out: " + "; ".join(training.ways_out)
        )
    tried = 0
    found: list[tuple[Option, RLPlan]] = []  # the first two builds that hold every role: the build and its runner-up
    for option in training.options[:MAX_BUILDS_TRIED]:
        tried += 1
        system = System.from_build(option.build)
        rollout = system if work.setup.placement == "disaggregated" else None
        plan = rl_est.plan(_with_class(catalog, work, system), system, rollout)
        if plan.fits:
            found.append((option, plan))
        if len(found) == 2:
            break
    if found:
        (option, plan), *second = found
        runner_up, runner_up_plan = second[0] if second else (None, None)
        return RLRecommendation(
            plan=plan,
            build=option,
            runner_up=runner_up,
            runner_up_plan=runner_up_plan,
            training=training,
        )
    return RLRecommendation(
        plan=None,
        build=None,
        training=training,
        notes=(
            f"none of the {tried} cheapest builds that train {work.policy.id} also hold the rollout engine and the "
            "frozen models; try --lora, --placement disaggregated, fewer --prompts-per-step or shorter "
            "--response-tokens",
        ),
    )
