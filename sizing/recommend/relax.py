"""Ways out when nothing passes: relaxations keyed by the rule that failed, each checked by a search, as a
resolver's failure carries its causes. A relaxation answers only the rules it can change."""

from __future__ import annotations

from collections.abc import Callable

from sizing.specs import Constraints, Execution, Objective, Option, Precision, Rejection
from sizing.units import fmt_money

from .derive import Composer
from .provider import Problem
from .rank import best_per_shape
from .search import NODE_COUNTS, Shape, candidates, judge_shape, passing, screen

MAX_QUANT_TRIES = 3  # smaller weight formats tried, closest to the current bits first
MAX_USERS_TRIED = 1024  # concurrent sequences a throughput target may ask for


def best_with(p: Problem, kept: Composer, objective: Objective, **changes: object) -> Option | None:
    """The best build by `objective` when the constraints change so (the best chassis per shape, as ranked)."""
    found = passing(p._replace(constraints=p.constraints.model_copy(update=changes)), composer=kept)
    best = best_per_shape(found, objective)
    return best[0] if best else None


def passes(
    p: Problem, kept: Composer, execution: Execution | None = None, constraints: Constraints | None = None
) -> bool:
    """Whether any build passes when the execution or the constraints change so."""
    changed = p._replace(execution=execution or p.execution, constraints=constraints or p.constraints)
    return bool(passing(changed, first=True, composer=kept))


def price_text(o: Option) -> str:
    total = o.total_price_usd
    return fmt_money(total) if total is not None else f"{fmt_money(o.subtotal_usd)} + unpriced parts"


def raise_budget(p: Problem, kept: Composer) -> str | None:
    cheapest = best_with(p, kept, "cost", budget_usd=None)
    if cheapest is None or cheapest.total_price_usd is None:  # ranked first: no fully priced build passes
        return None
    return (
        f"raise --budget to {fmt_money(cheapest.total_price_usd)} ({cheapest.build.n_gpus} x "
        f"{cheapest.build.gpu.name}), the cheapest build that passes every other rule"
    )


def fewer_users(p: Problem, kept: Composer) -> str | None:
    batch = p.execution.batch
    for users in sorted({max(1, batch // 2), max(1, batch // 4), 1}, reverse=True):
        if users < batch and passes(p, kept, execution=p.execution.model_copy(update={"batch": users})):
            if p.execution.training is not None:
                return f"a micro-batch of {users} per GPU (--batch {users}; --grad-accum keeps the step's tokens)"
            return f"serve {users} concurrent users (--users {users}) instead of {batch}"
    return None


def more_users(p: Problem, kept: Composer) -> str | None:
    """A total-throughput target is met by more sequences in flight: decode reads the weights once per step for the
    whole batch (roofline), so the total grows with the batch until compute or memory binds."""
    batch = p.execution.batch
    for users in (batch * 2, batch * 4, batch * 8, batch * 16):
        if users <= MAX_USERS_TRIED and passes(p, kept, execution=p.execution.model_copy(update={"batch": users})):
            return f"serve {users} concurrent users (--users {users}): total decode grows with the batch"
    return None


def shorter_context(p: Problem, kept: Composer) -> str | None:
    x = p.execution
    if x.prompt_tokens <= 1024:
        return None
    shorter = x.model_copy(update={"prompt_tokens": max(256, x.prompt_tokens // 4)})
    if passes(p, kept, execution=shorter):
        if x.training is not None:
            return f"shorter training sequences: --seq-len {shorter.prompt_tokens}"
        return f"a shorter context: --context {shorter.context_tokens}"
    return None


def smaller_formats(p: Problem) -> list[Precision]:
    """Weight formats the engine runs at a smaller whole number of bits than the current one (8, 6, 4 ...: scales
    and zero points make 8.19 and 8.0 the same step), one per step, closest first, in catalog order within a step.
    Full training has none: every weight trains in 16 bits (a quantized base is --task qlora)."""
    x = p.execution
    if x.task in ("full-finetune", "pretrain"):
        return []
    bits = round(x.precision.weight_bits or 16.0)
    by_bits: dict[int, Precision] = {}
    for q in p.parts.precisions.values():
        if q.family in x.engine.weight_families and q.weight_bits and round(q.weight_bits) < bits:
            by_bits.setdefault(round(q.weight_bits), q)
    return [by_bits[b] for b in sorted(by_bits, reverse=True)][:MAX_QUANT_TRIES]


def smaller_quantization(p: Problem, kept: Composer) -> str | None:
    for q in smaller_formats(p):
        if passes(p, kept, execution=p.execution.model_copy(update={"precision": q})):
            return f"a smaller quantization: --precision {q.id}"
    return None


def wider_gpus(p: Problem, kept: Composer) -> str | None:
    c = p.constraints
    if not (c.gpus or c.exclude or c.max_gpus or c.form_factor):
        return None
    best = best_with(p, kept, c.objective, gpus=(), exclude=(), max_gpus=None, form_factor=None)
    if best is None:
        return None
    return (
        f"another GPU or count: {best.build.n_gpus * best.build.n_nodes} x {best.build.gpu.id} "
        f"({price_text(best)}) passes without the GPU constraints"
    )


def other_cpu(p: Problem, kept: Composer) -> str | None:
    """A --cpu allow-list limits the platforms to the chassis.csv rows of its CPUs' sockets; when it is what blocks
    every build, the best build without it, and whether the socket is the cause (the best build sits on another
    socket, so no chassis of the allowed socket passes with those CPUs) or the CPUs themselves (same socket)."""
    c = p.constraints
    if not c.cpus:
        return None
    best = best_with(p, kept, c.objective, cpus=())
    if best is None:
        return None
    b = best.build
    cpus, n = ",".join(c.cpus), b.n_gpus * b.n_nodes
    sockets = sorted({x.socket for i in c.cpus if (x := p.parts.cpus.get(i)) is not None})
    if b.cpu.socket in sockets:
        return f"another CPU: without --cpu {cpus}, {n} x {b.gpu.id} on {b.cpu.id} ({price_text(best)}) passes"
    return (
        f"drop --cpu {cpus}: no chassis in chassis.csv for socket {'/'.join(sockets)} passes every rule with "
        f"{n} x {b.gpu.id}; without the CPU constraint {n} x {b.gpu.id} on {b.cpu.id} in {b.chassis.id} "
        f"({price_text(best)}) passes"
    )


def bigger_circuit(p: Problem, kept: Composer) -> str | None:
    c = p.constraints
    if c.circuit is None:
        return None
    now = p.parts.circuit(c.circuit).continuous_w
    for circuit in sorted(p.parts.circuits.values(), key=lambda x: x.continuous_w):
        if circuit.continuous_w > now and passes(p, kept, constraints=c.model_copy(update={"circuit": circuit.id})):
            return f"a bigger wall circuit: --circuit {circuit.id} ({circuit.label})"
    return None


DEADLINE_TOKEN_SHARES = (0.75, 0.5, 0.25)  # shares of the dataset tried for a deadline, largest first


def with_training(p: Problem, **changes: object) -> Execution:
    """The execution with its training set-up changed so."""
    t = p.execution.training
    assert t is not None
    return p.execution.model_copy(update={"training": t.model_copy(update=changes)})


def fewer_tokens(p: Problem, kept: Composer) -> str | None:
    """A deadline is met by training on less data: the run's time is linear in tokens x epochs."""
    t = p.execution.training
    if t is None or t.tokens is None:
        return None
    for share in DEADLINE_TOKEN_SHARES:
        tokens = t.tokens * share
        best = best_with_execution(p, kept, with_training(p, tokens=tokens))
        if best is not None:
            return (
                f"fewer tokens: --tokens {tokens:,.0f} ({share:.0%} of the data) meets the deadline on "
                f"{best.build.n_gpus * best.build.n_nodes} x {best.build.gpu.name} ({price_text(best)})"
            )
    return None


def lora_instead(p: Problem, kept: Composer) -> str | None:
    """A full fine-tune's deadline may be met by LoRA: no weight gradients (2N of the 6N FLOPs per token skipped)
    and a few adapters' optimizer states to save."""
    if p.execution.task != "full-finetune" or p.execution.training is None:
        return None
    if "lora" not in p.execution.training.trainer.tasks:
        return None
    best = best_with_execution(p, kept, p.execution.model_copy(update={"task": "lora"}))
    if best is None:
        return None
    return (
        f"--task lora instead of full-finetune meets the deadline on {best.build.n_gpus * best.build.n_nodes} x "
        f"{best.build.gpu.name} ({price_text(best)})"
    )


def more_nodes(p: Problem, kept: Composer) -> str | None:
    """A deadline no single server meets may be met by a cluster of 8-GPU servers (the search tries clusters only
    where one server cannot hold the model): the cheapest one that passes every rule."""
    c = p.constraints
    if c.form_factor == "tower" or not c.multi_node or p.execution.training is None:
        return None
    found: list[Option] = []
    for gpu in candidates(p):
        for k in (k for k in NODE_COUNTS if 8 * k <= (c.max_gpus or 10**6)):
            outcomes, _ = judge_shape(Shape(p, gpu, 8, k, kept), screen)
            passed = [o for o in outcomes if isinstance(o, Option)]
            if passed:
                found += passed
                break
    best = best_per_shape(found, "cost")
    if not best:
        return None
    b = best[0].build
    return f"a cluster: {b.n_nodes} x {b.n_gpus} x {b.gpu.name} ({price_text(best[0])}) meets the deadline"


def best_with_execution(p: Problem, kept: Composer, execution: Execution) -> Option | None:
    """The best build by the objective when the execution changes so."""
    best = best_per_shape(passing(p._replace(execution=execution), composer=kept), p.constraints.objective)
    return best[0] if best else None


def eight_bit_kv(p: Problem, kept: Composer) -> str | None:
    """An 8-bit KV cache (fp8 in vLLM/SGLang/TensorRT-LLM kv_cache_dtype, q8_0 in llama.cpp --cache-type-k/-v)
    halves the cache bytes a decode step reads and stores: it shortens decode and the prefills a first token
    queues behind, and frees memory for users and context."""
    x = p.execution
    if (x.kv_precision.weight_bits or 16) <= 8.5:
        return None
    for kv in ("fp8", "q8_0"):
        if kv in x.engine.kv_precisions and kv in p.parts.precisions:
            if passes(p, kept, execution=x.model_copy(update={"kv_precision": p.parts.precisions[kv]})):
                return f"an 8-bit KV cache: --kv-precision {kv}"
            return None
    return None


def looser_latency(p: Problem, kept: Composer) -> str | None:
    """The targets the builds can reach: the shortest first token and the fastest per-user decode among the builds
    that pass every other rule (each target on its own; one build need not reach both)."""
    c = p.constraints
    if c.max_ttft_s is None and c.min_user_tokens_per_s is None:
        return None
    loose = p._replace(constraints=c.model_copy(update={"max_ttft_s": None, "min_user_tokens_per_s": None}))
    speeds = [o.estimate.speed for o in passing(loose, composer=kept) if o.estimate.speed is not None]
    if not speeds:
        return None
    said = []
    if c.max_ttft_s is not None:
        said.append(f"--max-ttft-s {min(s.time_to_first_token_loaded_s for s in speeds):.3g}")
    if c.min_user_tokens_per_s is not None:
        said.append(f"--min-user-tokens-per-s {max(s.decode_tokens_per_s for s in speeds):.3g}")
    return f"looser latency targets: the builds that pass every other rule reach {' and '.join(said)}"


Relaxation = Callable[[Problem, Composer], str | None]  # `kept`: the first search's picks, builds and estimates
# In the order they are offered: the cheapest change to the request first.
RELAXATIONS: dict[str, Relaxation] = {
    "budget": raise_budget,
    "users": fewer_users,
    "more_users": more_users,
    "context": shorter_context,
    "quantization": smaller_quantization,
    "cpus": other_cpu,
    "gpus": wider_gpus,
    "circuit": bigger_circuit,
    "fewer_tokens": fewer_tokens,
    "lora": lora_instead,
    "nodes": more_nodes,
    "kv_8bit": eight_bit_kv,
    "latency": looser_latency,
}
# failed rule -> the relaxations that can make it pass
RELAX_FOR: dict[str, tuple[str, ...]] = {
    "budget": ("budget",),
    "gpu_memory": ("users", "context", "kv_8bit", "quantization", "gpus"),
    "tensor_parallel": ("gpus",),
    "engine_support": ("gpus",),
    "chassis_fit": ("gpus",),
    "cooling": ("gpus",),
    "target_speed": ("more_users", "gpus"),
    "wall_circuit": ("circuit", "gpus"),
    "psu_capacity": ("circuit", "gpus"),
    "psu_connectors": ("gpus",),
    "deadline": ("gpus", "nodes", "lora", "fewer_tokens"),
    "first_token": ("users", "context", "kv_8bit", "gpus", "latency"),
    "user_speed": ("users", "quantization", "kv_8bit", "gpus", "latency"),
}


def ways_out(p: Problem, rejected: list[Rejection], kept: Composer | None = None) -> tuple[str, ...]:
    """The changes, among those that answer a rule some candidate failed, that make a build pass (`kept`: the
    Composer of the search that found none, whose builds and estimates the relaxations' searches reuse)."""
    kept = kept or Composer(p)
    failed = {f.rule for r in rejected for f in r.findings}
    wanted = {name for rule in failed for name in RELAX_FOR.get(rule, ())}
    if p.constraints.cpus:  # a CPU allow-list narrows the platforms (their sockets), behind any rule a platform answers
        wanted.add("cpus")
    out = [way for name, relax in RELAXATIONS.items() if name in wanted and (way := relax(p, kept))]
    return tuple(out or ["no change tried here makes a build pass; see the rejected list for each rule that failed"])
