"""Reverse questions: `estimate --max users|context|seq-len`, the largest value that fits the given GPUs."""

from __future__ import annotations

from .catalog import Catalog
from .scenarios import run
from .specs import DEFAULT_NEW_TOKENS, Estimate, Request, SizingError

MAX_WHAT = ("users", "context", "seq-len")


def largest(catalog: Catalog, req: Request, what: str) -> tuple[int, Estimate]:
    """`estimate --max users|context|seq-len`: the largest value that fits the GPUs, and the estimate there.
    users (training: the micro-batch) comes from the memory model directly; context (inference: prompt + new) and
    seq-len (training) by bisection, memory growing with both (a property the tests keep). 0 when even 1 does not
    fit."""
    if what not in MAX_WHAT:
        raise SizingError(f"--max takes {', '.join(MAX_WHAT)}, not '{what}'")
    base = run(catalog, req)
    training = base.training is not None
    if what == "users":
        n = base.memory.max_batch_at_context
        if n < 1:
            return 0, base
        return n, run(catalog, req.model_copy(update={"batch": n}))
    if (what == "seq-len") != training:
        raise SizingError("--max seq-len is for training tasks, --max context for inference")
    new = 0 if training else (req.new_tokens if req.new_tokens is not None else DEFAULT_NEW_TOKENS)

    def at(total: int) -> Estimate:
        if training:
            return run(catalog, req.model_copy(update={"seq_len": total, "prompt_tokens": None}))
        return run(catalog, req.model_copy(update={"prompt_tokens": total - new, "new_tokens": new, "seq_len": None}))

    lo, hi = new, base.model.max_context_tokens
    if not at(max(lo + 1, 1)).memory.fits:
        return 0, base
    if at(hi).memory.fits:
        return hi, at(hi)
    while hi - lo > 1:  # lo fits, hi does not
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if at(mid).memory.fits else (lo, mid)
    return lo, at(lo)
