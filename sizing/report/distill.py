"""Rendering distillation plans: each phase's memory, time and writes, the total, the cheaper mode and the build."""

from __future__ import annotations

from sizing.specs import DistillPlan, DistillRecommendation, Phase
from sizing.units import fmt_bytes, fmt_count, fmt_decimal_bytes, fmt_rate, fmt_seconds

from .say import resay, say
from .training import estimate_memory_json, rounded


def phase_word(lang: str, name: str) -> str:
    """A phase of the plan (teacher-labels, teacher-generation, student-training, online) in `lang`."""
    return say(lang, f"term.phase.{name}")


def _rate(p: Phase, lang: str = "en") -> str:
    e = p.estimate
    if e.training is not None:
        return say(lang, "term.distill.trained", rate=fmt_rate(e.training.train_tokens_per_s))
    assert e.speed is not None
    if p.name == "teacher-generation":
        return say(lang, "term.distill.generated", rate=fmt_rate(e.speed.decode_tokens_per_s_total))
    return say(lang, "term.distill.through", rate=fmt_rate(e.speed.prefill_tokens_per_s))


def phase_lines(p: Phase, lang: str = "en") -> list[str]:
    m = p.estimate.memory
    fit = say(lang, "term.fits" if p.estimate.fits else "term.does_not_fit")
    out = [
        "  "
        + say(
            lang,
            "term.distill.phase",
            phase=phase_word(lang, p.name),
            model=p.model,
            tokens=fmt_count(p.tokens, lang),
            rate=_rate(p, lang),
            time=fmt_seconds(p.time_s),
        ),
        "    "
        + say(
            lang,
            "term.distill.memory",
            used=fmt_bytes(m.per_gpu_bytes),
            capacity=fmt_bytes(m.gpu_memory_bytes),
            fit=fit,
        ),
    ]
    if p.storage_bytes:
        out.append(
            "    "
            + say(
                lang,
                "term.distill.writes",
                size=fmt_decimal_bytes(p.storage_bytes),
                rate=fmt_decimal_bytes(p.write_bytes_s),
            )
        )
    return out


def plan_lines(plan: DistillPlan, lang: str = "en") -> list[str]:
    s = plan.setup
    head = say(lang, "term.distill.head", mode=s.mode, teacher=plan.teacher, student=plan.student)
    if s.mode == "offline":
        head += say(lang, "term.distill.top_k", k=s.top_k)
    lines = [
        head
        + say(lang, "term.distill.total", total=fmt_seconds(plan.total_time_s))
        + ("" if plan.fits else say(lang, "term.distill.no_fit"))
    ]
    for p in plan.phases:
        lines += phase_lines(p, lang)
    return lines


def cheaper(plans: tuple[DistillPlan, ...]) -> DistillPlan | None:
    fitting = [p for p in plans if p.fits]
    return min(fitting, key=lambda p: p.total_time_s) if fitting else None


def distill_text(plans: tuple[DistillPlan, ...], lang: str = "en") -> str:
    lines: list[str] = []
    for plan in plans:
        lines += [*plan_lines(plan, lang), ""]
    best = cheaper(plans)
    if best is not None and len(plans) > 1:
        lines.append(say(lang, "term.distill.cheaper", mode=best.setup.mode, total=fmt_seconds(best.total_time_s)))
    elif best is None:
        lines.append(say(lang, "term.distill.no_mode"))
    return "\n".join(lines).rstrip()


def phase_json(p: Phase) -> dict:
    e = p.estimate
    speed = (
        {"train_tokens_per_s": round(e.training.train_tokens_per_s, 2)}
        if e.training
        else rounded(e.speed.model_dump())
        if e.speed
        else {}
    )
    return {
        "name": p.name,
        "task": p.task,
        "model": p.model,
        "fits": e.fits,
        "memory": {
            **estimate_memory_json(e),
            **({"host_bytes": round(e.training.host_bytes)} if e.training else {}),
        },
        "speed": speed,
        "tokens": round(p.tokens),
        "time_s": round(p.time_s, 3),
        "storage_bytes": round(p.storage_bytes),
        "write_bytes_s": round(p.write_bytes_s),
        "notes": list(e.notes),
    }


def plan_json(plan: DistillPlan) -> dict:
    return {
        "mode": plan.setup.mode,
        "teacher": plan.teacher,
        "student": plan.student,
        "setup": plan.setup.model_dump(),
        "fits": plan.fits,
        "total_time_s": round(plan.total_time_s, 3),
        "storage_bytes": round(plan.storage_bytes),
        "phases": [phase_json(p) for p in plan.phases],
    }


def distill_json(plans: tuple[DistillPlan, ...]) -> dict:
    best = cheaper(plans)
    return {"plans": [plan_json(p) for p in plans], "cheaper_mode": best.setup.mode if best else None}


def distill_recommendation_json(r: DistillRecommendation) -> dict:
    from .core import option_json  # the build's JSON (report imports this module)

    chosen = r.chosen
    out: dict = {
        "mode": chosen.setup.mode if chosen else None,
        "total_time_s": round(chosen.total_time_s, 3) if chosen else None,
        "total_price_usd": r.build.total_price_usd if r.build else None,
        "build": option_json(r.build) if r.build else None,
        "phases": [],
        "plans": [plan_json(p) for p in r.plans],
        "other_builds": [option_json(o) for o in r.other_builds],
        "notes": list(r.notes),
    }
    for p in chosen.phases if chosen else ():
        out["phases"].append({**phase_json(p), "build": option_json(p.best) if p.best else None})
    return out


def distill_recommendation_text(r: DistillRecommendation, bom: bool = False, lang: str = "en") -> str:
    from .core import _bom_lines, _price  # the build's lines as `recommend` prints them

    if r.build is None or r.chosen is None:
        return say(lang, "term.distill.no_build") + "\n" + "\n".join(f"  - {resay(lang, n)}" for n in r.notes)
    b, plan = r.build.build, r.chosen
    lines = [
        say(
            lang,
            "term.distill.one_build",
            n=b.n_gpus * b.n_nodes,
            gpu=b.gpu.name,
            chassis=b.chassis.name,
            price=_price(r.build, r, lang),
        ),
        say(lang, "term.distill.plan", mode=plan.setup.mode, total=fmt_seconds(plan.total_time_s)),
        *plan_lines(plan, lang)[1:],
    ]
    others = [p for p in r.plans if p.setup.mode != plan.setup.mode]
    for other in others:
        verdict = (
            say(lang, "term.distill.would_take", total=fmt_seconds(other.total_time_s))
            if other.fits
            else say(lang, "term.distill.not_this_build")
        )
        lines.append(say(lang, "term.distill.instead", mode=other.setup.mode, verdict=verdict))
    for p in plan.phases:
        if p.best is not None:
            bb = p.best.build
            lines.append(
                say(
                    lang,
                    "term.distill.best_phase",
                    phase=phase_word(lang, p.name),
                    n=bb.n_gpus * bb.n_nodes,
                    gpu=bb.gpu.name,
                    price=_price(p.best, r, lang),
                )
            )
    lines += [f"  - {resay(lang, n)}" for n in r.notes]
    if bom:
        lines += [""] + _bom_lines(r.build, r, lang)
    return "\n".join(lines)
