"""Rendering: terminal tables (rich), Markdown/HTML (jinja2), spreadsheets (pandas). Heavy imports stay inside
the functions that need them so `sizing estimate` starts fast."""

from __future__ import annotations

from .specs import Estimate, Gpu, ModelSpec
from .units import fmt_bytes, fmt_count, fmt_money, fmt_rate, fmt_seconds


def estimate_text(e: Estimate) -> str:
    """A person-readable summary of one estimate (plain text, as rich renders it without colour)."""
    m, s, w = e.memory, e.speed, e.workload
    b = m.breakdown
    verdict = "fits" if e.fits else "DOES NOT FIT"
    lines = [
        f"{e.model.name} ({fmt_count(e.model.n_params)} params) on {w.n_gpus} x {e.gpu.name} with {e.engine.name}",
        f"  weights {e.precision.id} ({e.precision.weight_bits or 16:g} bits/weight), KV cache {e.kv_precision.id}, "
        f"batch {w.batch}, prompt {w.prompt_tokens} + new {w.new_tokens} tokens",
        "",
        f"Memory per GPU: {fmt_bytes(m.per_gpu_bytes)} of {fmt_bytes(m.gpu_memory_bytes)} -> {verdict}",
        f"  weights {fmt_bytes(b.weights_bytes)} | KV cache {fmt_bytes(b.kv_cache_bytes)} | "
        f"activations {fmt_bytes(b.activations_bytes)} | runtime overhead {fmt_bytes(b.overhead_bytes)}",
        f"  allocator peak (torch.cuda.max_memory_allocated) {fmt_bytes(m.allocated_per_gpu_bytes)}; "
        f"KV cache {fmt_bytes(m.kv_bytes_per_token)}/token; {m.max_batch_at_context} sequences of this length fit",
        "",
        f"Speed: prefill {fmt_rate(s.prefill_tokens_per_s)}, decode {fmt_rate(s.decode_tokens_per_s)} per sequence "
        f"({fmt_rate(s.decode_tokens_per_s_total)} total, {s.decode_bound}-bound), "
        f"end-to-end {fmt_rate(s.e2e_tokens_per_s)}, first token after {fmt_seconds(s.time_to_first_token_s)}",
    ]
    lines += [f"Note: {note}" for note in e.notes]
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


def models_table(models: list[ModelSpec]) -> str:
    rows = [[m.id, m.name, fmt_count(m.n_params), str(m.n_layers), str(m.hidden_size),
             f"{m.n_heads}/{m.n_kv_heads}", "MLA" if m.is_mla else ("MoE" if m.is_moe else "dense"),
             f"{m.max_context_tokens:,}"] for m in models]
    return _table(f"{len(models)} models", ["id", "name", "params", "layers", "hidden", "heads/kv", "kind",
                                            "context"], rows)


def gpus_table(gpus: list[Gpu]) -> str:
    rows = [[g.id, g.name, fmt_bytes(g.memory_bytes), f"{g.mem_bw_bytes_s / 1e9:,.0f} GB/s",
             f"{g.bf16_flops / 1e12:,.1f}", f"{g.tdp_w:,.0f} W", g.cooling,
             fmt_money(g.price_usd) if g.price_usd else "unconfirmed",
             "; ".join(g.unconfirmed) or "-"] for g in gpus]
    return _table(f"{len(gpus)} GPUs (dense BF16 TFLOPS, FP32 accumulate)",
                  ["id", "name", "memory", "bandwidth", "bf16 TFLOPS", "TDP", "cooling", "price", "unconfirmed"],
                  rows)
