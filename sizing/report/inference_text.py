"""The text of one inference estimate for a person (`sizing estimate`, in the reader's language) and of
`estimate --max`; a training estimate's text is training.py's."""

from __future__ import annotations

from sizing.specs import Estimate
from sizing.units import fmt_bytes, fmt_count, fmt_rate, fmt_seconds

from .bands import approx
from .embed import embed_lines
from .hybrid import host_lines
from .say import finding_text, has, resay, say
from .training import training_text


def estimate_text(e: Estimate, lang: str = "en") -> str:
    """A person-readable summary of one estimate (plain text, as rich renders it without colour), in `lang`."""
    if e.training is not None:
        return training_text(e, lang)
    m, s, x = e.memory, e.speed, e.execution
    assert s is not None
    b = m.breakdown
    verdict = say(lang, "term.fits" if e.fits else "term.does_not_fit")
    bits = x.precision.weight_bits or 16
    # routed experts in the checkpoint's own format, never wider than the run's (estimate/shapes.py expert_bits)
    experts = (
        say(lang, "term.estimate.experts", bits=f"{min(e.model.expert_weight_bits, bits):g}")
        if e.model.expert_weight_bits
        else ""
    )
    cpu_only = e.host is not None and e.host.n_gpus == 0
    device = say(lang, "term.cpu_alone") if cpu_only else f"{e.system.n_gpus_total} x {e.system.gpu.name}"
    params = fmt_count(e.model.n_params, lang)
    recipe = x.precision.recipe  # a per-tensor mix (data/quant_recipes.csv): its range of bits, not one number
    quantized = [r.bits_per_weight for r in recipe.rows if r.bits_per_weight < 16] if recipe is not None else []
    lines = [
        say(lang, "term.estimate.head", model=e.model.name, params=params, device=device, engine=x.engine.name),
        "  "
        + say(
            lang,
            "term.estimate.setup_recipe" if quantized else "term.estimate.setup",
            precision=x.precision.id,
            bits=f"{bits:g}",
            lo=f"{min(quantized, default=bits):g}",
            hi=f"{max(quantized, default=bits):g}",
            experts=experts,
            kv=x.kv_precision.id,
            batch=x.batch,
            prompt=x.prompt_tokens,
            new=x.new_tokens,
        ),
    ]
    if not cpu_only:
        lines += [
            "",
            say(
                lang,
                "term.estimate.memory",
                used=approx(m.per_gpu_bytes, m.per_gpu_bytes_range, fmt_bytes),
                capacity=fmt_bytes(m.gpu_memory_bytes),
                verdict=verdict,
            ),
            "  "
            + say(
                lang,
                "term.estimate.breakdown",
                weights=fmt_bytes(b.weights_bytes),
                kv=fmt_bytes(b.kv_cache_bytes),
                activations=fmt_bytes(b.activations_bytes),
                overhead=fmt_bytes(b.overhead_bytes),
            ),
            "  "
            + say(
                lang,
                "term.estimate.allocator",
                peak=fmt_bytes(m.allocated_per_gpu_bytes),
                kv_token=fmt_bytes(m.kv_bytes_per_token),
                n=m.max_batch_at_context,
            ),
        ]
    lines += host_lines(e, lang)
    if x.task == "embed":
        lines += ["", *embed_lines(e, lang)]
    else:
        lines += [
            "",
            say(
                lang,
                "term.estimate.speed",
                prefill=approx(s.prefill_tokens_per_s, s.prefill_tokens_per_s_range, fmt_rate),
                decode=approx(s.decode_tokens_per_s, s.decode_tokens_per_s_range, fmt_rate),
                total=approx(s.decode_tokens_per_s_total, s.decode_tokens_per_s_total_range, fmt_rate),
                bound=say(lang, f"term.bound.{s.decode_bound}"),
                e2e=fmt_rate(s.e2e_tokens_per_s),
                ttft=approx(s.time_to_first_token_s, s.time_to_first_token_s_range, fmt_seconds),
            ),
        ]
    if s.time_to_first_token_loaded_s and x.batch > 1 and x.task != "embed":
        lines.append(
            "  "
            + say(
                lang,
                "term.estimate.loaded",
                others=x.batch - 1,
                loaded=approx(s.time_to_first_token_loaded_s, s.time_to_first_token_loaded_s_range, fmt_seconds),
                alone=fmt_seconds(s.time_to_first_token_one_user_s),
            )
        )
    lines += [
        say(lang, "term.target.met" if f.ok else "term.target.missed", message=finding_text(lang, f)) for f in e.targets
    ]
    lines += [say(lang, "term.note", note=resay(lang, note)) for note in e.notes]
    if e.launch_command:
        lines += ["", say(lang, "term.run", command=e.launch_command)]
    return "\n".join(lines)


def largest_text(what: str, value: int, e: Estimate, lang: str = "en") -> str:
    """`estimate --max`: the answer in one line, then the estimate at it (or why nothing fits)."""
    where = f"{e.system.n_gpus_total} x {e.system.gpu.name}"
    shown = what if lang == "en" or not has(lang, f"term.what.{what}") else say(lang, f"term.what.{what}")
    if value < 1:
        return (
            say(lang, "term.largest.none", where=where, what=shown, estimate=estimate_text(e, lang))
            + "\n"
            + say(lang, "term.largest.try")
        )
    limit = say(lang, "term.largest.model_limit") if what != "users" and value == e.model.max_context_tokens else ""
    head = say(lang, "term.largest", what=shown, where=where, value=f"{value:,}", limit=limit)
    return f"{head}\n\n{estimate_text(e, lang)}"
