"""Rendering distillation plans: each phase's memory, time and writes, the total, the cheaper mode and the build."""

from __future__ import annotations

from sizing.specs import DistillPlan, DistillRecommendation, Phase
from sizing.units import fmt_bytes, fmt_count, fmt_decimal_bytes, fmt_rate, fmt_seconds

from .training import estimate_memory_json, rounded

PHASE_WORDS = {
    "teacher-labels": "teacher pass (top-k soft labels)",
    "teacher-generation": "teacher generation (responses)",
    "student-training": "student training",
    "online": "online distillation (teacher and student in every step)",
}


def _rate(p: Phase) -> str:
    e = p.estimate
    if e.training is not None:
        return f"{fmt_rate(e.training.train_tokens_per_s)} trained"
    assert e.speed is not None
    if p.name == "teacher-generation":
        return f"{fmt_rate(e.speed.decode_tokens_per_s_total)} generated"
    return f"{fmt_rate(e.speed.prefill_tokens_per_s)} through the teacher"


def phase_lines(p: Phase) -> list[str]:
    m = p.estimate.memory
    fit = "fits" if p.estimate.fits else "DOES NOT FIT"
    out = [
        f"  {PHASE_WORDS[p.name]}: {p.model}, {fmt_count(p.tokens)} tokens at {_rate(p)} -> {fmt_seconds(p.time_s)}",
        f"    memory per GPU {fmt_bytes(m.per_gpu_bytes)} of {fmt_bytes(m.gpu_memory_bytes)} ({fit})",
    ]
    if p.storage_bytes:
        out.append(
            f"    writes {fmt_decimal_bytes(p.storage_bytes)} at {fmt_decimal_bytes(p.write_bytes_s)}/s "
            "to the data drives"
        )
    return out


def plan_lines(plan: DistillPlan) -> list[str]:
    s = plan.setup
    head = f"{s.mode} distillation of {plan.teacher} into {plan.student}"
    if s.mode == "offline":
        head += f" (top-{s.top_k} soft labels per position)"
    lines = [head + f": {fmt_seconds(plan.total_time_s)} in all" + ("" if plan.fits else " - DOES NOT FIT")]
    for p in plan.phases:
        lines += phase_lines(p)
    return lines


def cheaper(plans: tuple[DistillPlan, ...]) -> DistillPlan | None:
    fitting = [p for p in plans if p.fits]
    return min(fitting, key=lambda p: p.total_time_s) if fitting else None


def distill_text(plans: tuple[DistillPlan, ...]) -> str:
    lines: list[str] = []
    for plan in plans:
        lines += [*plan_lines(plan), ""]
    best = cheaper(plans)
    if best is not None and len(plans) > 1:
        lines.append(f"Cheaper on these GPUs: {best.setup.mode} ({fmt_seconds(best.total_time_s)})")
    elif best is None:
        lines.append("No mode fits these GPUs: use more or larger GPUs, a smaller micro-batch or shorter sequences")
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


def distill_recommendation_text(r: DistillRecommendation, bom: bool = False) -> str:
    from .core import _bom_lines, _price  # the build's lines as `recommend` prints them

    if r.build is None or r.chosen is None:
        return "No build runs every phase of the plan.\n" + "\n".join(f"  - {n}" for n in r.notes)
    b, plan = r.build.build, r.chosen
    lines = [
        f"One build for every phase: {b.n_gpus * b.n_nodes} x {b.gpu.name} in {b.chassis.name}, {_price(r.build, r)}",
        f"Plan: {plan.setup.mode} ({fmt_seconds(plan.total_time_s)} in all on this build)",
        *plan_lines(plan)[1:],
    ]
    others = [p for p in r.plans if p.setup.mode != plan.setup.mode]
    for other in others:
        verdict = f"would take {fmt_seconds(other.total_time_s)}" if other.fits else "does not fit this build"
        lines.append(f"Instead: {other.setup.mode} distillation {verdict}")
    for p in plan.phases:
        if p.best is not None:
            bb = p.best.build
            lines.append(
                f"Best build for the {PHASE_WORDS[p.name]} alone: {bb.n_gpus * bb.n_nodes} x {bb.gpu.name}, "
                f"{_price(p.best, r)}"
            )
    lines += [f"  - {n}" for n in r.notes]
    if bom:
        lines += [""] + _bom_lines(r.build, r)
    return "\n".join(lines)
