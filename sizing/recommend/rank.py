"""Ranking: by cost, speed or cost per token; the best chassis per shape; the reasons for each place."""

from __future__ import annotations

from sizing.specs import Chassis, Objective, Option
from sizing.units import fmt_bytes, fmt_money, fmt_rate, fmt_seconds, fmt_watts

from .prices import STALE_MARGIN, ranking_cost_usd, stale_usd

FORM_ORDER = {"tower": 0, "workstation": 1, "rack": 2}


def rank_key(o: Option, objective: Objective) -> tuple:
    """A build with an unpriced part has no total: it ranks after every fully priced build; among those, the ones
    whose GPU is priced and that have fewer unknowns first, then by the priced subtotal (a lower bound)."""
    unknown = (o.total_price_usd is None, o.build.gpu.price_usd is None, len(o.unpriced))  # False sorts first
    rate = max(o.estimate.throughput_tokens_per_s, 1e-9)
    cost = ranking_cost_usd(o.subtotal_usd, o.lines)  # stale lines count STALE_MARGIN dearer (prices.py)
    if objective == "speed":
        return (-rate, *unknown, cost)
    if objective == "cost-per-token":
        return (*unknown, cost / rate, -rate)
    return (*unknown, cost, -rate)


def size_class(c: Chassis) -> tuple[int, int]:
    return (c.max_gpus, FORM_ORDER[c.form_factor])


def chassis_key(o: Option, objective: Objective) -> tuple:
    """Within one (GPU, count, nodes) shape: a fully priced build by its rank (the cheapest box that passes,
    whatever its size, so a higher budget never picks a dearer one); one with unknown prices after those, in the
    smallest chassis that holds the GPUs (an 8-GPU server for one GPU wastes money, power and rack space, and an
    unknown price says nothing)."""
    incomplete = o.total_price_usd is None
    return (incomplete, size_class(o.build.chassis) if incomplete else (0, 0), rank_key(o, objective))


def best_per_shape(options: list[Option], objective: Objective) -> list[Option]:
    """The best chassis for each (GPU, count, nodes), ranked; the rest are the same machine in a bigger box."""
    best: dict[tuple[str, int, int], Option] = {}
    for o in options:
        key = (o.build.gpu.id, o.build.n_gpus, o.build.n_nodes)
        if key not in best or chassis_key(o, objective) < chassis_key(best[key], objective):
            best[key] = o
    return sorted(best.values(), key=lambda o: rank_key(o, objective))


def work_reasons(o: Option) -> list[str]:
    """What the GPUs do: memory against capacity, and the speed the buyer gets."""
    b, e = o.build, o.estimate
    m, s, x, tr = e.memory, e.speed, e.execution, e.training
    if tr is not None and x.training is not None:
        t = x.training
        run = f"; {fmt_seconds(tr.total_s)} for {t.tokens:,.0f} tokens x {t.epochs:g}" if tr.total_s else ""
        return [
            f"{b.n_gpus * b.n_nodes} x {b.gpu.name}: needs {fmt_bytes(m.need_per_gpu_bytes)} of "
            f"{fmt_bytes(m.gpu_memory_bytes)} per GPU ({x.task} with {t.trainer.name}, {x.precision.id}, micro-batch "
            f"{x.batch} x {x.prompt_tokens} tokens, {t.sharding}, {t.optimizer}, recompute {t.recompute})",
            f"trains {fmt_rate(tr.train_tokens_per_s)} over all GPUs, step {fmt_seconds(tr.step_s)} "
            f"({tr.bound}-bound){run}; host RAM for offloaded state {fmt_bytes(tr.host_bytes)} per node",
        ]
    assert s is not None
    if x.task == "embed":
        return [
            f"{b.n_gpus * b.n_nodes} x {b.gpu.name}: needs {fmt_bytes(m.need_per_gpu_bytes)} of "
            f"{fmt_bytes(m.gpu_memory_bytes)} per GPU ({x.engine.name}, {x.precision.id} weights, batch {x.batch} x "
            f"{x.prompt_tokens} tokens, one forward each)",
            f"embeds {fmt_rate(s.prefill_tokens_per_s)}, {s.sequences_per_s:,.1f} sequences/s; one batch takes "
            f"{fmt_seconds(s.time_to_first_token_s)}",
        ]
    return [
        f"{b.n_gpus * b.n_nodes} x {b.gpu.name}: needs {fmt_bytes(m.need_per_gpu_bytes)} of "
        f"{fmt_bytes(m.gpu_memory_bytes)} per GPU ({x.engine.name}, {x.precision.id} weights, {x.batch} users x "
        f"{x.context_tokens} tokens)",
        f"decode {fmt_rate(s.decode_tokens_per_s)} per user, {fmt_rate(s.decode_tokens_per_s_total)} in total; "
        f"first token after {fmt_seconds(s.time_to_first_token_one_user_s)} for one user's prompt, "
        f"{fmt_seconds(s.time_to_first_token_s)} when all {x.batch} prompts arrive together",
    ]


def reasons(o: Option, rank: int, n_options: int, objective: Objective) -> tuple[str, ...]:
    b, p = o.build, o.power
    out = [
        f"{'best' if rank == 0 else f'#{rank + 1}'} of {n_options} passing builds by {objective}",
        *work_reasons(o),
        f"{b.psu.name} x {b.n_psus} for {fmt_watts(p.capped_w)} sustained; {fmt_watts(p.wall_w)} at the wall on "
        f"{b.circuit.label}",
    ]
    if o.unpriced:
        out.append(
            f"no usable price for {', '.join(o.unpriced)}: this build has no total (the priced parts come to "
            f"{fmt_money(o.subtotal_usd)}) and cannot be held to a budget"
        )
    stale = [ln.id for ln in o.lines if ln.stale]
    if stale:
        out.append(
            f"stale prices (over 18 months old): {', '.join(stale)} ({fmt_money(stale_usd(o.lines))} of the total); "
            f"ranked as if they cost {STALE_MARGIN:.0%} more"
        )
    gpu_line = next(ln for ln in o.lines if ln.kind == "gpu")
    if gpu_line.unit_price_usd and gpu_line.price_kind in ("used", "quote", "msrp"):
        out.append(
            f"the {b.gpu.name} price is its {gpu_line.price_kind} price of {gpu_line.price_date}: "
            "new cards may cost more"
        )
    if b.gpu.software_stack != "cuda" and b.gpu.stack_note:  # the speeds assume the engine runs as it does on CUDA
        out.append(
            f"{b.gpu.name} is not a CUDA GPU: {b.gpu.stack_note}; check that your engine's build for it runs your "
            "model before ordering"
        )
    return tuple(out)


def ranked(options: list[Option], objective: Objective) -> list[Option]:
    """The best build per shape, best first, each with the reasons for its place."""
    best = best_per_shape(options, objective)
    return [o.model_copy(update={"reasons": reasons(o, i, len(best), objective)}) for i, o in enumerate(best)]
