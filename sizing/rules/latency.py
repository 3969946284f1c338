"""Latency targets a serving buyer sets: the first token of one request at a loaded server (--max-ttft-s) and each
user's decode speed (--min-user-tokens-per-s, the inverse of TPOT). Without a target a rule passes, so targets only
ever remove builds."""

from __future__ import annotations

from sizing.specs import Candidate, Estimate, Finding
from sizing.specs import said as keyed
from sizing.units import fmt_rate, fmt_seconds

from .memo import judged_once


def first_token(c: Candidate) -> Finding:
    """Time to first token of ONE request arriving while the other users decode (its own chunked prefill plus the
    queue behind their prefills: sizing.estimate.inference.loaded_ttft_s) is at most --max-ttft-s. Source: the
    estimator's continuous-batching queueing model (vLLM V1 / SGLang chunked-prefill schedulers)."""
    return ttft_finding(c.estimate, c.constraints.max_ttft_s)


def user_speed(c: Candidate) -> Finding:
    """Each user's decode rate (tokens/s per sequence at the build's batch, i.e. 1 / TPOT) is at least
    --min-user-tokens-per-s. Source: the estimator's decode step (sizing.estimate.inference.decode_step)."""
    return user_speed_finding(c.estimate, c.constraints.min_user_tokens_per_s)


def ttft_finding(e: Estimate, target_s: float | None) -> Finding:
    """The first_token finding for an estimate and a target (None: no target)."""
    have = e.speed.time_to_first_token_loaded_s if e.speed is not None else None
    return _ttft(have, target_s, e.execution.batch)


def user_speed_finding(e: Estimate, target: float | None) -> Finding:
    """The user_speed finding for an estimate and a target (None: no target)."""
    return _user_speed(e.speed.decode_tokens_per_s if e.speed is not None else None, target)


@judged_once
def _ttft(have: float | None, target_s: float | None, users: int) -> Finding:
    if have is None:
        return Finding(
            rule="first_token",
            ok=True,
            message="no first-token time for this task",
            **keyed("finding.first_token.none"),
        )
    who = "one user" if users == 1 else f"one user arriving beside {users - 1} others"
    said = f"first token after {fmt_seconds(have)} for {who}"
    head = "finding.first_token.one" if users == 1 else "finding.first_token.many"
    if target_s is None:
        words = keyed(head, have=fmt_seconds(have), others=users - 1)
        return Finding(rule="first_token", ok=True, have=round(have, 4), message=said, **words)
    ok = have <= target_s
    fix = () if ok else ("finding.first_token.fix",)
    return Finding(
        rule="first_token",
        ok=ok,
        need=target_s,
        have=round(have, 4),
        message=f"{said}, target {fmt_seconds(target_s)}"
        + ("" if ok else "; serve fewer users, a shorter prompt, or faster or more GPUs"),
        **keyed(head, "finding.target", *fix, have=fmt_seconds(have), others=users - 1, target=fmt_seconds(target_s)),
    )


@judged_once
def _user_speed(have: float | None, target: float | None) -> Finding:
    if have is None:
        return Finding(
            rule="user_speed",
            ok=True,
            message="no per-user decode speed for this task",
            **keyed("finding.user_speed.none"),
        )
    said = f"each user decodes {fmt_rate(have)}"
    if target is None:
        words = keyed("finding.user_speed", have=fmt_rate(have))
        return Finding(rule="user_speed", ok=True, have=round(have, 2), message=said, **words)
    ok = have >= target
    fix = () if ok else ("finding.user_speed.fix",)
    return Finding(
        rule="user_speed",
        ok=ok,
        need=target,
        have=round(have, 2),
        message=f"{said}, target {fmt_rate(target)}"
        + ("" if ok else "; serve fewer users, a smaller quantization, fp8 KV cache, or faster GPUs"),
        **keyed("finding.user_speed", "finding.target", *fix, have=fmt_rate(have), target=fmt_rate(target)),
    )


def targets(e: Estimate, max_ttft_s: float | None, min_user_tokens_per_s: float | None) -> tuple[Finding, ...]:
    """`sizing estimate` with latency targets: a finding per target given."""
    out = []
    if max_ttft_s is not None:
        out.append(ttft_finding(e, max_ttft_s))
    if min_user_tokens_per_s is not None:
        out.append(user_speed_finding(e, min_user_tokens_per_s))
    return tuple(out)
