"""Pure estimators, split along their seams: `shapes` (parameters, bytes, FLOPs; no engine), `parallel` (shares per
GPU), `comm` (collectives over links), `engines` (engine mechanics), `roofline` (step cost to seconds),
`inference`, `requirements` (RAM, drives, cores, lanes of a node), `power` (draw of a build) and `tasks` (dispatch)."""

from .inference import decode_step, memory, prefill, speed
from .power import power
from .requirements import lanes_used, requirements
from .tasks import ESTIMATORS, estimate

__all__ = [
    "ESTIMATORS",
    "decode_step",
    "estimate",
    "lanes_used",
    "memory",
    "power",
    "prefill",
    "requirements",
    "speed",
]
