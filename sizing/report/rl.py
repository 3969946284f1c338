"""Rendering an RL / preference fine-tuning step: the roles and where they sit, the step's phases, the build."""

from __future__ import annotations

from sizing.specs import RLPlan, RLRecommendation
from sizing.units import fmt_bytes, fmt_seconds

from .say import resay, say
from .training import estimate_memory_json, rounded


def rl_lines(p: RLPlan, lang: str = "en") -> list[str]:
    s, st = p.setup, p.step
    t = p.update.execution.training
    trainer = t.trainer.name if t else "?"
    fit = say(lang, "term.fits" if p.fits else "term.does_not_fit")
    lines = [
        say(
            lang,
            "term.rl.head",
            algo=s.algo.upper(),
            policy=p.policy,
            placement=s.placement,
            n=p.n_gpus,
            gpu=p.gpu,
            task=p.update.execution.task,
            trainer=trainer,
            engine=p.rollout.execution.engine.name,
        ),
        "  "
        + say(
            lang,
            "term.rl.batch",
            prompts=s.prompts_per_step,
            group=s.group_size if s.algo != "dpo" else 2,
            response=s.response_tokens,
            prompt=s.prompt_tokens,
            sequences=st.sequences,
        ),
        "  "
        + say(
            lang,
            "term.rl.busiest",
            used=fmt_bytes(p.per_gpu_bytes),
            capacity=fmt_bytes(p.gpu_memory_bytes),
            fit=fit,
        ),
        "  " + say(lang, "term.rl.roles"),
    ]
    for r in p.roles:
        lines.append(
            "    "
            + say(
                lang,
                "term.rl.role",
                role=say(lang, f"term.role.{r.name}"),
                model=r.model,
                size=fmt_bytes(r.per_gpu_bytes),
                where=say(lang, "term.rl.where.host" if r.lives == "host" else f"term.rl.where.{r.gpus}"),
            )
            + (f" ({resay(lang, r.note)})" if r.note else "")
        )
    lines.append(
        "  "
        + say(
            lang,
            "term.rl.step",
            step=fmt_seconds(st.step_s),
            rollout=fmt_seconds(st.rollout_s),
            batch=st.rollout_batch,
            replica=p.rollout.system.n_gpus,
            scoring=fmt_seconds(st.scoring_s),
            update=fmt_seconds(st.update_s),
            sync=fmt_seconds(st.sync_s),
        )
    )
    if p.host_bytes > 0:
        lines.append(
            "  "
            + say(
                lang,
                "term.rl.host",
                offload=p.setup.offload,
                host=fmt_bytes(p.host_bytes),
                transfer=fmt_seconds(st.offload_s),
            )
        )
    if p.total_s is not None:
        run = say(
            lang,
            "term.rl.run",
            steps=f"{p.setup.n_steps:,}",
            total=fmt_seconds(p.total_s),
            hours=f"{p.gpu_hours or 0.0:,.1f}",
        )
        if p.setup.deadline_s is not None:
            met = p.deadline is not None and p.deadline.ok
            run += say(
                lang,
                "term.rl.deadline.meets" if met else "term.rl.deadline.misses",
                deadline=fmt_seconds(p.setup.deadline_s),
            )
        lines.append("  " + run)
    lines += ["  " + say(lang, "term.rl.note", note=resay(lang, n)) for n in p.notes]
    return lines


def rl_text(p: RLPlan, lang: str = "en") -> str:
    return "\n".join(rl_lines(p, lang))


def rl_json(p: RLPlan) -> dict:
    st = p.step
    return {
        "fits": p.fits,
        "algo": p.setup.algo,
        "placement": p.setup.placement,
        "setup": p.setup.model_dump(),
        "n_gpus": p.n_gpus,
        "gpu": p.gpu,
        "memory": {
            "per_gpu_bytes": round(p.per_gpu_bytes),
            "gpu_memory_bytes": round(p.gpu_memory_bytes),
            "host_bytes": round(p.host_bytes),
        },
        "host_bytes": round(p.host_bytes),
        "offload": p.setup.offload,
        "roles": [
            {
                "name": r.name,
                "model": r.model,
                "trains": r.trains,
                "gpus": r.gpus,
                "per_gpu_bytes": round(r.per_gpu_bytes),
                "lives": r.lives,
                "host_bytes": round(r.host_bytes),
            }
            for r in p.roles
        ],
        "time": {
            "step_s": round(st.step_s, 3),
            **rounded(st.model_dump(include={"rollout_s", "scoring_s", "update_s", "sync_s", "offload_s"}), 3),
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


def rl_recommendation_text(r: RLRecommendation, bom: bool = False, lang: str = "en") -> str:
    from .core import _bom_lines, _price

    if r.plan is None or r.build is None:
        head = say(lang, "term.rl.no_build_in_time" if r.deadline_missed else "term.rl.no_build")
        return head + "\n" + "\n".join(f"  - {resay(lang, n)}" for n in r.notes)
    b = r.build.build
    n = b.n_gpus * b.n_nodes // r.n_builds  # per machine: the order holds every machine
    where = {"n": n, "gpu": b.gpu.name, "chassis": b.chassis.name, "price": _price(r.build, r, lang)}
    head = say(lang, "term.recommended", **where)
    if r.n_builds > 1:
        head = say(lang, "term.rl.recommended_twice", builds=r.n_builds, **where)
    lines = [
        head,
        *rl_lines(r.plan, lang),
    ]
    if bom:
        lines += [""] + _bom_lines(r.build, r, lang)
    return "\n".join(lines)
