"""Every rule, in the order a report lists them, and `check` that runs them all on a Candidate."""

from __future__ import annotations

from collections.abc import Callable

from sizing.specs import Candidate, Finding

from .compute import engine_support, gpu_communication, gpu_memory, network, target_speed, tensor_parallel
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
    budget,
)


def check(c: Candidate) -> tuple[Finding, ...]:
    """Every rule on the composed build, budget last."""
    return tuple(rule(c) for rule in RULES)
