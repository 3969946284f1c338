"""The training deadline: a run of --tokens x --epochs, with its checkpoint saves, ends within --deadline; an RL
run (its steps one after another) too."""

from __future__ import annotations

from sizing.specs import Candidate, Finding, RLPlan, said
from sizing.units import fmt_seconds

from .memo import judged_once


def deadline(c: Candidate) -> Finding:
    """The run's wall-clock time on this build (sizing.estimate.training: tokens x epochs / trained tokens per
    second, plus the stalls of its checkpoint saves on the build's drives) is at most --deadline. Without a deadline
    (or for work that is not training) the rule passes; a deadline without --tokens cannot be met, since nothing
    says how long the run is."""
    tr, t = c.estimate.training, c.estimate.execution.training
    if tr is None or t is None or t.deadline_s is None:
        return _no_deadline()
    added = tr.checkpoint.added_s if tr.checkpoint is not None else 0.0
    return _deadline(tr.total_s, added, t.deadline_s)


@judged_once
def _no_deadline() -> Finding:
    return Finding(rule="deadline", ok=True, message="no deadline", **said("finding.deadline.none"))


TRAINING_WAYS_OUT = "more or faster GPUs, fewer tokens, or LoRA instead of a full fine-tune"


def _deadline(total_s: float | None, checkpoint_s: float, deadline_s: float) -> Finding:
    if total_s is None:
        return _judged(
            None, deadline_s, ("finding.deadline.no_tokens",), "no --tokens: give the dataset size to time the run"
        )
    saves = f" (checkpoint saves {fmt_seconds(checkpoint_s)} of it)" if checkpoint_s > 0 else ""
    return _judged(
        total_s,
        deadline_s,
        ("finding.deadline", *(("finding.deadline.saves",) if checkpoint_s > 0 else ()), "finding.deadline.limit"),
        f"training takes {fmt_seconds(total_s)}{saves}",
        ("finding.deadline.fix", TRAINING_WAYS_OUT),
        (("total", fmt_seconds(total_s)), ("saves", fmt_seconds(checkpoint_s))),
    )


@judged_once
def _judged(
    total_s: float | None,
    deadline_s: float,
    keys: tuple[str, ...],
    what: str,
    fix: tuple[str, str] = ("", ""),
    params: tuple[tuple[str, str], ...] = (),
) -> Finding:
    """The one deadline verdict, for a training run and an RL run alike: without a length (`total_s` None) the
    deadline cannot be met (`what` says what is missing); otherwise `total_s <= deadline_s`, said as `what` and
    the deadline, and when it fails the ways out (`fix`: its message key and its English)."""
    deadline = ("deadline", fmt_seconds(deadline_s))
    if total_s is None:
        msg = f"deadline {fmt_seconds(deadline_s)} but {what}"
        return Finding(
            rule="deadline", ok=False, need=round(deadline_s, 1), message=msg, key="|".join(keys), params=(deadline,)
        )
    ok = total_s <= deadline_s
    msg = f"{what}, deadline {fmt_seconds(deadline_s)}" + ("" if ok else f"; use {fix[1]}")
    return Finding(
        rule="deadline",
        ok=ok,
        need=round(deadline_s, 1),
        have=round(total_s, 1),
        message=msg,
        key="|".join((*keys, *(() if ok else (fix[0],)))),
        params=(*params, deadline),
    )


RL_WAYS_OUT = "more or faster GPUs, --placement disaggregated, a smaller --group-size or --lora"


def rl_deadline(plan: RLPlan) -> Finding:
    """An RL run's wall-clock time, its steps one after another (sizing.specs.rl: n_steps x (rollout + scoring +
    update + weight sync), as verl and OpenRLHF run them: each step waits for its rollout), is at most --deadline.
    Without a deadline the rule passes; a deadline without --steps or --tokens cannot be met: nothing says how many
    steps the run has."""
    deadline_s = plan.setup.deadline_s
    if deadline_s is None:
        return _no_deadline()
    total_s = plan.total_s
    if total_s is None:
        return _judged(
            None,
            deadline_s,
            ("finding.rl_deadline.no_steps",),
            "no --steps or --tokens: give the run's length to time it",
        )
    step = fmt_seconds(plan.step.step_s)
    return _judged(
        total_s,
        deadline_s,
        ("finding.rl_deadline",),
        f"{plan.setup.n_steps:,} steps of {step} take {fmt_seconds(total_s)}",
        ("finding.rl_deadline.fix", RL_WAYS_OUT),
        (("steps", f"{plan.setup.n_steps:,}"), ("step", step), ("total", fmt_seconds(total_s))),
    )
