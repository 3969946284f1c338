"""The build classes' part of `sizing recommend` (recommend/classes.py): CPU-only servers and edge boxes as a ranked
table with their memory layout, power and price, the recommended one's reasons and bill, the air-gapped additions
and the class notes; and their JSON."""

from __future__ import annotations

from sizing.specs import ClassOption, Recommendation
from sizing.units import fmt_bytes, fmt_money, fmt_rate, fmt_seconds, fmt_watts

from .say import bom_columns, kind_word, objective_word, price_kind_word, resay, say


def _money(usd: float, r: Recommendation) -> str:
    return fmt_money(usd * r.fx_rate, r.currency)


def class_price(o: ClassOption, r: Recommendation, lang: str = "en") -> str:
    if o.total_price_usd is not None:
        return _money(o.total_price_usd, r)
    return say(lang, "term.price.unpriced", subtotal=_money(o.subtotal_usd, r), n=len(o.unpriced))


def _memory(o: ClassOption, lang: str = "en") -> str:
    if o.build_class == "cpu":
        return say(
            lang,
            "term.class.memory_cpu",
            ram=fmt_bytes(o.ram_bytes),
            populated=o.channels_populated,
            channels=o.channels_total,
            bw=fmt_bytes(o.mem_bw_bytes_s),
        )
    pool = say(lang, "term.class.vram" if o.form_factor == "mini-pc" else "term.class.unified")
    return f"{fmt_bytes(o.ram_bytes)} {pool}, {fmt_bytes(o.mem_bw_bytes_s)}/s"


def _row(rank: int, o: ClassOption, r: Recommendation, lang: str = "en") -> list[str]:
    s = o.estimate.speed
    assert s is not None
    return [
        str(rank),
        o.build_class,
        o.name,
        _memory(o, lang),
        class_price(o, r, lang),
        f"{fmt_rate(s.decode_tokens_per_s)} / {fmt_rate(s.decode_tokens_per_s_total)}",
        fmt_seconds(s.time_to_first_token_one_user_s),
        fmt_watts(o.power_w),
        f"{o.noise_dba:g} dBA" if o.noise_dba else "-",
    ]


def classes_text(r: Recommendation, top: int = 5, bom: bool = False, lang: str = "en") -> list[str]:
    """Lines for the terminal: the class builds' table, the best one's reasons (and bill with `bom`), the
    air-gapped additions and the notes."""
    from .core import _table

    lines: list[str] = []
    if r.classes:
        objective = r.request.get("objective", "cost")
        rows = [_row(i + 1, o, r, lang) for i, o in enumerate(r.classes[:top])]
        title = say(
            lang, "term.class.title", n=len(rows), total=len(r.classes), objective=objective_word(lang, objective)
        )
        names = ("class", "machine", "memory", "price", "tok_user_total", "first_token", "power", "noise")
        columns = ["#", *(say(lang, f"term.class.col.{c}") for c in names)]
        lines += ["", _table(title, columns, rows).rstrip()]
        best = r.classes[0]
        lines.append(
            say(lang, "term.class.best", cls=best.build_class, name=best.name, price=class_price(best, r, lang))
        )
        lines += [f"  - {resay(lang, w)}" for w in best.reasons]
        lines += [f"  - {resay(lang, w)}" for w in best.estimate.notes if w != r.model.assumed]
        if best.estimate.launch_command:
            lines.append("  - " + say(lang, "term.run_it", command=best.estimate.launch_command))
        if bom:
            rows = [
                [
                    kind_word(lang, ln.kind),
                    ln.name,
                    str(ln.quantity),
                    _money(ln.unit_price_usd, r) if ln.unit_price_usd else say(lang, "term.bom.unpriced"),
                    _money(ln.line_total_usd, r) if ln.line_total_usd else "-",
                    f"{price_kind_word(lang, ln.price_kind) or '-'} {ln.price_date or ''}".strip()
                    + (say(lang, "term.bom.stale") if ln.stale else ""),
                ]
                for ln in best.lines
            ]
            title = say(lang, "term.bom.title_class", cls=best.build_class)
            lines += ["", _table(title, bom_columns(lang), rows).rstrip()]
    extra = [*r.offline, *r.class_notes]
    if extra:
        lines += [""] + [say(lang, "term.note", note=resay(lang, w)) for w in extra]
    return lines


def class_json(o: ClassOption) -> dict:
    from .core import estimate_json

    full = estimate_json(o.estimate)
    return {
        "build_class": o.build_class,
        "name": o.name,
        "form_factor": o.form_factor,
        "parts": [{**ln.model_dump(), "line_total_usd": ln.line_total_usd} for ln in o.lines],
        "total_price_usd": None if o.total_price_usd is None else round(o.total_price_usd, 2),
        "priced_subtotal_usd": round(o.subtotal_usd, 2),
        "unpriced_parts": list(o.unpriced),
        "ram_bytes": round(o.ram_bytes),
        "mem_bw_bytes_s": round(o.mem_bw_bytes_s),
        "n_sockets": o.n_sockets,
        "channels_populated": o.channels_populated,
        "channels_total": o.channels_total,
        "power_w": round(o.power_w),
        "noise_dba": o.noise_dba,
        "memory": full["memory"],
        "speed": full["speed"],
        "notes": list(o.notes),
        "reasons": list(o.reasons),
    }


def classes_json(r: Recommendation) -> dict:
    """The keys `recommend --json` adds when there are class builds, air-gapped additions or class notes."""
    out: dict = {}
    if r.classes:
        out["classes"] = [class_json(o) for o in r.classes]
    if r.offline:
        out["offline"] = list(r.offline)
    if r.class_notes:
        out["class_notes"] = list(r.class_notes)
    return out
