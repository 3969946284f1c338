"""--task embed in the terminal: what an embedding / reranker server delivers (one forward per batch, nothing
decoded): embedded tokens/s, sequences/s, and the time of one batch and of one sequence alone."""

from __future__ import annotations

from sizing.specs import Estimate, SpeedEstimate
from sizing.units import fmt_rate, fmt_seconds

from .bands import approx

EMBED_COLUMNS = ("embedded tok/s", "1 sequence / batch")  # the recommend table's speed columns


def embed_lines(e: Estimate) -> list[str]:
    """--task embed: what an embedding / reranker server delivers (one forward per batch, nothing decoded)."""
    s, x = e.speed, e.execution
    assert s is not None
    return [
        f"Speed: embeds {approx(s.prefill_tokens_per_s, s.prefill_tokens_per_s_range, fmt_rate)}, "
        f"{s.sequences_per_s:,.1f} sequences/s of {x.prompt_tokens} tokens ({s.decode_bound}-bound); one batch of "
        f"{x.batch} takes {fmt_seconds(s.time_to_first_token_s)}, one sequence alone "
        f"{fmt_seconds(s.time_to_first_token_one_user_s)}",
    ]


def embed_cells(s: SpeedEstimate) -> list[str]:
    """The recommend table's speed cells: embedded tokens/s and sequences/s; one sequence alone / one batch."""
    return [
        f"{fmt_rate(s.prefill_tokens_per_s)} / {s.sequences_per_s:,.1f} seq/s",
        f"{fmt_seconds(s.time_to_first_token_one_user_s)} / {fmt_seconds(s.time_to_first_token_s)}",
    ]
