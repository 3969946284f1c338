"""The procurement report of a CPU-only server or an edge box (recommend/classes.py ClassOption): a machine with no
GPU server's chassis, PSU and circuit, so its own sections: the bill, the memory the model reads (host RAM and its
channels, or the box's pool), the speed, the box's own power and noise, and the cost of ownership. Markdown and HTML
(templates/procurement_class.md|html), JSON (the model with its metadata), XLSX (procurement_class_xlsx.py) and PDF
(the HTML printed by Chromium, procurement_pdf.py), in every language the message catalogs have."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import computed_field

import sizing
from sizing.specs import Base, ClassOption, Recommendation

from .procurement import (
    DEFAULT_TARIFF_USD_PER_KWH,
    HOURS_PER_YEAR,
    TARIFF_SOURCE,
    Bom,
    BomLine,
    ReportOptions,
)
from .procurement_build import bom_of

SECONDS_PER_HOUR = 3600.0


class ClassLine(Base):
    kind: str
    name: str
    quantity: int
    unit_price: float | None = None
    line_total: float | None = None
    price_kind: str | None = None
    price_date: str | None = None
    stale: bool = False


class ClassFacts(Base):
    """One class build: the machine, its bill in the report's currency, memory, speed, power and ownership."""

    rank: int
    build_class: str
    name: str
    form_factor: str
    lines: tuple[ClassLine, ...]
    priced_subtotal: float
    total: float | None  # None: a part has no usable price
    unpriced: tuple[str, ...]
    memory_bytes: float  # installed RAM (CPU-only) or the box's memory pool (edge)
    need_bytes: float  # what the run keeps there: weights, cache, activations
    mem_bw_bytes_s: float
    n_sockets: int
    channels_populated: int
    channels_total: int
    decode_tokens_per_s: float
    decode_tokens_per_s_total: float
    prefill_tokens_per_s: float
    ttft_one_user_s: float
    power_w: float
    noise_dba: float | None
    energy_kwh_year: float
    energy_cost_year: float
    hardware: float  # the total, else the priced subtotal (a lower bound)
    tco_total: float
    cost_per_mtok: float | None
    launch: str | None
    reasons: tuple[str, ...]
    notes: tuple[str, ...]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def bom(self) -> Bom:
        """The bill as the GPU reports' Bom (procurement_build.bom): unit prices and line totals rounded to cents,
        the subtotal per kind, the total None while a part is unpriced; what the HTML table, the JSON and the XLSX
        formulas share. No VAT: the class report lists prices as the catalog has them."""
        lines = []
        for ln in self.lines:
            unit = None if ln.unit_price is None else round(ln.unit_price, 2)
            lines.append(
                BomLine(
                    kind=ln.kind,
                    id=ln.name,
                    name=ln.name,
                    quantity=ln.quantity,
                    unit_price=unit,
                    line_total=None if unit is None else round(unit * ln.quantity, 2),
                    price_kind=ln.price_kind,
                    price_date=ln.price_date,
                    stale=ln.stale,
                    used=unit is not None and ln.price_kind == "used",
                )
            )
        return bom_of(lines, label="name")


class ClassReport(Base):
    tool: str = "sizing"
    version: str
    date: str | None
    command: str | None
    data: str | None = None  # the catalog folder (None: the bundled data/)
    currency: str
    fx_rate: float
    model_name: str
    engine: str
    precision: str
    users: int
    prompt_tokens: int
    new_tokens: int
    objective: str
    tariff: float
    tariff_source: str
    utilisation: float
    years: float
    n_classes: int
    recommended: ClassFacts
    runner_up: ClassFacts | None
    class_notes: tuple[str, ...]


def _need_bytes(o: ClassOption) -> float:
    """What the run keeps in the memory the class build is sized by: host RAM where the estimate has a host side
    (CPU-only), else the device memory (an edge box's GPU or unified pool)."""
    e = o.estimate
    return e.host.host_bytes if e.host is not None else e.memory.need_per_gpu_bytes


def class_facts(rank: int, o: ClassOption, fx: float, opts: ReportOptions, tariff: float) -> ClassFacts:
    """The box's draw at full load for the utilisation's share of the year (idle draw not counted, as for GPU
    builds: procurement_build.facilities); tokens over the period at the decode throughput."""
    s = o.estimate.speed
    assert s is not None
    kwh = o.power_w / 1000 * HOURS_PER_YEAR * opts.utilisation
    hardware = (o.total_price_usd if o.total_price_usd is not None else o.subtotal_usd) * fx
    tco = hardware + kwh * tariff * opts.years
    tokens = s.decode_tokens_per_s_total * SECONDS_PER_HOUR * HOURS_PER_YEAR * opts.utilisation * opts.years
    return ClassFacts(
        rank=rank,
        build_class=o.build_class,
        name=o.name,
        form_factor=o.form_factor,
        lines=tuple(
            ClassLine(
                kind=ln.kind,
                name=ln.name,
                quantity=ln.quantity,
                unit_price=ln.unit_price_usd * fx if ln.unit_price_usd else None,
                line_total=ln.line_total_usd * fx if ln.line_total_usd else None,
                price_kind=ln.price_kind,
                price_date=ln.price_date,
                stale=ln.stale,
            )
            for ln in o.lines
        ),
        priced_subtotal=o.subtotal_usd * fx,
        total=None if o.total_price_usd is None else o.total_price_usd * fx,
        unpriced=o.unpriced,
        memory_bytes=o.ram_bytes,
        need_bytes=_need_bytes(o),
        mem_bw_bytes_s=o.mem_bw_bytes_s,
        n_sockets=o.n_sockets,
        channels_populated=o.channels_populated,
        channels_total=o.channels_total,
        decode_tokens_per_s=s.decode_tokens_per_s,
        decode_tokens_per_s_total=s.decode_tokens_per_s_total,
        prefill_tokens_per_s=s.prefill_tokens_per_s,
        ttft_one_user_s=s.time_to_first_token_one_user_s,
        power_w=o.power_w,
        noise_dba=o.noise_dba,
        energy_kwh_year=kwh,
        energy_cost_year=kwh * tariff,
        hardware=hardware,
        tco_total=tco,
        cost_per_mtok=tco / (tokens / 1e6) if tokens > 0 else None,
        launch=o.estimate.launch_command,
        reasons=o.reasons,
        notes=tuple(n for n in o.estimate.notes if n != o.estimate.model.assumed),
    )


def build_class_report(r: Recommendation, options: ReportOptions | None = None) -> ClassReport:
    """The report of the best class build and the runner-up (recommend/classes.py ranks them)."""
    opts = options or ReportOptions()
    tariff = opts.tariff if opts.tariff is not None else DEFAULT_TARIFF_USD_PER_KWH * r.fx_rate
    facts = [class_facts(i + 1, o, r.fx_rate, opts, tariff) for i, o in enumerate(r.classes[:2])]
    x = r.classes[0].estimate.execution  # the class build's own engine (llama.cpp where the named one cannot)
    return ClassReport(
        version=sizing.__version__,
        date=opts.date,
        command=opts.command,
        data=opts.data,
        currency=r.currency,
        fx_rate=r.fx_rate,
        model_name=r.model.name,
        engine=x.engine.name,
        precision=x.precision.id,
        users=x.batch,
        prompt_tokens=x.prompt_tokens,
        new_tokens=x.new_tokens,
        objective=str(r.request.get("objective", "cost")),
        tariff=tariff,
        tariff_source="--tariff" if opts.tariff is not None else TARIFF_SOURCE,
        utilisation=opts.utilisation,
        years=opts.years,
        n_classes=len(r.classes),
        recommended=facts[0],
        runner_up=facts[1] if len(facts) > 1 else None,
        class_notes=(*r.offline, *r.class_notes),
    )


def _context(report: ClassReport, lang: str, fmt: str) -> dict[str, Any]:
    from .procurement_format import Fmt
    from .procurement_render import _raw
    from .procurement_view import View

    f = View(lang, report.currency) if fmt == "html" else Fmt(lang, report.currency)  # HTML: parts.bom_table's flags
    return {"r": report, "f": f, "t": f.t, "raw": _raw, "lang": lang}


def render_class(report: ClassReport, lang: str = "en", fmt: str = "md") -> str:
    """The class report as Markdown, HTML (self-contained, autoescaped) or JSON (the model and its metadata, as the
    GPU reports' JSON: procurement_render.render), its words in `lang`."""
    from .procurement_render import _environment

    if fmt == "json":
        return json.dumps({"lang": lang, **report.model_dump(mode="json")}, indent=1, ensure_ascii=False) + "\n"
    if fmt not in ("md", "html"):
        raise ValueError(f"render_class writes md, html or json, not {fmt}; use class_file")
    template = _environment(fmt).get_template(f"procurement_class.{fmt}")
    return str(template.render(**_context(report, lang, fmt)))


def class_file(report: ClassReport, fmt: str, lang: str) -> bytes:
    """The class report's file in any of the five formats: text as UTF-8, XLSX (procurement_class_xlsx), PDF (the
    HTML printed by headless Chromium, procurement_pdf)."""
    if fmt == "xlsx":
        from .procurement_class_xlsx import class_workbook_bytes

        return class_workbook_bytes(report, lang)
    if fmt == "pdf":
        from .procurement_pdf import html_to_pdf

        return html_to_pdf(render_class(report, lang, "html"))
    return render_class(report, lang, fmt).encode("utf-8")


def save_class_report(r: Recommendation, out: Path, fmt: str, lang: str, options: ReportOptions) -> ClassReport:
    """Write the class report to `out` in `fmt` (md, html, xlsx, json, pdf) whole or not at all."""
    from .procurement_render import check_format, write_report

    check_format(fmt)
    built = build_class_report(r, options)
    write_report(class_file(built, fmt, lang), out)
    return built
