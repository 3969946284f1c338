"""The recommender: enumerate legal (GPU, count, chassis) candidates (`search`), derive the other parts (`derive`),
check every rule on the composed build, rank (`rank`), keep every rejection with the rules it failed, and offer
ways out keyed by those rules (`relax`). Pure: talks to the catalog through `provider.PartsProvider`.
"""

from .derive import Composer, derive
from .prices import bill_of_materials
from .provider import PartsProvider, Problem
from .recommender import recommend
from .search import GPU_COUNTS, NODE_COUNTS, evaluate, search

__all__ = [
    "Composer",
    "GPU_COUNTS",
    "NODE_COUNTS",
    "PartsProvider",
    "Problem",
    "bill_of_materials",
    "derive",
    "evaluate",
    "recommend",
    "search",
]
