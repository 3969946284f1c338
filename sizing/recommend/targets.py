"""The user's latency targets judged on one estimate (`sizing estimate --max-ttft-s / --min-user-tokens-per-s`):
the same rule cores the recommender runs on every build (rules/latency.py), for the library entry."""

from __future__ import annotations

from sizing.rules.latency import targets as latency_targets
from sizing.specs import Estimate


def with_targets(e: Estimate, max_ttft_s: float | None, min_user_tokens_per_s: float | None) -> Estimate:
    """The estimate carrying a finding per target given (none given: the estimate as it is)."""
    if max_ttft_s is None and min_user_tokens_per_s is None:
        return e
    return e.model_copy(update={"targets": latency_targets(e, max_ttft_s, min_user_tokens_per_s)})
