"""`--model 7b`: a documented generic decoder with about that many parameters."""

from __future__ import annotations

import math
import re

from sizing.specs import ModelSpec, SizingError

# Generic stand-ins for `--model 7b`: a modern dense GQA decoder in the Llama-3 style (Llama 3 paper, Table 3:
# head_dim 128, 8 KV heads, SwiGLU FFN = 3.5 x hidden, 128,256-token vocabulary; tied embeddings below 4B as in
# Llama 3.2 1B/3B). Hidden size and heads grow with size as in Llama 3/3.1 and Qwen2.5; the layer count is then
# solved so the parameter count matches what was asked for.
GENERIC_LADDER: tuple[tuple[float, int, int], ...] = (
    # (up to this many parameters, hidden_size, n_heads)
    (0.3e9, 512, 8),
    (0.8e9, 1024, 8),
    (2.0e9, 2048, 16),
    (5.0e9, 3072, 24),
    (11e9, 4096, 32),
    (20e9, 5120, 40),
    (45e9, 6144, 48),
    (100e9, 8192, 64),
    (250e9, 12288, 96),
    (math.inf, 16384, 128),
)
GENERIC_VOCAB = 128256
GENERIC_HEAD_DIM = 128
GENERIC_CONTEXT = 131072
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([bm])$", re.IGNORECASE)


def generic_model(n_params: float) -> ModelSpec:
    """A documented generic architecture with about `n_params` parameters."""
    if not 100e6 <= n_params <= 5e12:  # also refuses inf, from a size with hundreds of digits
        shown = f"{n_params / 1e9:.4g}B" if math.isfinite(n_params) else ">1e308"
        raise SizingError(f"model size {shown} is outside 0.1B-5000B; give a size such as 7b or 70b")
    hidden, heads = next((h, nh) for limit, h, nh in GENERIC_LADDER if n_params <= limit)
    n_kv = min(8, max(1, heads // 4))  # Qwen2.5-0.5B: 14 heads / 2 KV; Llama 3: 32+ heads / 8 KV
    ffn = int(round(3.5 * hidden / 256) * 256)
    tied = n_params < 4e9
    embed = GENERIC_VOCAB * hidden * (1 if tied else 2)
    per_layer = 2 * hidden * heads * GENERIC_HEAD_DIM + 2 * hidden * n_kv * GENERIC_HEAD_DIM + 3 * hidden * ffn
    n_layers = max(1, round((n_params - embed) / per_layer))
    label = f"{n_params / 1e9:g}b"
    spec = ModelSpec(
        id=label,
        name=f"generic {label.upper()} decoder",
        family="generic",
        architecture="llama",
        n_params=n_params,
        n_layers=n_layers,
        hidden_size=hidden,
        n_heads=heads,
        n_kv_heads=n_kv,
        head_dim=GENERIC_HEAD_DIM,
        ffn_size=ffn,
        gated_mlp=True,
        vocab_size=GENERIC_VOCAB,
        tied_embeddings=tied,
        max_context_tokens=GENERIC_CONTEXT,
        source="generic Llama-3-style shape (sizing.modelspec.GENERIC_LADDER)",
    )
    assumed = (
        f"generic dense GQA decoder for '{label}': {n_layers} layers, hidden {hidden}, {heads} heads, "
        f"{n_kv} KV heads x {GENERIC_HEAD_DIM}, SwiGLU FFN {ffn}, vocab {GENERIC_VOCAB}"
        f"{', tied embeddings' if tied else ''} = {spec.derived_params / 1e9:.2f}B parameters; "
        "name a catalog model (`sizing models`) or a folder for its exact shape"
    )
    return spec.model_copy(update={"n_params": float(spec.derived_params), "assumed": assumed})


def parse_size(text: str) -> float | None:
    match = _SIZE.match(text.strip())
    if not match:
        return None
    return float(match.group(1)) * (1e9 if match.group(2).lower() == "b" else 1e6)
