"""The recommender: enumerate legal (GPU, count, chassis) candidates, derive the other parts, check every rule on
the composed build, rank, and keep every rejected candidate with the rules it failed.

"Derive, then pick" (DESIGN.md): the cheapest CPU with enough lanes and cores, DIMMs that fill every channel,
drives that hold the working set, the smallest PSU set that passes; then `rules.check` judges the whole build.
Pure: takes the catalog object and the resolved workload, returns a Recommendation.
"""

from __future__ import annotations

from sizing import estimate as est
from sizing import rules
from sizing.specs import (
    Chassis,
    Constraints,
    Engine,
    Finding,
    Gpu,
    ModelSpec,
    Option,
    Precision,
    Recommendation,
    Rejection,
    Workload,
)
from sizing.units import fmt_bytes, fmt_money, fmt_rate, fmt_seconds, fmt_watts

from .derive import bill_of_materials, derive

GPU_COUNTS = (1, 2, 4, 8)
NODE_COUNTS = (2, 4, 8)  # clusters of 8-GPU servers, only where one server cannot hold the work


# ------------------------------------------------------------------------------------------------- ranking
def rank_key(o: Option, objective: str) -> tuple:
    gpu_unpriced = o.build.gpu.price_usd is None
    rate = max(o.estimate.speed.decode_tokens_per_s_total, 1e-9)
    if objective == "speed":
        return (-rate, gpu_unpriced, o.total_price_usd)
    if objective == "cost-per-token":
        return (gpu_unpriced, o.total_price_usd / rate, -rate)
    return (gpu_unpriced, o.total_price_usd, -rate)


def reasons(o: Option, rank: int, n_options: int, objective: str) -> tuple[str, ...]:
    b, e = o.build, o.estimate
    m, s = e.memory, e.speed
    total_gpus = b.n_gpus * b.n_nodes
    out = [
        f"{'best' if rank == 0 else f'#{rank + 1}'} of {n_options} passing builds by {objective}",
        f"{total_gpus} x {b.gpu.name}: needs {fmt_bytes(m.need_per_gpu_bytes)} of {fmt_bytes(m.gpu_memory_bytes)} per GPU "
        f"({e.engine.name}, {e.precision.id} weights, {e.workload.batch} users x "
        f"{e.workload.prompt_tokens + e.workload.new_tokens} tokens)",
        f"decode {fmt_rate(s.decode_tokens_per_s)} per user, {fmt_rate(s.decode_tokens_per_s_total)} in total; "
        f"first token after {fmt_seconds(s.time_to_first_token_s)}",
        f"{b.psu.name} x {b.n_psus} for {fmt_watts(b.sustained_w)} sustained; {fmt_watts(b.wall_w)} at the wall on "
        f"{b.circuit.label}",
    ]
    if o.unpriced:
        out.append(f"no dated public price for {', '.join(o.unpriced)}: the total counts only the priced parts")
    if b.gpu.price_kind in ("used", "quote"):
        out.append(f"the {b.gpu.name} price is a {b.gpu.price_kind} price ({b.gpu.price_date}): new cards may cost more")
    return tuple(out)


# ----------------------------------------------------------------------------------------------- the search
def candidates(catalog, c: Constraints) -> list[Gpu]:
    gpus = [g for g in catalog.gpus.values() if (not c.gpus or g.id in c.gpus) and g.id not in c.exclude]
    return sorted(gpus, key=lambda g: g.id)


def chassis_for(catalog, gpu: Gpu, n: int, c: Constraints) -> list[Chassis]:
    forms = {"tower": ("tower", "workstation"), "rack": ("rack",)}.get(c.form_factor or "", None)
    return [x for x in catalog.chassis.values() if x.max_gpus >= n and x.gpu_form_factor == gpu.form_factor
            and (forms is None or x.form_factor in forms)]


def evaluate(catalog, model: ModelSpec, engine: Engine, precision: Precision, kv: Precision, base: Workload,
             gpu: Gpu, n: int, n_nodes: int, c: Constraints, options: list[Option], rejected: list[Rejection]) -> bool:
    """Estimate n x gpu (x n_nodes), then build and check it in every chassis that can hold it. True if the model
    fits in GPU memory (whatever the other rules said)."""
    w = base.model_copy(update={"n_gpus": n, "n_nodes": n_nodes})
    e = est.estimate(model, gpu, engine, precision, kv, w, catalog.efficiency(engine.id, gpu.gpu_class))
    boxes = chassis_for(catalog, gpu, n, c)
    if not boxes:
        form = f"{c.form_factor} " if c.form_factor else ""
        rejected.append(Rejection(gpu=gpu.id, n_gpus=n, n_nodes=n_nodes, chassis="-", findings=(Finding(
            rule="chassis_fit", ok=False, need=n, have=None,
            message=f"no {form}chassis in chassis.csv holds {n} {gpu.form_factor.upper()} GPUs"),)))
        return True  # memory is not what stops it: no cluster would help
    memory_fits = True
    for chassis in boxes:
        build = derive(catalog, gpu, n, n_nodes, chassis, e, c)
        if isinstance(build, Finding):
            rejected.append(Rejection(gpu=gpu.id, n_gpus=n, n_nodes=n_nodes, chassis=chassis.id, findings=(build,)))
            continue
        lines, total, unpriced = bill_of_materials(build)
        findings = rules.check(build, e, c, total)
        failed = tuple(f for f in findings if not f.ok)
        if failed:
            memory_fits = memory_fits and all(f.rule != "gpu_memory" for f in failed)
            rejected.append(Rejection(gpu=gpu.id, n_gpus=n, n_nodes=n_nodes, chassis=chassis.id, findings=failed))
            if any(f.rule == "gpu_memory" for f in failed):
                break  # every chassis fails the same way: one rejection says it
            continue
        options.append(Option(build=build, lines=lines, total_price_usd=total, unpriced=unpriced, estimate=e,
                              findings=findings))
    return memory_fits


def search(catalog, model: ModelSpec, engine: Engine, precision: Precision, kv: Precision, base: Workload,
           c: Constraints) -> tuple[list[Option], list[Rejection]]:
    options: list[Option] = []
    rejected: list[Rejection] = []
    max_gpus = c.max_gpus or 10**6
    for gpu in candidates(catalog, c):
        support = rules.engine_runs_on(engine, gpu)
        if not support.ok:  # no build with this GPU can run the engine: one rejection says so
            rejected.append(Rejection(gpu=gpu.id, n_gpus=1, chassis="-", findings=(support,)))
            continue
        fits_somewhere = False
        for n in GPU_COUNTS:
            if n <= max_gpus:
                fits_somewhere |= evaluate(catalog, model, engine, precision, kv, base, gpu, n, 1, c, options,
                                           rejected)
        if fits_somewhere or not c.multi_node or c.form_factor == "tower":
            continue
        for k in NODE_COUNTS:  # one server cannot hold it: clusters of 8-GPU servers
            if 8 * k <= max_gpus and evaluate(catalog, model, engine, precision, kv, base, gpu, 8, k, c, options,
                                              rejected):
                break
    return options, rejected


FORM_ORDER = {"tower": 0, "workstation": 1, "rack": 2}


def chassis_key(o: Option, objective: str) -> tuple:
    """Within one (GPU, count, nodes) shape: the smallest chassis that holds the GPUs (an 8-GPU server for one GPU
    wastes money, power and rack space; chassis prices are mostly unconfirmed, so size decides), then the rank."""
    c = o.build.chassis
    return (c.max_gpus, FORM_ORDER[c.form_factor], rank_key(o, objective))


def best_per_shape(options: list[Option], objective: str) -> list[Option]:
    """The best chassis for each (GPU, count, nodes); the rest are the same machine in a bigger box."""
    best: dict[tuple[str, int, int], Option] = {}
    for o in options:
        key = (o.build.gpu.id, o.build.n_gpus, o.build.n_nodes)
        if key not in best or chassis_key(o, objective) < chassis_key(best[key], objective):
            best[key] = o
    return sorted(best.values(), key=lambda o: rank_key(o, objective))


def recommend(catalog, model: ModelSpec, engine: Engine, precision: Precision, kv: Precision, base: Workload,
              c: Constraints, request: dict | None = None) -> Recommendation:
    options, rejected = search(catalog, model, engine, precision, kv, base, c)
    ranked = best_per_shape(options, c.objective)
    ranked = [o.model_copy(update={"reasons": reasons(o, i, len(ranked), c.objective)}) for i, o in enumerate(ranked)]
    ways = () if ranked else ways_out(catalog, model, engine, precision, kv, base, c, rejected)
    return Recommendation(request=request or {}, workload=base, model=model, options=tuple(ranked),
                          rejected=tuple(rejected), ways_out=ways)


def ways_out(catalog, model: ModelSpec, engine: Engine, precision: Precision, kv: Precision, base: Workload,
             c: Constraints, rejected: list[Rejection]) -> tuple[str, ...]:
    """When nothing passes: the cheapest changes that would, each checked by a search."""
    out: list[str] = []
    failed = {f.rule for r in rejected for f in r.findings}
    if "budget" in failed and c.budget_usd:
        opts, _ = search(catalog, model, engine, precision, kv, base, c.model_copy(update={"budget_usd": None}))
        if opts:
            cheapest = min(opts, key=lambda o: o.total_price_usd)
            out.append(f"raise --budget to {fmt_money(cheapest.total_price_usd)} ({cheapest.build.n_gpus} x "
                       f"{cheapest.build.gpu.name}), the cheapest build that passes every other rule")
    if base.batch > 1:
        for users in (base.batch // 2, base.batch // 4, 1):
            if users >= 1 and search(catalog, model, engine, precision, kv,
                                     base.model_copy(update={"batch": users}), c)[0]:
                out.append(f"serve {users} concurrent users (--users {users}) instead of {base.batch}")
                break
    if base.prompt_tokens > 1024:
        shorter = base.model_copy(update={"prompt_tokens": max(256, base.prompt_tokens // 4)})
        if search(catalog, model, engine, precision, kv, shorter, c)[0]:
            out.append(f"a shorter context: --context {shorter.prompt_tokens + shorter.new_tokens}")
    smaller = {"llama.cpp": "q4_k_m"}.get(engine.id, "awq-int4")
    if precision.id != smaller and smaller in catalog.precisions and \
            catalog.precisions[smaller].family in engine.weight_families:
        p4 = catalog.precisions[smaller]
        if (p4.weight_bits or 16) < (precision.weight_bits or 16) and search(
                catalog, model, engine, p4, kv, base.model_copy(update={"precision": smaller}), c)[0]:
            out.append(f"a smaller quantization: --precision {smaller}")
    if c.gpus or c.exclude or c.max_gpus or c.form_factor:
        wider = c.model_copy(update={"gpus": (), "exclude": (), "max_gpus": None, "form_factor": None})
        opts, _ = search(catalog, model, engine, precision, kv, base, wider)
        if opts:
            best = min(opts, key=lambda o: rank_key(o, c.objective))
            out.append(f"another GPU or count: {best.build.n_gpus * best.build.n_nodes} x {best.build.gpu.id} "
                       f"({fmt_money(best.total_price_usd)}) passes without the GPU constraints")
    if not out:
        out.append("no change tried here makes a build pass; see the rejected list for each rule that failed")
    return tuple(out)
