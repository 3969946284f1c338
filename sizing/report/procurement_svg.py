"""The HTML report's charts as inline SVG, drawn here (no plotting library): the busiest GPU's memory as a stacked
bar against the card, and the options' price against their throughput. Every text is escaped."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from markupsafe import escape

from .procurement import BuildFacts, MemoryFacts, ProcurementReport

if TYPE_CHECKING:
    from .procurement_format import Fmt

COLOURS = {
    "weights": "#3b6ea8",
    "kv_cache": "#6aa84f",
    "activations": "#e69138",
    "gradients": "#a64d79",
    "optimizer": "#8e7cc3",
    "overhead": "#999999",
    "reference": "#45818e",
    "reward": "#bf9000",
    "rollout": "#cc4125",
}
WIDTH = 640


def _text(x: float, y: float, text: str, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(text)}</text>'


def memory_chart(b: BuildFacts, f: Fmt) -> str:
    """The build's busiest GPU against its card."""
    m = b.memory
    title = f.t("chart.memory", gpu=b.gpu_name, used=f.gib(m.per_gpu_bytes), capacity=f.gib(m.capacity_bytes))
    return memory_bar(m, title, f)


def phase_charts(r: ProcurementReport, f: Fmt) -> list[str]:
    """A distillation's phases, each one's busiest GPU against the card (none for other reports)."""
    return [
        memory_bar(
            p.memory,
            f.t(
                "chart.phase_memory",
                phase=f.t(f"phase.{p.name}"),
                used=f.gib(p.memory.per_gpu_bytes),
                capacity=f.gib(p.memory.capacity_bytes),
            ),
            f,
        )
        for p in (r.distill.phases if r.distill else ())
    ]


def memory_bar(m: MemoryFacts, title: str, f: Fmt) -> str:
    """One bar, the card's memory wide: each part of the busiest GPU's need, the engine's usable share dashed."""
    scale = max(m.capacity_bytes, m.per_gpu_bytes)
    bar_w, top, height = WIDTH - 20, 30, 28
    parts, x = [], 10.0
    for share in m.shares:
        w = bar_w * share.bytes / scale
        colour = COLOURS.get(share.part, "#cccccc")
        tip = f"{f.t('mem.' + share.part)}: {f.gib(share.bytes)}"
        parts.append(
            f'<rect x="{x:.1f}" y="{top}" width="{w:.1f}" height="{height}" fill="{colour}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        x += w
    usable_x = 10 + bar_w * m.usable_bytes / scale
    legend = []
    for i, share in enumerate(m.shares):
        lx, ly = 10 + (i % 3) * 210, top + height + 22 + (i // 3) * 18
        legend.append(f'<rect x="{lx}" y="{ly - 10}" width="10" height="10" fill="{COLOURS.get(share.part, "#ccc")}"/>')
        legend.append(_text(lx + 14, ly, f"{f.t('mem.' + share.part)} {f.gib(share.bytes)}"))
    rows = math.ceil(len(m.shares) / 3)
    total_h = top + height + 22 + rows * 18
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {total_h}" '
        f'width="{WIDTH}" height="{total_h}">'
        f"<title>{escape(title)}</title>"
        + _text(10, 18, title, ' class="ct"')
        + f'<rect x="10" y="{top}" width="{bar_w}" height="{height}" fill="#f2f2f2" stroke="#666"/>'
        + "".join(parts)
        + f'<line x1="{usable_x:.1f}" y1="{top - 4}" x2="{usable_x:.1f}" y2="{top + height + 4}" stroke="#c00" '
        f'stroke-dasharray="4 2"><title>{escape(f.t("mem.usable"))}: {escape(f.gib(m.usable_bytes))}</title></line>'
        + "".join(legend)
        + "</svg>"
    )


def _axis(hi: float, n: int = 4) -> tuple[float, list[float]]:
    """A round axis maximum at or above `hi` and its ticks: steps of 1, 2, 2.5 or 5 times a power of ten."""
    raw = max(hi, 1e-9) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    top = step * math.ceil(hi / step - 1e-9)
    return top, [i * step for i in range(round(top / step) + 1)]


def options_chart(r: ProcurementReport, f: Fmt) -> str:
    """Price (x) against throughput (y) for the first options; #1 dark, #2 orange, a hollow mark where the price is
    a lower bound (a part unpriced)."""
    pts = r.chart
    left, right, top, bottom, height = 70, 40, 30, 40, 260
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    x_hi, x_ticks = _axis(max(p.price for p in pts) * 1.05 or 1.0)
    y_hi, y_ticks = _axis(max(p.throughput for p in pts) * 1.1 or 1.0)

    def px(v: float) -> float:
        return left + plot_w * v / x_hi

    def py(v: float) -> float:
        return top + plot_h * (1 - v / y_hi)

    out = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#666"/>']
    for v in x_ticks:
        out.append(
            f'<line x1="{px(v):.1f}" y1="{top + plot_h}" x2="{px(v):.1f}" y2="{top + plot_h + 4}" stroke="#666"/>'
        )
        out.append(_text(px(v), top + plot_h + 16, f.money0(v), ' text-anchor="middle" class="tick"'))
    for v in y_ticks:
        out.append(f'<line x1="{left - 4}" y1="{py(v):.1f}" x2="{left}" y2="{py(v):.1f}" stroke="#666"/>')
        out.append(_text(left - 6, py(v) + 4, f"{v:,.0f}", ' text-anchor="end" class="tick"'))
    for p in reversed(pts):
        colour = "#1f3b63" if p.rank == 1 else "#e69138" if p.rank == 2 else "#8c8c8c"
        fill = colour if p.complete else "none"
        tip = f"#{p.rank} {p.label}: {f.money0(p.price)}{'' if p.complete else '+'}, {f.rate(p.throughput)}"
        out.append(
            f'<circle cx="{px(p.price):.1f}" cy="{py(p.throughput):.1f}" r="{6 if p.rank <= 2 else 4}" '
            f'fill="{fill}" stroke="{colour}" stroke-width="2"><title>{escape(tip)}</title></circle>'
        )
        dx, anchor = (-8, "end") if p.rank == 1 else (8, "start")  # #1 and #2 often sit side by side
        out.append(_text(px(p.price) + dx, py(p.throughput) - 6, str(p.rank), f' text-anchor="{anchor}" class="tick"'))
    axis_y = f.t("chart.throughput_training" if r.workload.task != "inference" else "chart.throughput_inference")
    title = f.t("chart.options", n=len(pts))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}"><title>{escape(title)}</title>'
        + _text(left, 18, title, ' class="ct"')
        + "".join(out)
        + _text(left + plot_w / 2, height - 6, f.t("chart.price", currency=r.currency), ' text-anchor="middle"')
        + _text(
            14, top + plot_h / 2, axis_y, f' text-anchor="middle" transform="rotate(-90 14 {top + plot_h / 2:.1f})"'
        )
        + "</svg>"
    )
