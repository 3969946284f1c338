"""Enumerate legal (GPU, count, chassis) candidates and clusters, compose and estimate each, check every rule.

For each shape the requirements are computed once; each chassis gets its own build, the estimate on that build's
links and power cap (System.from_build), and every rule; `evaluate` returns an Option or a Rejection. `passing`, the
relaxations' search, finds the same Options but `screen`s each build by the rules that read no estimate first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

from sizing import estimate as est
from sizing import rules
from sizing.estimate.parallel import tp_problem
from sizing.rules.compute import memory_finding
from sizing.specs import (
    Candidate,
    Chassis,
    Estimate,
    Execution,
    Finding,
    Gpu,
    Line,
    Option,
    Parallelism,
    Rejection,
    Requirements,
    System,
    said,
)
from sizing.specs.system import node_link

from .derive import Composer
from .provider import Problem

GPU_COUNTS = (1, 2, 4, 8)
NO_NIC = node_link(None)  # the link System.of assumes between nodes
NODE_COUNTS = (2, 4, 8)  # clusters of 8-GPU servers, only where one server cannot hold the work
Outcome = Option | Rejection
Judge = Callable[["Shape", Chassis], Outcome | None]  # evaluate, or screen for a search that keeps passing builds


def candidates(problem: Problem) -> list[Gpu]:
    c = problem.constraints
    gpus = [g for g in problem.parts.gpus.values() if (not c.gpus or g.id in c.gpus) and g.id not in c.exclude]
    return sorted(gpus, key=lambda g: g.id)


def chassis_for(problem: Problem, gpu: Gpu, n: int) -> list[Chassis]:
    forms = {"tower": ("tower", "workstation"), "rack": ("rack",)}.get(problem.constraints.form_factor or "", None)
    return [
        x
        for x in problem.parts.chassis.values()
        if x.max_gpus >= n
        and x.gpu_form_factor == gpu.form_factor
        and x.takes(gpu.arch, n)
        and (forms is None or x.form_factor in forms)
    ]


def on_gpus(execution: Execution, n: int, n_nodes: int, replicas: int = 1) -> Execution:
    """The execution split over n GPUs per node and n_nodes nodes, as its trainer or engine splits; with `replicas`,
    that many data-parallel copies of n / replicas-way tensor parallel (estimate/replicas.py)."""
    if replicas > 1:
        return execution.model_copy(update={"parallelism": Parallelism(tp=n // replicas, dp=replicas)})
    return execution.on_gpus(n, n_nodes)


def replica_counts(problem: Problem, n: int, n_nodes: int) -> list[int]:
    """The ways one node's n GPUs may serve: 1 (one tensor-parallel group over all of them) and every R that divides
    n into groups the model splits over (tp_problem), for a tensor-splitting engine (a replica beyond the users
    idles: the estimate counts only the busy ones). Clusters keep one group (tp per node, pipelined across nodes), and
    so does an expert-parallel request (--ep: the experts split over the node's one group) and an attention
    data-parallel one (--dp-attention: the attention replicas inside that group)."""
    x = problem.execution
    if x.task != "inference" or x.hybrid is not None or x.engine.split != "tensor" or n_nodes > 1:
        return [1]
    if (x.expert_parallel or 1) > 1 or x.dp_attention:  # attention replicas are dp_attention's own split
        return [1]
    return [1] + [r for r in GPU_COUNTS[1:] if n % r == 0 and tp_problem(problem.model, n // r) is None]


def attention_split(problem: Problem, n: int, n_nodes: int) -> Problem | None:
    """The problem with attention data parallel (dp_attention.py), a split of one node's n > 1 GPUs beside the
    replica counts, for an MLA model (SGLang's DP/DPA guide: "the most significant benefits" on MLA, whose one KV
    head tensor parallel copies to every GPU) on an engine with it (vLLM's: MoE models), without hybrid offload or
    linear-attention layers, where the request did not ask for it (then every shape has it); else None."""
    x, model = problem.execution, problem.model
    allowed = (
        x.task == "inference"
        and x.hybrid is None
        and x.engine.dp_attention is not None
        and (model.is_moe or x.engine.dp_attention == "attention")
        and not x.dp_attention
        and model.is_mla
        and not model.n_linear_layers
        and n > 1
        and n_nodes == 1
    )
    return problem._replace(execution=x.model_copy(update={"dp_attention": True})) if allowed else None


# The tasks whose estimators read neither where checkpoints go (System.checkpoint_*: estimate/training.py alone) nor,
# on one node, the network (inference.py's pipeline hops over node_link are n_nodes - 1 = 0 there).
SERVING_TASKS = frozenset({"inference", "embed"})


def work_system(execution: Execution, system: System) -> System:
    """`system` less what `execution`'s estimator does not read: chassis that differ only in their drives or NIC
    then share one estimate (the estimate is the same; only its `system` is set back to the build's own)."""
    if execution.task not in SERVING_TASKS:
        return system
    update: dict = {}
    if system.checkpoint_drive is not None or system.checkpoint_write_bytes_s is not None:
        update.update(checkpoint_drive=None, checkpoint_write_bytes_s=None)
    if system.n_nodes == 1 and system.node_link != NO_NIC:
        update["node_link"] = NO_NIC
    return system.model_copy(update=update) if update else system


class Shape:
    """One (GPU, count per node, nodes): its execution and requirements, and the estimate per distinct system (a
    chassis that gives the same lanes and NIC gets the same estimate)."""

    def __init__(
        self, problem: Problem, gpu: Gpu, n: int, n_nodes: int, composer: Composer | None = None, replicas: int = 1
    ):
        self.problem, self.gpu, self.n, self.n_nodes = problem, gpu, n, n_nodes
        self.links = problem.parts.links  # the catalog's link latencies (data/links.csv)
        self.composer = composer or Composer(problem)  # one per search (and its relaxations): what repeats
        # one object per split for the whole search: every GPU's shape of it runs the same execution, and the
        # estimator's memos (decode_work, prefill_work) then find that object at once instead of comparing a copy
        x = problem.execution
        self.execution = self.composer.once(
            ("execution", x, n, n_nodes, replicas), lambda: on_gpus(x, n, n_nodes, replicas)
        )
        self.requirements: Requirements = est.requirements(
            problem.model, self.execution, System.of(gpu, n, n_nodes, latencies=self.links)
        )
        self.eff = self.composer.efficiency(self.execution.engine.id, gpu.gpu_class)
        self._estimates = self.composer.estimates(self.execution, gpu, n, n_nodes)
        self._bare: Estimate | None = None
        # no speed rule can fail (rules.speed_can_fail) on serving work, whose memory is the same on every chassis
        x = self.execution
        self.untimed = x.task in SERVING_TASKS and x.hybrid is None and not rules.speed_can_fail(problem.constraints, x)

    @property
    def bare(self) -> Estimate:
        """The estimate before any chassis (System.of: each card at its own lanes); its memory is every chassis's."""
        if self._bare is None:
            self._bare = self.estimate(System.of(self.gpu, self.n, self.n_nodes, latencies=self.links))
        return self._bare

    def estimate(self, system: System) -> Estimate:
        if system not in self._estimates:
            work = work_system(self.execution, system)
            if work == system:
                self._estimates[system] = est.estimate(self.problem.model, self.execution, system, self.eff)
            else:  # the same work on a system that differs only where this task reads nothing: one estimate
                self._estimates[system] = self.estimate(work).model_copy(update={"system": system})
        return self._estimates[system]

    def rejection(self, chassis: str, findings: tuple[Finding, ...], total_usd: float | None = None) -> Rejection:
        return Rejection(
            gpu=self.gpu.id,
            n_gpus=self.n,
            n_nodes=self.n_nodes,
            chassis=chassis,
            findings=findings,
            total_price_usd=total_usd,
        )


class Composed(NamedTuple):
    """A shape composed in one chassis: the candidate the rules judge and its bill of materials."""

    candidate: Candidate
    lines: tuple[Line, ...]
    unpriced: tuple[str, ...]


def compose(shape: Shape, chassis: Chassis, estimate: Estimate | None = None) -> Composed | Finding:
    """Derive the shape's build in `chassis`, its bill and power, on `estimate` (default: the estimate on the build's
    own links and power cap); or the Finding that says what part the catalog lacks."""
    built = shape.composer.built(shape.requirements, shape.gpu, shape.n, shape.n_nodes, chassis)
    if isinstance(built, Finding):
        return built
    build, (lines, subtotal, unpriced), draw = built
    candidate = Candidate(
        build=build,
        requirements=shape.requirements,
        power=draw,
        estimate=estimate or shape.estimate(System.from_build(build, shape.links)),
        constraints=shape.problem.constraints,
        subtotal_usd=subtotal,
        complete=not unpriced,
    )
    return Composed(candidate=candidate, lines=lines, unpriced=unpriced)


def outcome(shape: Shape, composed: Composed, findings: tuple[Finding, ...]) -> Outcome:
    """The Option of a build whose every rule passed, else the Rejection with the rules it failed."""
    candidate = composed.candidate
    failed = tuple(f for f in findings if not f.ok)
    if failed:
        # a near miss is ranked by a total that counts every part (None when one is unpriced)
        return shape.rejection(candidate.build.chassis.id, failed, candidate.total_usd)
    return Option(candidate=candidate, lines=composed.lines, unpriced=composed.unpriced, findings=findings)


def judge(shape: Shape, composed: Composed) -> Outcome:
    """Every rule on the composed build: an Option, or the Rejection with the rules it failed."""
    return outcome(shape, composed, rules.check(composed.candidate))


def evaluate(shape: Shape, chassis: Chassis) -> Outcome:
    """Compose the shape in `chassis`, estimate it on that build and run every rule. Where no speed rule can fail
    (Shape.untimed), the rules that read no speed judge the build on the shape's bare estimate first: a rejection
    lists only the rules that failed, so a build failing one needs no estimate of its own (the same Rejection)."""
    if shape.untimed:
        return evaluate_untimed(shape, chassis)
    composed = compose(shape, chassis)
    if isinstance(composed, Finding):
        return shape.rejection(chassis.id, (composed,))
    return judge(shape, composed)


def evaluate_untimed(shape: Shape, chassis: Chassis) -> Outcome:
    """`evaluate` where no SPEED_RULES rule can fail: the UNTIMED_RULES on the bare estimate (they read the build
    and what every chassis's estimate of the shape shares), the speed rules on the build's own estimate only when
    those all pass; every finding in RULES order, as rules.check gives them."""
    composed = compose(shape, chassis, shape.bare)
    if isinstance(composed, Finding):
        return shape.rejection(chassis.id, (composed,))
    untimed = tuple(rule(composed.candidate) for rule in rules.UNTIMED_RULES)
    if not all(f.ok for f in untimed):
        return outcome(shape, composed, untimed)
    own = composed.candidate.model_copy(
        update={"estimate": shape.estimate(System.from_build(composed.candidate.build, shape.links))}
    )
    judged = dict(zip(rules.UNTIMED_RULES, untimed, strict=True))
    findings = tuple(judged[rule] if rule in judged else rule(own) for rule in rules.RULES)
    return outcome(shape, composed._replace(candidate=own), findings)


def screen(shape: Shape, chassis: Chassis) -> Outcome | None:
    """`evaluate` for a search that keeps only the passing builds: the build rules first, on the estimate the shape
    already has (they read none); None when one fails, else the build estimated on its own links and judged by
    every rule, as `evaluate` judges it."""
    composed = compose(shape, chassis, shape.bare)
    if isinstance(composed, Finding) or not rules.build_passes(composed.candidate):
        return None
    own = shape.estimate(System.from_build(composed.candidate.build, shape.links))
    return judge(shape, composed._replace(candidate=composed.candidate.model_copy(update={"estimate": own})))


# Why a baseboard GPU finds no chassis: HGX boards carry 4 or 8 SXM GPUs of one generation (NVIDIA HGX 4- and 8-GPU
# boards); the OCP OAI Universal Baseboard (UBB) hosts up to eight OAMs in a fully connected or hybrid-cube mesh
# (OAI-UBB / OAM v1.5 specifications, as summarised in the Open Acceleration Specification AI Server Design Guide
# 2023), and the platforms sold on it take 8 of one generation (chassis.csv gpu_counts; AMD Instinct MI300X).
BASEBOARDS = {
    "sxm": "HGX baseboards take one generation, in counts of 4 or 8",
    "oam": "OAM baseboards take one generation in counts of 8",
    "module": "Ascend NPU modules come on Atlas A2 boards of 8",  # chassis.csv rack-4u-atlas-800t-a2
}


def no_chassis(problem: Problem, gpu: Gpu, n: int) -> Finding:
    """The chassis_fit finding of a shape that no chassis holds."""
    form = f"{problem.constraints.form_factor} " if problem.constraints.form_factor else ""
    board = BASEBOARDS.get(gpu.form_factor)
    return Finding(
        rule="chassis_fit",
        ok=False,
        need=n,
        have=None,
        message=(
            f"no {form}chassis in chassis.csv is sold with {n} {gpu.form_factor.upper()} {gpu.arch} GPUs ({board})"
            if board
            else f"no {form}chassis in chassis.csv holds {n} {gpu.form_factor.upper()} GPUs"
        ),
        **said(
            "finding.no_chassis.board" if board else "finding.no_chassis",
            form=f"@word.form.{problem.constraints.form_factor}" if problem.constraints.form_factor else "",
            n=n,
            gpu_form=gpu.form_factor.upper(),
            arch=gpu.arch,
            board=f"@word.board.{gpu.form_factor}" if board else "",
        ),
    )


def judge_shape(shape: Shape, judge_one: Judge) -> tuple[list[Outcome], bool]:
    """`judge_one` on every chassis that holds the shape (evaluate, or screen: then only the passing builds and the
    rejections that passed the build rules come back); True when a chassis holds the shape and GPU memory is not
    what stopped it (a node that could serve: no cluster of this GPU is needed)."""
    problem, gpu, n = shape.problem, shape.gpu, shape.n
    boxes = chassis_for(problem, gpu, n)
    memory = shape.bare.memory  # the same on every chassis's links
    if boxes and not memory.fits:
        return [shape.rejection(boxes[0].id, (memory_finding(gpu, n * shape.n_nodes, memory),))], False
    if not boxes:  # no single node of this count exists, so it says nothing against clusters
        return [shape.rejection("-", (no_chassis(problem, gpu, n),))], False
    out: list[Outcome] = []
    for chassis in boxes:
        outcome = judge_one(shape, chassis)
        if outcome is None:
            continue
        out.append(outcome)
        if isinstance(outcome, Rejection) and any(f.rule == "gpu_memory" for f in outcome.findings):
            return out, False  # every chassis fails the same way: one rejection says it
    return out, True


def split_order(shapes: list[Shape]) -> list[Shape]:
    """One node's GPU count under its splits (replica_counts, the first one group over all GPUs; attention data
    parallel where attention_split allows it), in the
    order to judge them. Every split composes the same parts at the same price, so each objective ranks them by
    throughput: the legal split that fits and delivers strictly more than the single group on the bare system
    (System.of) goes first, the single group after it as the fallback (a split can fail a rule the group passes,
    e.g. a per-user speed target); the single group alone when none beats it."""
    base = shapes[0]
    floor = base.bare.throughput_tokens_per_s if base.bare.fits else 0.0
    better = [s for s in shapes[1:] if s.bare.fits and s.bare.throughput_tokens_per_s > floor]
    if not better:
        return [base]
    return [max(better, key=lambda s: s.bare.throughput_tokens_per_s), base]


def judge_splits(shapes: list[Shape], judge_one: Judge) -> tuple[list[Outcome], bool]:
    """judge_shape on the splits in split_order: the first that yields an Option, else the single group's outcomes,
    with the rejections of the splits tried before it where it passes nothing (a split that fits but misses a
    target says why better than the group's memory); True when GPU memory did not stop every split judged."""
    order = split_order(shapes)
    fits_any, tried = False, []
    for shape in order[:-1]:
        found, fits = judge_shape(shape, judge_one)
        fits_any |= fits
        if any(isinstance(o, Option) for o in found):
            return found, fits_any
        tried += found  # a split that fits but fails a rule: its rejections say why too
    found, fits = judge_shape(order[-1], judge_one)
    return (found if any(isinstance(o, Option) for o in found) else tried + found), fits_any or fits


def composer_for(problem: Problem, composer: Composer | None) -> Composer:
    """`composer` where it serves the problem (a relaxation of the problem it was made for), else a new one."""
    return composer if composer is not None and composer.serves(problem) else Composer(problem)


def walk(problem: Problem, judge_one: Judge, composer: Composer | None = None) -> Iterator[Outcome]:
    """Every GPU x {1, 2, 4, 8} in every chassis that holds them, each judged by `judge_one` under its best replica
    split (judge_splits); clusters of 2, 4 or 8 eight-GPU servers where one server cannot hold the model. Lazy: a
    caller may stop at the first Option."""
    c = problem.constraints
    max_gpus = c.max_gpus if c.max_gpus is not None else 10**6
    composer = composer_for(problem, composer)
    for gpu in candidates(problem):
        support = rules.execution_runs_on(problem.execution, gpu)
        if not support.ok:  # no build with this GPU can run the engine: one rejection says so
            yield Rejection(gpu=gpu.id, n_gpus=1, chassis="-", findings=(support,))
            continue
        fits_somewhere = False
        for n in (n for n in GPU_COUNTS if n <= max_gpus):
            splits = [Shape(problem, gpu, n, 1, composer, r) for r in replica_counts(problem, n, 1)]
            dpa = attention_split(problem, n, 1)
            if dpa is not None:  # attention data parallel: one more way to split the node
                splits.append(Shape(dpa, gpu, n, 1, composer))
            found, fits = judge_splits(splits, judge_one)
            yield from found
            fits_somewhere |= fits
        if fits_somewhere or not c.multi_node or c.form_factor == "tower":
            continue
        for k in (k for k in NODE_COUNTS if 8 * k <= max_gpus):
            found, fits = judge_shape(Shape(problem, gpu, 8, k, composer), judge_one)
            yield from found
            if fits:
                break


def search(problem: Problem, composer: Composer | None = None) -> tuple[list[Option], list[Rejection]]:
    """Every GPU x {1, 2, 4, 8} in every chassis that holds them; clusters of 2, 4 or 8 eight-GPU servers where one
    server cannot hold the model. Every build passing every rule, and every rejection with the rules it failed.
    (`composer`: one kept from a search of the problem this relaxes, where it serves.)"""
    outcomes = list(walk(problem, evaluate, composer))
    return ([o for o in outcomes if isinstance(o, Option)], [o for o in outcomes if isinstance(o, Rejection)])


def passing(problem: Problem, first: bool = False, composer: Composer | None = None) -> list[Option]:
    """search's passing builds, the same and in the same order, without estimating or fully judging a build that
    fails a build rule (the relaxations want only these); with `first`, up to the first one. (A build's GPU memory
    is the same in every chassis, so a shape's memory verdict, which decides where clusters are tried, is too.)"""
    found: list[Option] = []
    for outcome in walk(problem, screen, composer):
        if isinstance(outcome, Option):
            found.append(outcome)
            if first:
                break
    return found
