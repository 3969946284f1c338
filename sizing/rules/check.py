"""Every rule, in the order a report lists them, and `check` that runs them all on a Candidate; the rules that
read no estimate (`BUILD_RULES`) and `build_passes`."""

from __future__ import annotations

from collections.abc import Callable

from sizing.specs import Candidate, Finding

from .compute import engine_support, gpu_communication, gpu_memory, network, target_speed, tensor_parallel
from .deadline import deadline
from .latency import first_token, user_speed
from .platform import (
    budget,
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


def check(c: Candidate) -> tuple[Finding, ...]:
    """Every rule on the composed build, budget last."""
    return tuple(rule(c) for rule in RULES)


def build_passes(c: Candidate) -> bool:
    """Whether the build passes every BUILD_RULES rule (stopping at the first that fails): what a search that wants
    only passing builds asks before estimating a build on its own links, since none of these reads the estimate."""
    return all(rule(c).ok for rule in BUILD_RULES)
