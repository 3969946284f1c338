"""Frozen pydantic models: the *what* (ModelSpec), the *how* (Execution, Engine, Precision), the *on what* (Gpu,
parts, Build, System) and the answers (Estimate, Finding, Option, Recommendation).

Every quantity is in base units and its name says which. Each catalog-backed model declares `COLUMNS`: the CSV
column, the field it fills, its type and the factor that converts the vendor unit to the base unit. `catalog` is the
only reader of files; these tables are the only place where a vendor unit meets a base unit.
"""

from .base import (
    PRICE_COLUMNS,
    Base,
    Col,
    Fraction,
    NonNegFloat,
    NonNegInt,
    Part,
    PosFloat,
    PosInt,
    SizingError,
    price_columns,
)
from .build import Build, Constraints, FormFactor, Objective, PowerDraw, Requirements
from .execution import (
    DEFAULT_CONTEXT_TOKENS,
    DEFAULT_NEW_TOKENS,
    DEFAULT_PROMPT_TOKENS,
    DEFAULT_USERS,
    Execution,
    Parallelism,
    Task,
)
from .hardware import Chassis, Circuit, Cpu, Dimm, Drive, FxRate, Gpu, NetworkPart, Psu
from .model import Efficiency, Engine, ModelSpec, Precision
from .requests import RecommendRequest, Request
from .results import (
    CATALOG_GAP,
    Candidate,
    Estimate,
    Finding,
    Line,
    MemoryBreakdown,
    MemoryEstimate,
    Option,
    Recommendation,
    Rejection,
    SpeedEstimate,
    StepTime,
)
from .system import Link, System

__all__ = [
    "CATALOG_GAP",
    "DEFAULT_CONTEXT_TOKENS",
    "DEFAULT_NEW_TOKENS",
    "DEFAULT_PROMPT_TOKENS",
    "DEFAULT_USERS",
    "PRICE_COLUMNS",
    "Base",
    "Build",
    "Candidate",
    "Chassis",
    "Circuit",
    "Col",
    "Constraints",
    "Cpu",
    "Dimm",
    "Drive",
    "Efficiency",
    "Engine",
    "Estimate",
    "Execution",
    "Finding",
    "FormFactor",
    "Fraction",
    "FxRate",
    "Gpu",
    "Line",
    "Link",
    "MemoryBreakdown",
    "MemoryEstimate",
    "ModelSpec",
    "NetworkPart",
    "NonNegFloat",
    "NonNegInt",
    "Objective",
    "Option",
    "Parallelism",
    "Part",
    "PosFloat",
    "PosInt",
    "PowerDraw",
    "Precision",
    "Psu",
    "Recommendation",
    "RecommendRequest",
    "Rejection",
    "Request",
    "Requirements",
    "SizingError",
    "SpeedEstimate",
    "StepTime",
    "System",
    "Task",
    "price_columns",
]
