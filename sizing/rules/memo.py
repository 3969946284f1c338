"""Rule cores judged once per distinct input. A rule reads its Candidate and hands the few values it judges to a
core that sees nothing else, so equal inputs give an equal Finding and the core can be remembered: a search
judges ~1,700 builds (52 GPUs x 1-8 of them x 18 chassis) that share most CPUs, DIMMs, drives and PSUs."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

F = TypeVar("F", bound=Callable)
JUDGED_KEPT = 4096  # distinct inputs remembered per core: above one search's distinct builds, bounded across many


def judged_once(core: F) -> F:
    """`core` remembered per distinct (hashable, frozen) arguments; it must read nothing but them."""
    return lru_cache(maxsize=JUDGED_KEPT)(core)  # type: ignore[return-value]
