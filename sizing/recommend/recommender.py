"""The recommender's entry: search, rank, the build classes (CPU-only, hybrid, edge; recommend/classes.py), and the
ways out when nothing passes."""

from __future__ import annotations

from sizing import rules
from sizing.specs import ClassOption, Option, Recommendation, Rejection

from . import classes as cls
from . import hybrid_builds as hyb
from . import offline as off
from .derive import Composer
from .provider import Problem
from .rank import ranked
from .relax import ways_out
from .search import search

# Edge boxes join the default output for models up to this size (a 1.5B-3B model is what embedded and mini-PC
# deployments run; larger ones ask for them with --build-class edge): a product choice, not a measured threshold.
EDGE_DEFAULT_PARAMS = 4e9
# Hybrid builds join the GPU builds by default for MoE models this large (DeepSeek-V3/R1, Kimi K2: the models run on
# one GPU and a big-RAM host, issue 14); smaller MoE models (Mixtral) fit GPUs and get them with --build-class hybrid.
HYBRID_DEFAULT_PARAMS = 100e9


def recommend(problem: Problem, request: dict | None = None, plan: cls.ClassPlan | None = None) -> Recommendation:
    """Ranked builds (the best chassis per GPU, count and node count), every rejection with the rules it failed,
    and, when nothing passes, the changes that would. With a `plan`, the build classes too: hybrid GPU+RAM builds
    where the request asks for them or no GPU build passes, CPU-only servers with --max-gpus 0 or --build-class
    cpu, edge boxes unless another class is asked for."""
    c = problem.constraints
    want = c.build_class
    composer = Composer(problem)  # kept for the relaxations' searches
    gpu_search = want in (None, "gpu") and c.max_gpus != 0
    options, rejected = search(problem, composer) if gpu_search else ([], [])
    notes: list[str] = list(plan.notes) if plan else []
    found: list[ClassOption] = []
    if plan is not None:
        options, more = _hybrid(problem, plan, options, want)
        notes += more
    best = [
        o.model_copy(update={"reasons": (*o.reasons, *hyb.hybrid_reasons(o))}) for o in ranked(options, c.objective)
    ]
    if plan is not None:
        found, more = _classes(problem, plan, want)
        notes += more
    offline: tuple[str, ...] = ()
    if c.offline:
        lines, offline = off.offline_lines(problem)
        best = [off.with_lines(o, lines) for o in best]
        found = [off.class_with_lines(o, lines) for o in found]
    return Recommendation(
        request=request or {},
        execution=problem.execution,
        model=problem.model,
        options=tuple(best),
        rejected=tuple(telling_first(rejected)),
        near_misses=near_misses(rejected),
        ways_out=() if best or found or not gpu_search else ways_out(problem, rejected, composer),
        classes=cls.ranked_classes(found, c.objective),
        offline=offline,
        class_notes=tuple(notes),
    )


def _hybrid(
    problem: Problem, plan: cls.ClassPlan, options: list[Option], want: str | None
) -> tuple[list[Option], list[str]]:
    """The GPU options plus hybrid builds: only those with --build-class hybrid (llama.cpp unless the engine is
    named); beside the GPU builds where GPUs are allowed, the request's engine keeps weights in RAM and the model
    is an MoE of 100B+ parameters (routed experts in RAM: issue 14's one-GPU DeepSeek servers) or no GPU build
    passes."""
    c = problem.constraints
    offloads = bool(problem.execution.engine.offload_modes)
    big_moe = problem.model.is_moe and problem.model.n_params >= HYBRID_DEFAULT_PARAMS
    default = want is None and c.max_gpus != 0 and offloads and (big_moe or not options)
    if not (want == "hybrid" or default):
        return options, []
    if plan.hybrid_execution is None:
        return options, [f"no hybrid build: {problem.execution.engine.name} keeps no weights in RAM (llama.cpp does)"]
    hp = problem._replace(execution=plan.hybrid_execution)
    found = hyb.hybrid_options(hp, plan.parts)
    note = hyb.second_gpu_note(ranked(found, c.objective))
    return ([] if want == "hybrid" else options) + found, [note] if note else []


def _classes(problem: Problem, plan: cls.ClassPlan, want: str | None) -> tuple[list[ClassOption], list[str]]:
    """CPU-only servers (--max-gpus 0 or --build-class cpu) and edge boxes (default, or --build-class edge); only
    the ones within the budget and speed target."""
    c = problem.constraints
    found: list[ClassOption] = []
    notes: list[str] = []
    eff = problem.parts.efficiency
    if want == "cpu" or (want is None and c.max_gpus == 0):
        if plan.host_execution is None:
            notes.append(f"no CPU-only build: {problem.execution.engine.name} does not run on the CPU alone")
        else:
            xh = plan.host_execution
            found += cls.cpu_builds(problem, plan.parts, xh, eff(xh.engine.id, plan.any_gpu.gpu_class), plan.any_gpu)
    if want == "edge" or (want is None and c.max_gpus != 0 and problem.model.n_params <= EDGE_DEFAULT_PARAMS):
        edge, refused = cls.edge_builds(problem, plan.parts, problem.execution, plan.engine_named, eff)
        found += edge
        if want == "edge":
            notes += [f"{sid}: {f.message}" for sid, f in refused]
    passing = [o for o in found if all(f.ok for f in o.findings)]
    if len(passing) < len(found):
        notes.append(f"{len(found) - len(passing)} {want or 'class'} build(s) miss the budget or speed target")
    return passing, notes


def telling_first(rejected: list[Rejection]) -> list[Rejection]:
    """Every rejection, each shape's (GPU, count, nodes) together in the order the search met them, and within a
    shape first the chassis that fail a rule of the work itself (rules.WORK_RULES: memory, engine, split, speed,
    latency, deadline), which every chassis of the shape would fail, before those that fail a rule of their own
    chassis (cooling, PSU, lanes) or lack a catalog part, and the fewest failed rules first: the terminal shows each
    shape's first, so its line is the shape's own reason rather than one chassis's."""
    work = {rule.__name__ for rule in rules.WORK_RULES}
    shapes: dict[tuple[str, int, int], int] = {}
    for r in rejected:
        shapes.setdefault((r.gpu, r.n_gpus, r.n_nodes), len(shapes))
    return sorted(
        rejected,
        key=lambda r: (
            shapes[(r.gpu, r.n_gpus, r.n_nodes)],
            not any(f.rule in work for f in r.findings),
            len(r.findings),
        ),
    )


def near_misses(rejected: list[Rejection], n: int = 5) -> tuple[Rejection, ...]:
    """The cheapest composed builds (one per GPU, count and nodes) that fail exactly one rule: the finding says
    what it needs, and mostly the fix."""
    one = [r for r in rejected if len(r.findings) == 1 and r.total_price_usd is not None]
    best: dict[tuple[str, int, int], Rejection] = {}
    for r in sorted(one, key=lambda r: r.total_price_usd or 0.0):
        best.setdefault((r.gpu, r.n_gpus, r.n_nodes), r)
    return tuple(list(best.values())[:n])
