"""Recommendations for a person (the ranked table, the reasons, the near misses and rejections, the bill of
materials) and the JSON objects of estimates and recommendations; an estimate's text is inference_text.py's."""

from __future__ import annotations

import json
from typing import Protocol

from sizing.specs import CATALOG_GAP, DistillPlan, Estimate, Finding, Option, Recommendation, RLPlan
from sizing.units import fmt_count, fmt_decimal_bytes, fmt_money, fmt_rate, fmt_seconds, fmt_watts

from .bands import approx, memory_range_json, ranges_json
from .classes import classes_json, classes_text
from .distill import distill_json
from .embed import embed_cells
from .hybrid import host_assumptions_json, host_memory_json
from .rl import rl_json
from .say import bom_columns, finding_text, kind_word, objective_word, price_kind_word, resay, say
from .training import estimate_memory_json, rounded, training_json

# the shape fields estimate --json repeats under assumptions (those a row leaves empty are left out)
SHAPE_KEYS = set(
    "n_layers hidden_size n_heads n_kv_heads head_dim ffn_size vocab_size n_experts n_active_experts kv_lora_rank "
    "sliding_window_tokens moe_layer_step expert_weight_bits n_vision_params n_linear_attn_layers index_topk".split()
)


def finding_json(f: Finding) -> dict:
    """A finding in --json: rule, ok, need, have and the English message as before, plus `message_key` and its
    `params` (the message catalog's key and fields, None and {} where the finding has none)."""
    return {**f.model_dump(exclude={"key", "params"}), "message_key": f.key, "params": dict(f.params)}


def estimate_json(e: Estimate) -> dict:
    """The stable output object (README.md, 'Machine-readable output')."""
    s, x = e.speed, e.execution
    out = {
        "fits": e.fits,
        "memory": {**estimate_memory_json(e), **host_memory_json(e), **memory_range_json(e)},
        "speed": ranges_json(rounded(s.model_dump(exclude=None if x.task == "embed" else {"sequences_per_s"})))
        if s
        else {},
        "targets": [finding_json(f) for f in e.targets],
        "targets_met": all(f.ok for f in e.targets),
        "time": {
            "decode_step": rounded(e.decode_step.model_dump(), 9) if e.decode_step else None,
            "prefill": rounded(e.prefill.model_dump(), 9) if e.prefill else None,
        },
        "assumptions": {
            "model": e.model.id,
            "shape": {k: v for k, v in e.model.model_dump(include=SHAPE_KEYS).items() if v is not None},
            "n_params": round(e.model.n_params),
            "n_active_params": round(e.model.derived_active_params),
            "gpu": e.system.gpu.id,
            "n_gpus": e.system.n_gpus,
            "engine": x.engine.id,
            "engine_version": x.engine.version,
            "split": x.engine.split,
            "precision": x.precision.id,
            "weight_bits": x.precision.weight_bits,
            "kv_precision": x.kv_precision.id,
            "batch": x.batch,
            "prompt_tokens": x.prompt_tokens,
            "new_tokens": x.new_tokens,
            "parallelism": x.parallelism.model_dump(),
            "links": {"gpu": e.system.gpu_link.model_dump(), "node": e.system.node_link.model_dump()},
            "gpu_power_limit_w": e.system.gpu_power_limit_w,
            "efficiency": e.efficiency.model_dump(exclude={"source", "n_rows", "band"}),
            "notes": list(e.notes),
            "launch_command": e.launch_command,
            **host_assumptions_json(e),
        },
    }
    return out if e.training is None else {**out, **training_json(e)}


def scenario_line(result: Estimate | RLPlan | tuple[DistillPlan, ...] | str) -> str:
    """One JSON line of `sizing estimate --scenarios`: the row's `sizing estimate --json` object (an estimate, the
    distillation plans, the RL step), or {"error": "line N: ..."}."""
    if isinstance(result, str):
        return json.dumps({"error": result})
    if isinstance(result, RLPlan):
        return json.dumps(rl_json(result))
    if isinstance(result, tuple):
        return json.dumps(distill_json(result))
    return json.dumps(estimate_json(result))


def option_json(o: Option) -> dict:
    b, e, p = o.build, o.estimate, o.power
    k = b.n_nodes
    storage = b.system_drive.capacity_bytes + (b.data_drive.capacity_bytes * b.n_data_drives if b.data_drive else 0)
    full = estimate_json(e)
    return {
        "gpu": b.gpu.id,
        "n_gpus": b.n_gpus * k,
        "n_gpus_per_node": b.n_gpus,
        "n_nodes": k,
        # tensor-parallel ways, pipeline stages, data-parallel replicas (estimate/replicas.py; training: dp ranks); ep
        # only where --ep splits the experts (estimate/expert.py), adp only under --dp-attention (dp_attention.py)
        "split": {
            "tp": (sp := e.execution.parallelism).tp,
            "pp": sp.pp,
            "replicas": sp.dp,
            **({"ep": sp.ep} if sp.ep > 1 else {}),
            **({"adp": sp.adp} if sp.adp > 1 else {}),
        },
        "chassis": b.chassis.id,
        "parts": [{**ln.model_dump(), "line_total_usd": ln.line_total_usd} for ln in o.lines],
        "total_price_usd": None if o.total_price_usd is None else round(o.total_price_usd, 2),
        "priced_subtotal_usd": round(o.subtotal_usd, 2),
        "unpriced_parts": list(o.unpriced),
        "stale_parts": [ln.id for ln in o.lines if ln.stale],
        "totals": {
            "vram_bytes": round(b.gpu.memory_bytes * b.n_gpus * k),
            "ram_bytes": round(b.ram_bytes * k),
            "cpu_cores": b.cpu.cores * b.n_cpus * k,
            "storage_bytes": round(storage * k),
        },
        "power": {
            "sustained_w": round(p.sustained_w * k),
            "psu_w": round(p.psu_capacity_w * k),
            "wall_w": round(p.wall_w * k),
            "gpu_power_limit_w": b.gpu_power_limit_w,
            "circuit": b.circuit.id,
            "n_circuits": p.n_circuits * k,
            "psu_redundancy": p.psu_redundancy,
            "n_psus": b.n_psus * k,
        },
        "memory": full["memory"],
        "speed": full["speed"],
        "time": full["time"],
        "findings": [finding_json(f) for f in o.findings],
        "reasons": list(o.reasons),
    }


def recommendation_json(r: Recommendation) -> dict:
    """The stable output of `sizing recommend --json` (README.md)."""
    x = r.execution
    return {
        "options": [option_json(o) for o in r.options],
        "rejected": [
            {
                "gpu": x.gpu,
                "n_gpus": x.n_gpus * x.n_nodes,
                "n_nodes": x.n_nodes,
                "chassis": x.chassis,
                "findings": [finding_json(f) for f in x.findings],
            }
            for x in r.rejected
        ],
        "workload": {
            "task": x.task,
            "engine": x.engine.id,
            "precision": x.precision.id,
            "kv_precision": x.kv_precision.id,
            "batch": x.batch,
            "prompt_tokens": x.prompt_tokens,
            "new_tokens": x.new_tokens,
            "model": r.model.id,
            "assumed": r.model.assumed,
        },
        "near_misses": [
            {
                "gpu": m.gpu,
                "n_gpus": m.n_gpus * m.n_nodes,
                "n_nodes": m.n_nodes,
                "chassis": m.chassis,
                "total_price_usd": m.total_price_usd,
                "failed": [f.rule for f in m.findings],
                "fix": m.findings[0].message,
            }
            for m in r.near_misses
        ],
        "ways_out": list(r.ways_out),
        "currency": {"code": r.currency, "usd_rate": r.fx_rate, "date": r.fx_date, "source": r.fx_source},
        "request": r.request,
        **classes_json(r),
    }


class Priced(Protocol):
    """What prices are shown in: a recommendation's currency and its rate from USD."""

    @property
    def currency(self) -> str: ...

    @property
    def fx_rate(self) -> float: ...


def _money(usd: float, r: Priced) -> str:
    return fmt_money(usd * r.fx_rate, r.currency)


def _price(o: Option, r: Priced, lang: str = "en") -> str:
    """The total, or the priced subtotal with '+' and the count of parts that have no usable price; ' stale' when a
    line's price is over 18 months old."""
    stale = say(lang, "term.price.stale") if any(ln.stale for ln in o.lines) else ""
    if o.total_price_usd is not None:
        return _money(o.total_price_usd, r) + stale
    return say(lang, "term.price.unpriced", subtotal=_money(o.subtotal_usd, r), n=len(o.unpriced)) + stale


def _speed_cells(o: Option, lang: str = "en") -> list[str]:
    """Inference: decode per user / total and first-token times; training: trained tokens/s and the step time."""
    s, tr = o.estimate.speed, o.estimate.training
    if tr is not None:
        return [fmt_rate(tr.train_tokens_per_s), fmt_seconds(tr.step_s)]
    assert s is not None
    if o.estimate.execution.task == "embed":
        return embed_cells(s, lang)
    return [  # with their bands, "~118 tok/s (95-140)", as estimate shows them (bands.approx)
        f"{approx(s.decode_tokens_per_s, s.decode_tokens_per_s_range, fmt_rate)} / "
        f"{approx(s.decode_tokens_per_s_total, s.decode_tokens_per_s_total_range, fmt_rate)}",
        f"{approx(s.time_to_first_token_one_user_s, s.time_to_first_token_one_user_s_range, fmt_seconds)} / "
        f"{approx(s.time_to_first_token_s, s.time_to_first_token_s_range, fmt_seconds)}",
    ]


def _split_cell(e: Estimate, lang: str = "en") -> str:
    """' as R x TP t' for an inference build serving as data-parallel replicas (estimate/replicas.py)."""
    p = e.execution.parallelism
    return say(lang, "term.row.split", dp=p.dp, tp=p.tp) if p.dp > 1 and e.training is None else ""


def _build_row(rank: int, o: Option, r: Recommendation, lang: str = "en") -> list[str]:
    b = o.build
    nodes = b.n_nodes
    drives = fmt_decimal_bytes(b.system_drive.capacity_bytes) + " NVMe"
    if b.data_drive:
        drives += f" + {b.n_data_drives} x {fmt_decimal_bytes(b.data_drive.capacity_bytes)}"
    return [
        str(rank),
        f"{b.n_gpus * nodes} x {b.gpu.id}"
        + (say(lang, "term.row.nodes", n=nodes) if nodes > 1 else "")
        + _split_cell(o.estimate, lang),
        f"{b.n_cpus} x {b.cpu.id}",
        f"{b.n_dimms} x {b.dimm.capacity_bytes / 2**30:.0f} GB DDR{b.dimm.ddr_gen}-{b.memory_speed_mt_s}",
        drives,
        f"{b.n_psus} x {fmt_watts(b.psu.watts)}",
        b.chassis.id,
        _price(o, r, lang),
        *_speed_cells(o),
        fmt_watts(o.power.wall_w * nodes),
    ]


def _rejected_lines(r: Recommendation, n_rejected: int, lang: str = "en") -> list[str]:
    """Shapes with no passing chassis, one line each: the first rule its first judged chassis failed (a catalog
    gap, a chassis whose parts the catalog lacks, says nothing about the shape)."""
    passed = {(o.build.gpu.id, o.build.n_gpus * o.build.n_nodes) for o in r.options}
    seen: set[tuple[str, int]] = set()
    out = [say(lang, "term.rejected", n=len(r.rejected))]
    for rj in r.rejected:
        key = (rj.gpu, rj.n_gpus * rj.n_nodes)
        judged = [f for f in rj.findings if f.rule != CATALOG_GAP]
        if not judged or key in passed or key in seen or len(seen) >= n_rejected:
            continue
        seen.add(key)
        out.append(f"  {rj.n_gpus * rj.n_nodes} x {rj.gpu}: {finding_text(lang, judged[0])}")
    return out


def _bom_lines(o: Option, r: Priced, lang: str = "en") -> list[str]:
    rows = [
        [
            kind_word(lang, ln.kind),
            ln.name,
            str(ln.quantity),
            _money(ln.unit_price_usd, r) if ln.unit_price_usd else say(lang, "term.bom.unpriced"),
            _money(ln.line_total_usd, r) if ln.line_total_usd else "-",
            f"{price_kind_word(lang, ln.price_kind) or '-'} {ln.price_date or ''}".strip()
            + (say(lang, "term.bom.stale") if ln.stale else "")
            + (f" ({ln.note})" if ln.note else ""),
        ]
        for ln in o.lines
    ]
    return [_table(say(lang, "term.bom.title"), bom_columns(lang), rows).rstrip()]


def recommendation_text(
    r: Recommendation, top: int = 5, bom: bool = False, n_rejected: int = 8, lang: str = "en"
) -> str:
    """One glance: the top builds in rank order (the recommended one first), why the top one, the near misses,
    the short rejected list and, with `bom`, the recommended build's priced bill of materials; in `lang`."""
    x, sp = r.execution, r.execution.speculative
    params = fmt_count(r.model.n_params, lang)
    lines = [
        say(
            lang,
            "term.recommend.head_training",
            model=r.model.name,
            params=params,
            task=x.task,
            trainer=x.training.trainer.name,
            precision=x.precision.id,
            batch=x.batch,
            tokens=x.prompt_tokens,
        )
        if x.training
        else say(
            lang,
            "term.recommend.head",
            model=r.model.name,
            params=params,
            engine=x.engine.id,
            precision=x.precision.id,
            users=x.batch,
            context=x.context_tokens,
            prompt=x.prompt_tokens,
            new=x.new_tokens,
        )
        + (
            say(lang, "term.recommend.speculative", method=sp.method, n=sp.n_draft, acceptance=f"{sp.acceptance:g}")
            if sp
            else ""
        )
    ]
    if r.model.assumed:
        lines.append(say(lang, "term.assumed", assumed=resay(lang, r.model.assumed)))
    if not r.options and not r.classes:
        lines += ["", say(lang, "term.recommend.none")]
        lines += ["  " + say(lang, "term.way_out", way=resay(lang, w)) for w in r.ways_out]
    elif r.options:
        objective = r.request.get("objective", "cost")
        rows = [_build_row(i + 1, o, r, lang) for i, o in enumerate(r.options[:top])]
        title = say(
            lang, "term.recommend.title", n=len(rows), total=len(r.options), objective=objective_word(lang, objective)
        )
        speed = (
            ("trained", "step")
            if x.training
            else ("embedded", "embed_time")
            if x.task == "embed"
            else ("tok_user_total", "first_token")
        )
        names = ("gpus", "cpu", "ram", "drives", "psu", "chassis", "price", *speed, "wall")
        columns = ["#", *(say(lang, f"term.col.{c}") for c in names)]
        lines.append(_table(title, columns, rows).rstrip())
        best = r.options[0]
        lines.append(
            say(
                lang,
                "term.recommended",
                n=best.build.n_gpus * best.build.n_nodes,
                gpu=best.build.gpu.name,
                chassis=best.build.chassis.name,
                price=_price(best, r, lang),
            )
        )
        lines += [f"  - {resay(lang, w)}" for w in best.reasons]
        notes = [
            finding_text(lang, f)
            for f in best.findings
            if f.rule in ("memory_speed", "wall_circuit", "gpu_communication", "pcie_lanes", "psu_capacity")
        ]
        lines += [f"  - {w}" for w in notes]
        lines += [f"  - {resay(lang, w)}" for w in best.estimate.notes if w != r.model.assumed]
        if best.estimate.launch_command:
            lines.append("  - " + say(lang, "term.run_it", command=best.estimate.launch_command))
        if bom:
            lines += [""] + _bom_lines(best, r, lang)
    lines += classes_text(r, top=top, bom=bom, lang=lang)
    if r.near_misses:
        lines += ["", say(lang, "term.near_misses")]
        lines += [
            f"  {m.n_gpus * m.n_nodes} x {m.gpu} "
            + say(lang, "term.near_miss", chassis=m.chassis, price=_money(m.total_price_usd or 0.0, r))
            + f": {m.findings[0].rule}: {finding_text(lang, m.findings[0])}"
            for m in r.near_misses
        ]
    if r.rejected:
        lines += [""] + _rejected_lines(r, n_rejected, lang)
    lines.append("")
    lines.append(
        say(lang, "term.prices")
        + (
            say(lang, "term.prices.fx", rate=r.fx_rate, currency=r.currency, date=r.fx_date)
            if r.currency != "USD"
            else ""
        )
    )
    return "\n".join(lines)


def _table(title: str, columns: list[str], rows: list[list[str]]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console = Console(width=160, record=True, force_terminal=False, color_system=None)
    with console.capture() as cap:
        console.print(table)
    return cap.get()
