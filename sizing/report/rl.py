"""Rendering an RL / preference fine-tuning step: the roles and where they sit, the step's phases, the build."""

from __future__ import annotations

from sizing.specs import RLPlan, RLRecommendation
from sizing.units import fmt_bytes, fmt_seconds

from .training import estimate_memory_json, rounded

ROLE_WORDS = {
    "policy": "policy (trains)",
    "reference": "reference (frozen, KL)",
    "reward": "reward model (frozen)",
    "critic": "critic / value model (trains)",
    "rollout": "rollout engine (generates)",
}


def rl_lines(p: RLPlan) -> list[str]:
    s, st = p.setup, p.step
    t = p.update.execution.training
    trainer = t.trainer.name if t else "?"
    fit = "fits" if p.fits else "DOES NOT FIT"
    lines = [
        f"{s.algo.upper()} on {p.policy}, {s.placement}: {p.n_gpus} x {p.gpu}, {p.update.execution.task} with "
        f"{trainer}, rollout with {p.rollout.execution.engine.name}",
        f"  {s.prompts_per_step} prompts x {s.group_size if s.algo != 'dpo' else 2} responses of "
        f"{s.response_tokens} tokens (prompt {s.prompt_tokens}) = {st.sequences} sequences per step",
        f"  busiest GPU at the busiest phase: {fmt_bytes(p.per_gpu_bytes)} of {fmt_bytes(p.gpu_memory_bytes)} -> {fit}",
        "  roles:",
    ]
    for r in p.roles:
        where = {"shared": "on every GPU", "training": "on the training GPUs", "rollout": "on the rollout GPUs"}[r.gpus]
        lines.append(
            f"    {ROLE_WORDS[r.name]}: {r.model}, {fmt_bytes(r.per_gpu_bytes)} per GPU {where}"
            + (f" ({r.note})" if r.note else "")
        )
    lines.append(
        f"  step {fmt_seconds(st.step_s)}: rollout {fmt_seconds(st.rollout_s)} ({st.rollout_batch} sequences at "
        f"once on {p.rollout.system.n_gpus}-GPU engine replicas), scoring {fmt_seconds(st.scoring_s)}, "
        f"update {fmt_seconds(st.update_s)}, weight sync {fmt_seconds(st.sync_s)}"
    )
    if p.total_s is not None:
        run = f"  run: {p.setup.n_steps:,} steps = {fmt_seconds(p.total_s)}, {p.gpu_hours or 0.0:,.1f} GPU-hours"
        if p.setup.deadline_s is not None:
            verdict = "meets" if p.deadline is not None and p.deadline.ok else "MISSES"
            run += f"; deadline {fmt_seconds(p.setup.deadline_s)} -> {verdict} it"
        lines.append(run)
    lines += [f"  note: {n}" for n in p.notes]
    return lines


def rl_text(p: RLPlan) -> str:
    return "\n".join(rl_lines(p))


def rl_json(p: RLPlan) -> dict:
    st = p.step
    return {
        "fits": p.fits,
        "algo": p.setup.algo,
        "placement": p.setup.placement,
        "setup": p.setup.model_dump(),
        "n_gpus": p.n_gpus,
        "gpu": p.gpu,
        "memory": {"per_gpu_bytes": round(p.per_gpu_bytes), "gpu_memory_bytes": round(p.gpu_memory_bytes)},
        "roles": [
            {
                "name": r.name,
                "model": r.model,
                "trains": r.trains,
                "gpus": r.gpus,
                "per_gpu_bytes": round(r.per_gpu_bytes),
            }
            for r in p.roles
        ],
        "time": {
            "step_s": round(st.step_s, 3),
            **rounded(st.model_dump(include={"rollout_s", "scoring_s", "update_s", "sync_s"}), 3),
            "n_steps": p.setup.n_steps,
            "total_s": None if p.total_s is None else round(p.total_s, 1),
            "gpu_hours": None if p.gpu_hours is None else round(p.gpu_hours, 2),
            "deadline_s": p.setup.deadline_s,
            "meets_deadline": None if p.deadline is None or p.total_s is None else p.deadline.ok,
        },
        "findings": [p.deadline.model_dump()] if p.deadline is not None else [],
        "step": {"sequences": st.sequences, "tokens": round(st.tokens), "rollout_batch": st.rollout_batch},
        "update": {"memory": estimate_memory_json(p.update)},
        "rollout": {"memory": estimate_memory_json(p.rollout)},
        "notes": list(p.notes),
    }


def rl_recommendation_json(r: RLRecommendation) -> dict:
    from .core import option_json  # the build's JSON (report imports this module)

    return {
        **(rl_json(r.plan) if r.plan else {"fits": False}),
        "build": option_json(r.build) if r.build else None,
        "total_price_usd": None if r.total_price_usd is None else round(r.total_price_usd, 2),
        "n_builds": r.n_builds,
        "deadline_missed": r.deadline_missed,
        "notes": list(r.notes) + (list(r.plan.notes) if r.plan else []),
    }


def rl_recommendation_text(r: RLRecommendation, bom: bool = False) -> str:
    from .core import _bom_lines, _money, _price

    if r.plan is None or r.build is None:
        head = "No build holds every role of the step" + (" and ends the run in time" if r.deadline_missed else "")
        return head + ".\n" + "\n".join(f"  - {n}" for n in r.notes)
    b = r.build.build
    each = f"{b.n_gpus * b.n_nodes} x {b.gpu.name} in {b.chassis.name}, {_price(r.build, r)}"
    head = f"Recommended: {each}"
    if r.n_builds > 1:
        total = "" if r.total_price_usd is None else f", {_money(r.total_price_usd, r)} in all"
        head = f"Recommended: {r.n_builds} builds (one trains, one generates), each {each}{total}"
    lines = [
        head,
        *rl_lines(r.plan),
    ]
    if bom:
        lines += [""] + _bom_lines(r.build, r)
    return "\n".join(lines)
