"""Building a ProcurementReport from a Recommendation: a pure function over frozen objects. Amounts are converted
once into the recommendation's currency (its fx.csv rate) and rounded to cents line by line, so every subtotal and
total is the exact sum of the lines a buyer reads."""

from __future__ import annotations

from collections.abc import Sequence

import sizing  # the package's __version__ only
from sizing.specs import Base, Estimate, Option, Part, Recommendation, SizingError
from sizing.specs.training import TRAIN_BAND

from .core import recommendation_json
from .procurement import (
    BTU_H_PER_W,
    DECODE_BAND,
    DEFAULT_TARIFF_USD_PER_KWH,
    HOURS_PER_YEAR,
    TARIFF_SOURCE,
    TRANSIENT_FACTOR,
    Bom,
    BomLine,
    BuildFacts,
    ChartPoint,
    Facilities,
    KindTotal,
    MemoryFacts,
    MemoryShare,
    Noise,
    Ownership,
    Performance,
    ProcurementReport,
    ReportOptions,
    Workload,
)
from .procurement_checks import acceptance, launch_command, near_misses, rejected, risks

N_CHART = 12  # options drawn in the price / speed chart
SECONDS_PER_HOUR = 3600.0


class Terms(Base):
    """The figures every build is costed with."""

    fx_rate: float
    vat: float | None
    tariff: float  # report currency per kWh
    utilisation: float
    years: float


def _parts(o: Option) -> dict[str, Part]:
    b = o.build
    parts: dict[str, Part] = {p.id: p for _, p, _ in b.node_parts()}
    if b.switch:
        parts[b.switch.id] = b.switch
    return parts


def bom(o: Option, t: Terms) -> Bom:
    """The order's lines in the report's currency, the subtotal per kind of part, the total (None while a part has
    no usable price) and VAT on the priced lines."""
    parts = _parts(o)
    lines = []
    for ln in o.lines:
        part = parts.get(ln.id)
        unit = None if ln.unit_price_usd is None else round(ln.unit_price_usd * t.fx_rate, 2)
        lines.append(
            BomLine(
                kind=ln.kind,
                id=ln.id,
                name=ln.name,
                quantity=ln.quantity,
                unit_price=unit,
                line_total=None if unit is None else round(unit * ln.quantity, 2),
                price_kind=ln.price_kind,
                price_date=ln.price_date,
                price_source=part.price_source if part else None,
                stale=ln.stale,
                used=unit is not None and ln.price_kind == "used",
                note=ln.note,
                unconfirmed=part.unconfirmed if part else (),
            )
        )
    return bom_of(lines, t.vat)


def bom_of(lines: Sequence[BomLine], vat_rate: float | None = None, label: str = "id") -> Bom:
    """A bill of materials from its lines: the subtotal per kind, the priced subtotal, the total (None while a line
    has no usable price) and VAT on the priced lines; unpriced and stale lines named by `label` (id or name)."""
    kinds: dict[str, list[BomLine]] = {}
    for line in lines:
        kinds.setdefault(line.kind, []).append(line)
    by_kind = tuple(
        KindTotal(
            kind=kind,
            amount=round(sum(ln.line_total or 0.0 for ln in group), 2),
            n_unpriced=sum(ln.unit_price is None for ln in group),
        )
        for kind, group in kinds.items()
    )
    priced = round(sum(ln.line_total or 0.0 for ln in lines), 2)
    unpriced = tuple(getattr(ln, label) for ln in lines if ln.unit_price is None)
    total = None if unpriced else priced
    vat = None if vat_rate is None else round(priced * vat_rate, 2)
    return Bom(
        lines=tuple(lines),
        by_kind=by_kind,
        priced_subtotal=priced,
        total=total,
        vat_rate=vat_rate,
        vat=vat,
        total_with_vat=None if total is None else round(total + (vat or 0.0), 2),
        unpriced=unpriced,
        stale=tuple(getattr(ln, label) for ln in lines if ln.stale),
    )


def memory(o: Option) -> MemoryFacts:
    return memory_facts(o.estimate, o.build.ram_bytes)


def memory_facts(e: Estimate, ram_bytes: float | None = None) -> MemoryFacts:
    """An estimate's busiest GPU: each part of its memory against the card; with a host share (hybrid offload)
    what the host keeps of the build's RAM."""
    m = e.memory
    return MemoryFacts(
        shares=tuple(
            MemoryShare(part=k.removesuffix("_bytes"), bytes=v) for k, v in m.breakdown.model_dump().items() if v > 0
        ),
        per_gpu_bytes=m.per_gpu_bytes,
        need_bytes=m.need_per_gpu_bytes,
        usable_bytes=m.usable_per_gpu_bytes,
        capacity_bytes=m.gpu_memory_bytes,
        fits=m.fits,
        host_bytes=e.host.host_bytes if e.host else None,
        ram_bytes=ram_bytes if e.host else None,
    )


def performance(o: Option) -> Performance:
    e = o.estimate
    tr, s = e.training, e.speed
    if tr is not None:
        return Performance(
            task=e.execution.task,
            band=TRAIN_BAND,
            train_tokens_per_s=tr.train_tokens_per_s,
            step_s=tr.step_s,
            mfu=tr.model_flops_utilization,
            run_s=tr.total_s,
            gpu_hours=tr.gpu_hours,
            bound=tr.bound,
        )
    assert s is not None
    return Performance(
        task=e.execution.task,
        band=DECODE_BAND,
        decode_tokens_per_s=s.decode_tokens_per_s,
        decode_tokens_per_s_total=s.decode_tokens_per_s_total,
        prefill_tokens_per_s=s.prefill_tokens_per_s,
        ttft_one_user_s=s.time_to_first_token_one_user_s,
        ttft_all_users_s=s.time_to_first_token_s,
        bound=s.decode_bound,
    )


def noise(o: Option) -> Noise:
    """Server fans in a rack chassis (they move the GPUs' heat); a blower card exhausts out of a tower at the
    back, louder than open-air coolers; open-air cards in a tower are the quietest."""
    b = o.build
    if b.chassis.form_factor == "rack":
        return "server"
    return "blower" if b.gpu.cooling == "blower" else "open_air"


def facilities(o: Option, t: Terms) -> Facilities:
    """All nodes together: the draw, the supplies, the circuits, the heat (all of the wall draw ends up as heat in
    the room), the rack space, the noise and a year's energy at the utilisation (idle draw not counted)."""
    b, p = o.build, o.power
    k = b.n_nodes
    wall = p.wall_w * k
    kwh = wall / 1000 * HOURS_PER_YEAR * t.utilisation
    return Facilities(
        n_nodes=k,
        sustained_w=p.sustained_w * k,
        transient_w=(p.sustained_w + b.n_gpus * b.gpu.tdp_w * (TRANSIENT_FACTOR - 1)) * k,
        wall_w=wall,
        full_wall_w=p.full_wall_w * k,
        gpu_power_limit_w=b.gpu_power_limit_w,
        gpu_tdp_w=b.gpu.tdp_w,
        psu_name=b.psu.name,
        psu_w=b.psu.watts_at(b.circuit.volts),
        n_psus=b.n_psus * k,
        psu_capacity_w=p.psu_capacity_w * k,
        psu_efficiency=p.psu_efficiency,
        redundancy=p.psu_redundancy,
        circuit=b.circuit.label,
        circuit_continuous_w=b.circuit.continuous_w,
        n_circuits=p.n_circuits * k,
        heat_w=wall,
        heat_btu_h=wall * BTU_H_PER_W,
        form_factor=b.chassis.form_factor,
        rack_units=b.chassis.rack_units * k if b.chassis.rack_units and b.chassis.form_factor == "rack" else None,
        has_switch=b.switch is not None,
        noise=noise(o),
        energy_kwh_year=kwh,
        energy_cost_year=kwh * t.tariff,
    )


def ownership(parts: Bom, perf: Performance, fac: Facilities, t: Terms) -> Ownership:
    """Hardware (with VAT) plus energy over the period; per million decoded tokens at the utilisation, or per
    training run (its energy plus its share of the hardware's working hours over the period)."""
    complete = parts.total is not None
    hardware = parts.total_with_vat if parts.total_with_vat is not None else parts.priced_subtotal + (parts.vat or 0.0)
    energy_total = fac.energy_cost_year * t.years
    total = hardware + energy_total
    busy_h = t.years * HOURS_PER_YEAR * t.utilisation
    out = Ownership(
        hardware=hardware,
        complete=complete,
        energy_year=fac.energy_cost_year,
        energy_total=energy_total,
        total=total,
    )
    if perf.decode_tokens_per_s_total:
        tokens = perf.decode_tokens_per_s_total * SECONDS_PER_HOUR * busy_h
        return out.model_copy(
            update={
                "tokens_total": tokens,
                "cost_per_mtok": total / (tokens / 1e6),
                "energy_per_mtok": energy_total / (tokens / 1e6),
            }
        )
    if perf.run_s:
        hours = perf.run_s / SECONDS_PER_HOUR
        energy = fac.wall_w / 1000 * hours * t.tariff
        return out.model_copy(
            update={
                "run_s": perf.run_s,
                "energy_per_run": energy,
                "cost_per_run": energy + hardware * hours / busy_h,
                "runs_in_period": busy_h / hours,
            }
        )
    return out


def _link(o: Option) -> str:
    return "single" if o.build.n_gpus == 1 else o.estimate.system.gpu_link.kind


def build_facts(rank: int, r: Recommendation, o: Option, t: Terms) -> BuildFacts:
    b = o.build
    k = b.n_nodes
    parts = bom(o, t)
    perf = performance(o)
    fac = facilities(o, t)
    return BuildFacts(
        rank=rank,
        gpu_id=b.gpu.id,
        gpu_name=b.gpu.name,
        n_gpus=b.n_gpus * k,
        n_gpus_per_node=b.n_gpus,
        n_nodes=k,
        chassis_id=b.chassis.id,
        chassis_name=b.chassis.name,
        cpu=f"{b.n_cpus * k} × {b.cpu.name}",
        ram_bytes=b.ram_bytes * k,
        vram_bytes=b.gpu.memory_bytes * b.n_gpus * k,
        gpu_link=_link(o),
        bom=parts,
        memory=memory(o),
        performance=perf,
        facilities=fac,
        ownership=ownership(parts, perf, fac, t),
        launch=launch_command(o),
    )


def workload(r: Recommendation) -> Workload:
    x = r.execution
    tr = x.training
    return Workload(
        task=x.task,
        engine=x.engine.id,
        engine_name=x.engine.name,
        precision=x.precision.id,
        kv_precision=x.kv_precision.id,
        users=x.batch,
        prompt_tokens=x.prompt_tokens,
        new_tokens=x.new_tokens,
        trainer=tr.trainer.name if tr else None,
        sharding=tr.sharding if tr else None,
        optimizer=tr.optimizer if tr else None,
        recompute=tr.recompute if tr else None,
        grad_accum=tr.grad_accum if tr else None,
        tokens=tr.tokens if tr else None,
        epochs=tr.epochs if tr else None,
    )


def chart(r: Recommendation, t: Terms) -> tuple[ChartPoint, ...]:
    """Price (the total, or the priced subtotal as a lower bound) against throughput for the first options."""
    return tuple(
        ChartPoint(
            rank=i + 1,
            label=f"{o.build.n_gpus * o.build.n_nodes} × {o.build.gpu.id}",
            price=round((o.total_price_usd if o.total_price_usd is not None else o.subtotal_usd) * t.fx_rate, 2),
            complete=o.total_price_usd is not None,
            throughput=o.estimate.throughput_tokens_per_s,
        )
        for i, o in enumerate(r.options[:N_CHART])
    )


def _source(r: Recommendation) -> dict:
    """`sizing recommend --json` for the two builds shown (every rejected build stays in that command's output)."""
    shown = recommendation_json(r.model_copy(update={"options": r.options[:2], "rejected": ()}))
    return {k: v for k, v in shown.items() if k != "rejected"}


def terms(r: Recommendation, opts: ReportOptions) -> Terms:
    """The options' VAT, utilisation and years, and the tariff (the default converted) in the report's currency."""
    tariff = opts.tariff if opts.tariff is not None else DEFAULT_TARIFF_USD_PER_KWH * r.fx_rate
    return Terms(fx_rate=r.fx_rate, vat=opts.vat, tariff=tariff, utilisation=opts.utilisation, years=opts.years)


def build_report(r: Recommendation, options: ReportOptions | None = None) -> ProcurementReport:
    """The procurement report of a recommendation: the recommended build and the runner-up, costed with the
    options' VAT, tariff, utilisation and years; refuses a recommendation that no build passes."""
    opts = options or ReportOptions()
    if not r.options:
        ways = "; ".join(r.ways_out) or "relax the constraints"
        raise SizingError(f"no build passes every rule, so there is no build to report; ways out: {ways}")
    t = terms(r, opts)
    tariff = t.tariff
    best = build_facts(1, r, r.options[0], t)
    runner_up = build_facts(2, r, r.options[1], t) if len(r.options) > 1 else None
    return ProcurementReport(
        version=sizing.__version__,
        date=opts.date,
        command=opts.command,
        data=opts.data,
        currency=r.currency,
        fx_rate=r.fx_rate,
        fx_date=r.fx_date,
        fx_source=r.fx_source,
        vat=opts.vat,
        tariff=tariff,
        tariff_source="--tariff" if opts.tariff is not None else TARIFF_SOURCE,
        utilisation=opts.utilisation,
        years=opts.years,
        as_of=r.request.get("as_of") or opts.date,
        model_id=r.model.id,
        model_name=r.model.name,
        model_requested=str(r.request.get("model") or r.model.id),
        n_params=r.model.n_params,
        assumed=r.model.assumed,
        workload=workload(r),
        objective=str(r.request.get("objective", "cost")),
        n_options=len(r.options),
        recommended=best,
        runner_up=runner_up,
        chart=chart(r, t),
        risks=risks(r, r.options[0], best.bom, opts.tariff is not None),
        near_misses=near_misses(r),
        rejected=rejected(r),
        n_rejected=len(r.rejected),
        acceptance=acceptance(r, r.options[0]),
        source=_source(r),
    )
