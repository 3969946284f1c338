"""The web calculator's page (`sizing serve`): the form and the answer, rendered from templates/web/ with the
report's own pieces (the procurement report's facts, its charts and its message catalogs), so the page says what
`sizing recommend` and `sizing report` say."""

from __future__ import annotations

from typing import Any, NamedTuple

from sizing.specs import DistillRecommendation, Recommendation, RLRecommendation

from .procurement import FORMATS, ReportOptions
from .procurement_build import build_report
from .procurement_format import templates_dir
from .procurement_view import View

AnyRecommendation = Recommendation | DistillRecommendation | RLRecommendation
N_ROWS = 10  # ranked builds the page lists


class FormField(NamedTuple):
    """One form control: its request field, the kind of control and, for a list, the catalog table it offers."""

    name: str  # a RecommendRequest field (or `lang`)
    control: str  # text, number, select or datalist
    choices: str | None = None  # a key of `choices`


# the options that matter to a buyer, in the order the form shows them
FIELDS: tuple[FormField, ...] = (
    FormField("model", "datalist", "models"),
    FormField("task", "select", "tasks"),
    FormField("engine", "select", "engines"),
    FormField("precision", "datalist", "precisions"),
    FormField("users", "number"),
    FormField("context", "number"),
    FormField("gpus_allowed", "datalist", "gpus"),
    FormField("budget", "number"),
    FormField("currency", "select", "currencies"),
    FormField("circuit", "select", "circuits"),
    FormField("form_factor", "select", "form_factors"),
    FormField("objective", "select", "objectives"),
    FormField("tokens", "text"),
    FormField("teacher", "datalist", "models"),
    FormField("lang", "select", "langs"),
)


class Row(NamedTuple):
    rank: int
    label: str
    price: str
    complete: bool
    speed: str
    wall: str


def _rows(r: Recommendation, f: View) -> list[Row]:
    """The ranked builds, as the terminal's table ranks them."""
    rows = []
    for i, o in enumerate(r.options[:N_ROWS]):
        b, e = o.build, o.estimate
        total = o.total_price_usd
        amount = (total if total is not None else o.subtotal_usd) * r.fx_rate
        label = f.t(
            "build.shape_nodes" if b.n_nodes > 1 else "build.shape",
            n=b.n_gpus * b.n_nodes,
            gpu=b.gpu.id,
            chassis=b.chassis.id,
            nodes=b.n_nodes,
        )
        price = f.money0(amount) if total is not None else f.t("web.lower_bound", amount=f.money0(amount))
        rows.append(
            Row(i + 1, label, price, total is not None, f.rate(e.throughput_tokens_per_s), f.watts(o.power.wall_w))
        )
    return rows


def _env() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(templates_dir() / "web"), str(templates_dir())]),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def answer(found: AnyRecommendation, text: str, lang: str, query: str, options: ReportOptions) -> str:
    """The answer block: for builds, the ranked table, the recommended build's memory chart, bill of materials,
    launch command, near misses and rejections, and the report downloads; for distillation and RL plans, the
    terminal's text of the plan. `text` is that terminal text (`sizing recommend`), `query` the request's URL query."""
    f = View(lang, getattr(found, "currency", "USD"))
    context: dict[str, Any] = {"t": f.t, "f": f, "query": query, "text": text, "formats": FORMATS, "lang": lang}
    if isinstance(found, Recommendation) and found.options:
        from markupsafe import Markup

        from .procurement_svg import memory_chart, options_chart

        rep = build_report(found, options)
        context |= {
            "r": rep,
            "rows": _rows(found, f),
            "memory_svg": Markup(memory_chart(rep.recommended, f)),
            "options_svg": Markup(options_chart(rep, f)),
        }
    else:
        context["r"] = None
    return str(_env().get_template("answer.html").render(**context))


def page(
    values: dict[str, str],
    choices: dict[str, tuple[str, ...]],
    lang: str,
    answer_html: str | None = None,
    error: str | None = None,
) -> str:
    """The whole page: the form filled with `values` (the request as the URL carries it), then the answer or the
    one-line error."""
    from markupsafe import Markup

    f = View(lang, values.get("currency") or "USD")
    return str(
        _env()
        .get_template("page.html")
        .render(
            t=f.t,
            lang=lang,
            fields=FIELDS,
            values=values,
            choices=choices,
            answer=Markup(answer_html) if answer_html is not None else None,
            error=error,
        )
    )


def error_block(message: str, lang: str) -> str:
    """The answer block of a refused request: the command line's one-line message."""
    f = View("zh" if lang == "zh" else "en", "USD")
    return str(_env().get_template("error.html").render(t=f.t, error=message))


def document(found: AnyRecommendation, fmt: str, lang: str, options: ReportOptions) -> bytes:
    """The procurement report of any recommendation (builds, a distillation or an RL loop) in `fmt`, as the bytes
    `sizing report` would write."""
    from .procurement_plans import recommendation_of, report_of
    from .procurement_render import check_format, render_file
    from .procurement_xlsx import option_rows

    check_format(fmt)
    built = report_of(found, options)
    return render_file(built, fmt, lang, option_rows(recommendation_of(found), built.fx_rate))
