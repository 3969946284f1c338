"""Every rule, in the order a report lists them, and `check` that runs them all on a Candidate; the rules that
read no estimate (`BUILD_RULES`) and `build_passes`; those that read the speed (`SPEED_RULES`) and
`speed_can_fail`."""

from __future__ import annotations

from collections.abc import Callable

from sizing.specs import Candidate, Constraints, Execution, Finding

from .compute import engine_support, gpu_communication, gpu_memory, network, target_speed, tensor_parallel
from .deadline import deadline
from .latency import first_token, user_speed
from .platform import (
    chassis_fit,
    cooling,
    cpu_cores,
    data_drive,
    ecc_memory,
    memory_channels,
    memory_speed,
    memory_type,
    pcie_lanes,
    system_drive,
    system_ram,
)
from .power import psu_capacity, psu_connectors, wall_circuit
from .price import budget

Rule = Callable[[Candidate], Finding]
RULES: tuple[Rule, ...] = (
    gpu_memory,
    engine_support,
    tensor_parallel,
    chassis_fit,
    cooling,
    pcie_lanes,
    cpu_cores,
    system_ram,
    memory_channels,
    memory_type,
    ecc_memory,
    memory_speed,
    system_drive,
    data_drive,
    psu_capacity,
    psu_connectors,
    wall_circuit,
    gpu_communication,
    network,
    target_speed,
    deadline,
    first_token,
    user_speed,
    budget,
)


# The rules that judge the work on the build: they read the candidate's estimate (memory, the split, the links'
# cost, the speed). Every other rule judges the build, its power, requirements, price and constraints alone.
WORK_RULES: tuple[Rule, ...] = (gpu_memory, engine_support, tensor_parallel, gpu_communication, target_speed, deadline)
WORK_RULES += (first_token, user_speed)  # rules/latency.py
BUILD_RULES: tuple[Rule, ...] = tuple(rule for rule in RULES if rule not in WORK_RULES)
# The work rules that read the estimate's speed, time or links (what a build's own lanes and power cap change), and
# in RULES order every other rule: those read the build, or the parts of the estimate that are the same on every
# chassis of one shape (its memory, execution and model; search.judge_shape judges memory once per shape).
SPEED_RULES: tuple[Rule, ...] = (gpu_communication, target_speed, deadline, first_token, user_speed)
UNTIMED_RULES: tuple[Rule, ...] = tuple(rule for rule in RULES if rule not in SPEED_RULES)


def check(c: Candidate) -> tuple[Finding, ...]:
    """Every rule on the composed build, budget last."""
    return tuple(rule(c) for rule in RULES)


def speed_can_fail(constraints: Constraints, execution: Execution) -> bool:
    """Whether a SPEED_RULES rule can fail: only against a target the request sets (--target-tokens-per-s,
    --max-ttft-s, --min-user-tokens-per-s, a training --deadline); without one each passes, saying the figure, and
    gpu_communication always passes (it reports what the traffic costs)."""
    c, t = constraints, execution.training
    targets = (c.target_tokens_per_s, c.max_ttft_s, c.min_user_tokens_per_s, t.deadline_s if t else None)
    return any(x is not None for x in targets)


def build_passes(c: Candidate) -> bool:
    """Whether the build passes every BUILD_RULES rule (stopping at the first that fails): what a search that wants
    only passing builds asks before estimating a build on its own links, since none of these reads the estimate."""
    return all(rule(c).ok for rule in BUILD_RULES)
