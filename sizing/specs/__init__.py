"""Frozen pydantic models: the *what* (ModelSpec), the *how* (Workload, Engine, Precision), the *on what* (Gpu,
parts, builds) and the answers (MemoryEstimate, SpeedEstimate, Estimate, Recommendation).

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
from .hardware import Chassis, Circuit, Cpu, Dimm, Drive, FxRate, Gpu, NetworkPart, Psu
from .model import Efficiency, Engine, ModelSpec, Precision
from .results import (
    Build,
    Constraints,
    Estimate,
    Finding,
    Line,
    MemoryBreakdown,
    MemoryEstimate,
    Option,
    Recommendation,
    Rejection,
    SpeedEstimate,
    Task,
    Workload,
)

__all__ = [
    "PRICE_COLUMNS", "Base", "Build", "Chassis", "Circuit", "Col", "Constraints", "Cpu", "Dimm", "Drive", "Efficiency",
    "Engine", "Estimate", "Finding", "Fraction", "FxRate", "Gpu", "Line", "MemoryBreakdown", "MemoryEstimate",
    "ModelSpec", "NetworkPart", "NonNegFloat", "NonNegInt", "Option", "Part", "PosFloat", "PosInt", "Precision", "Psu",
    "Recommendation", "Rejection", "SizingError", "SpeedEstimate", "Task", "Workload", "price_columns",
]
