"""Build rules: one small pure function per rule, each returning a Finding (infeasibility is a value).

Each rule takes a Candidate: the composed build, what the work needs of it (sizing.estimate.requirements), what it
draws (sizing.estimate.power) and the estimate on its own links, so the rules check what the recommender derived
against numbers it did not derive. `check(candidate)` (rules/check.py) runs every rule in RULES;
compute, power and platform hold the rules by what they judge. Each docstring states the rule and
its source.
"""

from .check import (
    BUILD_RULES,
    RULES,
    SPEED_RULES,
    UNTIMED_RULES,
    WORK_RULES,
    Rule,
    build_passes,
    check,
    speed_can_fail,
)
from .compute import (
    engine_runs_on,
    engine_support,
    execution_runs_on,
    gpu_communication,
    gpu_memory,
    network,
    target_speed,
    tensor_parallel,
)
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
from .power import BOARD_POWERED, gpu_plugs_served, psu_capacity, psu_connectors, wall_circuit
from .price import budget

__all__ = [
    "BOARD_POWERED",
    "BUILD_RULES",
    "RULES",
    "Rule",
    "SPEED_RULES",
    "UNTIMED_RULES",
    "WORK_RULES",
    "budget",
    "build_passes",
    "chassis_fit",
    "check",
    "cooling",
    "cpu_cores",
    "data_drive",
    "ecc_memory",
    "engine_runs_on",
    "execution_runs_on",
    "engine_support",
    "gpu_communication",
    "gpu_memory",
    "gpu_plugs_served",
    "memory_channels",
    "memory_speed",
    "memory_type",
    "network",
    "pcie_lanes",
    "psu_capacity",
    "psu_connectors",
    "speed_can_fail",
    "system_drive",
    "system_ram",
    "target_speed",
    "tensor_parallel",
    "wall_circuit",
]
