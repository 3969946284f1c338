"""Procurement reports for distillation and RL requests: the build that runs every phase (or holds every role) is
costed like any training build (procurement_build), then its run is the plan's: every phase of the distillation, or
RL_STEPS steps of the RL loop. A pure function over frozen objects, like build_report."""

from __future__ import annotations

from sizing.specs import (
    DistillPlan,
    DistillRecommendation,
    Option,
    Phase,
    Recommendation,
    RLPlan,
    RLRecommendation,
    SizingError,
)

from .procurement import (
    BuildFacts,
    DistillFacts,
    MemoryFacts,
    MemoryShare,
    ModeFacts,
    PhaseFacts,
    ProcurementReport,
    ReportOptions,
    Risk,
    RLFacts,
    RoleFacts,
)
from .procurement_build import SECONDS_PER_HOUR, Terms, build_report, memory_facts, ownership, terms

AnyRecommendation = Recommendation | DistillRecommendation | RLRecommendation
RL_STEPS = 1000  # an RL "run" is costed per 1,000 optimizer steps (issue 12: cost per run or per 1,000 steps)
RESIDENT_PARTS = ("weights", "optimizer", "overhead")  # what stays on the GPU between updates (estimate/rl.py)


def recommendation_of(found: AnyRecommendation) -> Recommendation:
    """The builds a report compares: for a plan, the training recommendation narrowed to the builds that run every
    phase (distill) or hold every role (RL), best first; its rejections and near misses are the training's."""
    if isinstance(found, Recommendation):
        return found
    if found.build is None or found.training is None:
        what = "runs every phase of the plan" if isinstance(found, DistillRecommendation) else "holds every role"
        raise SizingError(f"no build {what}, so there is no build to report; " + "; ".join(found.notes))
    if isinstance(found, DistillRecommendation):
        others: tuple[Option, ...] = found.other_builds
    else:
        others = (found.runner_up,) if found.runner_up is not None else ()
    return found.training.model_copy(update={"options": (found.build, *others)})


def _run(b: BuildFacts, run_s: float, t: Terms, mem: MemoryFacts, step_s: float | None = None) -> BuildFacts:
    """The build with the plan's run: its time, GPU-hours, busiest memory and cost per run."""
    update = {"run_s": run_s, "gpu_hours": run_s * b.n_gpus / SECONDS_PER_HOUR}
    if step_s is not None:
        update["step_s"] = step_s
    perf = b.performance.model_copy(update=update)
    return b.model_copy(
        update={"performance": perf, "memory": mem, "ownership": ownership(b.bom, perf, b.facilities, t)}
    )


def _price(o: Option, fx_rate: float) -> float:
    return round((o.total_price_usd if o.total_price_usd is not None else o.subtotal_usd) * fx_rate, 2)


def _phase(p: Phase, fx_rate: float) -> PhaseFacts:
    e = p.estimate
    if e.training is not None:
        rate = e.training.train_tokens_per_s
    else:
        assert e.speed is not None
        rate = e.speed.decode_tokens_per_s_total if p.name == "teacher-generation" else e.speed.prefill_tokens_per_s
    best = p.best
    return PhaseFacts(
        name=p.name,
        model=p.model,
        tokens=p.tokens,
        tokens_per_s=rate,
        time_s=p.time_s,
        storage_bytes=p.storage_bytes,
        write_bytes_s=p.write_bytes_s,
        memory=memory_facts(e),
        best=None if best is None else f"{best.build.n_gpus * best.build.n_nodes} × {best.build.gpu.name}",
        best_price=None if best is None else _price(best, fx_rate),
    )


def _busiest(plan: DistillPlan) -> MemoryFacts:
    """The phase that fills the GPU most: the memory the build must hold."""
    facts = [memory_facts(p.estimate) for p in plan.phases]
    return max(facts, key=lambda m: m.per_gpu_bytes / m.capacity_bytes)


def distill_facts(found: DistillRecommendation, b: BuildFacts, t: Terms) -> DistillFacts:
    """The chosen plan's phases, and every mode on the build costed per run: the cheaper mode is the shorter run,
    since the build, its draw and its hardware share per hour are the same in every mode."""
    assert found.chosen is not None and found.build is not None
    plan, s = found.chosen, found.chosen.setup
    modes = []
    for p in found.plans:
        perf = b.performance.model_copy(update={"run_s": p.total_time_s})
        cost = ownership(b.bom, perf, b.facilities, t).cost_per_run if p.fits else None
        modes.append(
            ModeFacts(
                mode=p.setup.mode, fits=p.fits, time_s=p.total_time_s, storage_bytes=p.storage_bytes, cost_per_run=cost
            )
        )
    build = found.build.build
    drive = build.data_drive
    return DistillFacts(
        mode=s.mode,
        teacher=plan.teacher,
        student=plan.student,
        top_k=s.top_k,
        epochs=s.epochs,
        samples=s.samples if s.mode == "sequence" else None,
        total_time_s=plan.total_time_s,
        storage_bytes=plan.storage_bytes,
        drive_bytes=drive.capacity_bytes * build.n_data_drives if drive else 0.0,
        phases=tuple(_phase(p, t.fx_rate) for p in plan.phases),
        modes=tuple(modes),
    )


def rl_memory(plan: RLPlan) -> MemoryFacts:
    """The busiest GPU at the busiest phase, split so the parts add up to the peak (sizing.estimate.rl.plan): the
    update (the policy's, and PPO's critic's, training memory beside the frozen models kept on the GPUs), a scoring
    forward of a frozen model offloaded to host RAM (what stays resident plus its streamed layers), or, colocated,
    the rollout (what stays resident between updates plus the engine's weights and KV cache)."""
    roles = {r.name: r.per_gpu_bytes for r in plan.roles if r.lives == "gpu"}
    streamed = [(r.name, r.per_gpu_bytes) for r in plan.roles if r.lives == "host"]
    copies = 2 if "critic" in roles else 1
    parts = plan.update.memory.breakdown.model_dump()
    update_peak = sum(v for k, v in roles.items() if k != "rollout")
    frozen = [(k, roles[k]) for k in ("reference", "reward") if k in roles]
    resident = [
        (k.removesuffix("_bytes"), v * copies) for k, v in parts.items() if k.removesuffix("_bytes") in RESIDENT_PARTS
    ]
    window = max(streamed, key=lambda x: x[1], default=("reference", 0.0))
    scoring_peak = sum(v for _, v in resident + frozen) + window[1]
    if plan.per_gpu_bytes <= update_peak * (1 + 1e-9):
        shares = [(k.removesuffix("_bytes"), v * copies) for k, v in parts.items()] + frozen
    elif window[1] > 0 and plan.per_gpu_bytes <= scoring_peak * (1 + 1e-9):
        shares = resident + frozen + [window]
    else:
        shares = resident + frozen + [("rollout", roles.get("rollout", 0.0))]
    usable = plan.update.memory.usable_per_gpu_bytes
    return MemoryFacts(
        shares=tuple(MemoryShare(part=k, bytes=v) for k, v in shares if v > 0),
        per_gpu_bytes=plan.per_gpu_bytes,
        need_bytes=plan.per_gpu_bytes,
        usable_bytes=usable,
        capacity_bytes=plan.gpu_memory_bytes,
        fits=plan.fits,
    )


def rl_facts(found: RLRecommendation) -> RLFacts:
    assert found.plan is not None and found.build is not None
    p, s, st = found.plan, found.plan.setup, found.plan.step
    return RLFacts(
        algo=s.algo,
        placement=s.placement,
        n_gpus=p.n_gpus,
        group_size=s.group_size if s.algo != "dpo" else 2,
        prompts_per_step=s.prompts_per_step,
        prompt_tokens=s.prompt_tokens,
        response_tokens=s.response_tokens,
        sequences=st.sequences,
        tokens_per_step=st.tokens,
        rollout_batch=st.rollout_batch,
        rollout_engine=p.rollout.execution.engine.name,
        roles=tuple(RoleFacts(**r.model_dump(exclude={"note", "lives", "host_bytes"})) for r in p.roles),
        rollout_s=st.rollout_s,
        scoring_s=st.scoring_s,
        update_s=st.update_s,
        sync_s=st.sync_s,
        offload_s=st.offload_s,
        step_s=st.step_s,
        n_steps=RL_STEPS,
        host_bytes=p.host_bytes,  # offloaded frozen weights and optimizer states (estimate/rl.py training_side)
        ram_bytes=found.build.build.ram_bytes,
    )


def report_of(found: AnyRecommendation, options: ReportOptions | None = None) -> ProcurementReport:
    """The procurement report of any recommendation: builds (inference, training) as build_report makes it; a
    distillation with the plan's phases and modes, and its run = every phase; RL with the roles, the step split and
    its run = RL_STEPS steps."""
    opts = options or ReportOptions()
    r = recommendation_of(found)
    base = build_report(r, opts)
    if isinstance(found, Recommendation):
        return base
    t = terms(r, opts)
    u = base.runner_up
    if isinstance(found, DistillRecommendation):
        assert found.chosen is not None
        best = _run(base.recommended, found.chosen.total_time_s, t, _busiest(found.chosen))
        second = found.other_plans[0] if found.other_plans else None
        if u is not None and second is not None:
            u = _run(u, second.total_time_s, t, _busiest(second))
        facts = distill_facts(found, best, t)
        return base.model_copy(
            update={
                "recommended": best,
                "runner_up": u,
                "distill": facts,
                "workload": base.workload.model_copy(update={"task": "distill"}),
            }
        )
    assert found.plan is not None
    plan = found.plan
    best = _run(base.recommended, RL_STEPS * plan.step.step_s, t, rl_memory(plan), plan.step.step_s)
    if u is not None and found.runner_up_plan is not None:
        up = found.runner_up_plan
        u = _run(u, RL_STEPS * up.step.step_s, t, rl_memory(up), up.step.step_s)
    risks = base.risks
    if plan.setup.placement == "disaggregated" and plan.setup.algo != "dpo":
        # the rollout engine runs on a second machine like the training one (sizing.rl.recommend): the build is the
        # order of both (recommend.replicate), the risk says so
        risks = (Risk(key="rl_second_build", params={"n": plan.n_gpus}), *risks)
    return base.model_copy(
        update={
            "recommended": best,
            "runner_up": u,
            "risks": risks,
            "rl": rl_facts(found),
            "workload": base.workload.model_copy(update={"task": plan.setup.algo}),
        }
    )
