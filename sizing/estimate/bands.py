"""Uncertainty bands: every speed and memory figure of an estimate widened by how far the estimator has been from
measurements it was not fitted on, for its engine and GPU class (data/bands.csv, written by
`benchmarks/calibrate.py --cross-validate --write`: leave-one-GPU-out for a measured engine, leave-one-engine-out,
which is wider, for an engine whose factors are borrowed). The catalog attaches the rows to the Efficiency."""

from __future__ import annotations

from sizing.specs import Efficiency, ErrorBand, Estimate


def _band(eff: Efficiency, metric: str) -> ErrorBand | None:
    return next((b for b in eff.band if b.metric == metric), None)


def apply(e: Estimate) -> Estimate:
    """The estimate with [lo, hi] on its decode (per user and total), prefill, first-token and memory figures; a
    time's band is its rate's band inverted. Each band contains its figure. No band rows: the estimate as it is."""
    if e.speed is None or not e.efficiency.band:
        return e
    s, update = e.speed, {}
    decode, prefill, memory = (_band(e.efficiency, m) for m in ("decode", "prefill", "memory"))
    if decode is not None:
        update["decode_tokens_per_s_range"] = decode.around(s.decode_tokens_per_s)
        update["decode_tokens_per_s_total_range"] = decode.around(s.decode_tokens_per_s_total)
    if prefill is not None:
        update["prefill_tokens_per_s_range"] = prefill.around(s.prefill_tokens_per_s)
        # a time is tokens / rate: measured/estimated of the time is the inverse of the rate's
        lo, hi = 1 / max(prefill.hi_ratio, 1.0), 1 / min(prefill.lo_ratio, 1.0)
        update["time_to_first_token_s_range"] = (s.time_to_first_token_s * lo, s.time_to_first_token_s * hi)
        loaded = s.time_to_first_token_loaded_s
        update["time_to_first_token_loaded_s_range"] = (loaded * lo, loaded * hi)
        alone = s.time_to_first_token_one_user_s
        update["time_to_first_token_one_user_s_range"] = (alone * lo, alone * hi)
    out = e.model_copy(update={"speed": s.model_copy(update=update)})
    if memory is not None:
        m = e.memory
        out = out.model_copy(
            update={"memory": m.model_copy(update={"per_gpu_bytes_range": memory.around(m.per_gpu_bytes)})}
        )
    return out
