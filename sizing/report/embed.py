"""--task embed in the terminal: what an embedding / reranker server delivers (one forward per batch, nothing
decoded): embedded tokens/s, sequences/s, and the time of one batch and of one sequence alone."""

from __future__ import annotations

from sizing.specs import Estimate, SpeedEstimate
from sizing.units import fmt_rate, fmt_seconds

from .bands import approx
from .say import say


def embed_lines(e: Estimate, lang: str = "en") -> list[str]:
    """--task embed: what an embedding / reranker server delivers (one forward per batch, nothing decoded)."""
    s, x = e.speed, e.execution
    assert s is not None
    return [
        say(
            lang,
            "term.embed.speed",
            rate=approx(s.prefill_tokens_per_s, s.prefill_tokens_per_s_range, fmt_rate),
            seqs=f"{s.sequences_per_s:,.1f}",
            tokens=x.prompt_tokens,
            bound=say(lang, f"term.bound.{s.decode_bound}"),
            batch=x.batch,
            batch_s=fmt_seconds(s.time_to_first_token_s),
            one_s=fmt_seconds(s.time_to_first_token_one_user_s),
        )
    ]


def embed_cells(s: SpeedEstimate, lang: str = "en") -> list[str]:
    """The recommend table's speed cells: embedded tokens/s and sequences/s; one sequence alone / one batch."""
    return [
        say(lang, "term.embed.cell", rate=fmt_rate(s.prefill_tokens_per_s), seqs=f"{s.sequences_per_s:,.1f}"),
        f"{fmt_seconds(s.time_to_first_token_one_user_s)} / {fmt_seconds(s.time_to_first_token_s)}",
    ]
