"""A minimal Llama-style decoder (random weights of a real model's shape, no download) and the prefill and
decode speeds measured with it. torch is imported inside functions, so importing this module is fast and works
without it."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sizing.specs import ModelSpec, SizingError
from sizing.units import GIB, fmt_bytes

from .measure import _check_workload, _device_kind, _timed, _torch, _torch_dtype
from .results import BenchRun

CPU_MAX_WEIGHT_BYTES = 4 * GIB  # refuse a CPU build larger than this rather than swap
RMS_EPS = 1e-5  # Llama 3 config.json rms_norm_eps
ROPE_THETA = 10000.0  # RoFormer (Su et al. 2021) base frequency
INIT_STD = 0.02  # HF initializer_range; the values only need to be finite


# ---------------------------------------------------------------------------------------- minimal decoder
@dataclass(eq=False)
class Decoder:
    """Random weights of `spec`'s shape and a static KV cache for `batch` sequences of up to `max_tokens`."""

    spec: ModelSpec
    layers: list[dict[str, Any]]
    embed: Any  # (vocab, hidden)
    norm: Any
    lm_head: Any  # the embedding itself when tied
    k_cache: Any  # (n_layers, batch, n_kv_heads, max_tokens, head_dim)
    v_cache: Any
    cos: Any  # (max_tokens, head_dim) RoPE tables
    sin: Any
    length: int = 0  # tokens held in the cache

    @property
    def batch(self) -> int:
        return int(self.k_cache.shape[1])

    @property
    def max_tokens(self) -> int:
        return int(self.k_cache.shape[3])


def cut(spec: ModelSpec, **update: int) -> ModelSpec:
    """The shape with fewer layers or a smaller vocabulary, its parameter count recounted from the new shape: the
    estimator sizes weights, gradients and optimizer states from `n_params`, which a bare model_copy would keep at
    the whole model's (a 4-layer slice of an 8B model estimated with 8B parameters' states)."""
    small = spec.model_copy(update=update)
    return small.model_copy(update={"n_params": float(small.derived_params)})


def decoder_bytes(spec: ModelSpec, dtype: str, batch: int, max_tokens: int) -> float:
    """Weights + static cache: parameters x bytes, plus K and V of n_kv_heads x head_dim per token per layer."""
    width = 4 if dtype == "f32" else 2
    cache = 2 * spec.n_layers * batch * max_tokens * spec.n_kv_heads * spec.head_dim
    return (spec.derived_params + cache) * width


def build_decoder(spec: ModelSpec, device: str, dtype: str, batch: int, max_tokens: int) -> Decoder:
    """A Llama-style decoder of `spec`'s shape (RMSNorm, GQA attention with optional q/k/v bias, SwiGLU or GELU
    MLP, RoPE) with random weights; dense GQA models only."""
    torch = _torch()
    kind = _device_kind(torch, device)
    td = _torch_dtype(torch, dtype)
    if spec.is_moe or spec.is_mla:
        raise SizingError(
            f"model '{spec.id}' is {'MoE' if spec.is_moe else 'MLA'}; the bench decoder builds dense "
            "GQA models only: pick one such as llama-3-8b or qwen2.5-7b"
        )
    if batch < 1 or max_tokens < 1:
        raise SizingError(f"batch {batch} and tokens {max_tokens} must be at least 1; raise them")
    need = decoder_bytes(spec, dtype, batch, max_tokens)
    free = torch.cuda.mem_get_info(torch.device(device))[0] if kind == "cuda" else CPU_MAX_WEIGHT_BYTES
    if need > free:
        raise SizingError(
            f"'{spec.id}' at batch {batch} x {max_tokens} tokens needs {fmt_bytes(need)} of weights and "
            f"cache, {fmt_bytes(free)} is free on {kind}; pick a smaller model, batch or fewer tokens"
        )
    h, nh, nkv, hd, ffn = spec.hidden_size, spec.n_heads, spec.n_kv_heads, spec.head_dim, spec.ffn_size

    def w(*shape: int) -> Any:
        return torch.empty(shape, dtype=td, device=device).normal_(0.0, INIT_STD)

    def ones(n: int) -> Any:
        return torch.ones(n, dtype=td, device=device)

    layers = []
    for _ in range(spec.n_layers):
        layer = {
            "attn_norm": ones(h),
            "mlp_norm": ones(h),
            "wq": w(nh * hd, h),
            "wk": w(nkv * hd, h),
            "wv": w(nkv * hd, h),
            "wo": w(h, nh * hd),
            "up": w(ffn, h),
            "down": w(h, ffn),
        }
        if spec.gated_mlp:
            layer["gate"] = w(ffn, h)
        if spec.attn_bias:
            layer.update(bq=w(nh * hd), bk=w(nkv * hd), bv=w(nkv * hd))
        if spec.mlp_bias:
            layer.update(b_up=w(ffn), b_down=w(h))
        layers.append(layer)
    embed = w(spec.vocab_size, h)
    # RoPE tables: angle p * theta^(-2i/d), the two halves rotated together (RoFormer eq. 34; HF rotate_half)
    inv_freq = ROPE_THETA ** (-torch.arange(0, hd // 2, dtype=torch.float32, device=device) * 2 / hd)
    angles = torch.outer(torch.arange(max_tokens, dtype=torch.float32, device=device), inv_freq)
    angles = torch.cat((angles, angles), dim=-1)[:, :hd]
    cache_shape = (spec.n_layers, batch, nkv, max_tokens, hd)
    return Decoder(
        spec=spec,
        layers=layers,
        embed=embed,
        norm=ones(h),
        lm_head=embed if spec.tied_embeddings else w(spec.vocab_size, h),
        k_cache=torch.zeros(cache_shape, dtype=td, device=device),
        v_cache=torch.zeros(cache_shape, dtype=td, device=device),
        cos=angles.cos().to(td),
        sin=angles.sin().to(td),
    )


def _rms_norm(torch: Any, x: Any, weight: Any) -> Any:
    """x / rms(x) * weight, computed in fp32 (Zhang & Sennrich 2019; HF LlamaRMSNorm)."""
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + RMS_EPS)).to(x.dtype) * weight


def _rope(torch: Any, x: Any, cos: Any, sin: Any) -> Any:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


@lru_cache(maxsize=4)
def _native_gqa(version: str) -> bool:
    """scaled_dot_product_attention takes enable_gqa from torch 2.5 (PyTorch 2.5 release notes)."""
    major, minor = (int(p) for p in re.findall(r"\d+", version)[:2])
    return (major, minor) >= (2, 5)


def _sdpa(torch: Any, q: Any, k: Any, v: Any, causal: bool) -> Any:
    """Scaled dot-product attention with grouped KV heads (GQA, Ainslie et al. 2023): native on torch >= 2.5,
    else K/V repeated per group as HF's repeat_kv does."""
    F = torch.nn.functional
    groups = q.shape[1] // k.shape[1]
    if groups > 1 and _native_gqa(str(torch.__version__)):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
    if groups > 1:
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def _sdpa_backends(torch: Any) -> contextlib.AbstractContextManager:
    """Flash, memory-efficient or math attention, not cuDNN: cuDNN builds a plan per shape, and a growing cache is
    a new shape every decode step (PyTorch 2.5 release notes: cuDNN SDPA is the Hopper default)."""
    attention = getattr(torch.nn, "attention", None)
    if attention is None or not hasattr(attention, "sdpa_kernel"):  # torch < 2.3
        return contextlib.nullcontext()
    b = attention.SDPBackend
    return attention.sdpa_kernel([b.FLASH_ATTENTION, b.EFFICIENT_ATTENTION, b.MATH])


@dataclass(frozen=True)
class _Step:
    """One forward call: the cache position its tokens start at and their RoPE rows."""

    start: int
    cos: Any  # (t, head_dim)
    sin: Any


def _attention(torch: Any, dec: Decoder, i: int, x: Any, step: _Step) -> Any:
    F = torch.nn.functional
    s, layer, start = dec.spec, dec.layers[i], step.start
    b, t, _ = x.shape
    q = F.linear(x, layer["wq"], layer.get("bq")).view(b, t, s.n_heads, s.head_dim).transpose(1, 2)
    k = F.linear(x, layer["wk"], layer.get("bk")).view(b, t, s.n_kv_heads, s.head_dim).transpose(1, 2)
    v = F.linear(x, layer["wv"], layer.get("bv")).view(b, t, s.n_kv_heads, s.head_dim).transpose(1, 2)
    if s.head_dim % 2 == 0:
        q, k = _rope(torch, q, step.cos, step.sin), _rope(torch, k, step.cos, step.sin)
    dec.k_cache[i, :, :, start : start + t] = k
    dec.v_cache[i, :, :, start : start + t] = v
    if start == 0:  # prefill from an empty cache: causal attention over the prompt itself
        out = _sdpa(torch, q, k, v, causal=t > 1)
    else:  # one new token against everything cached so far
        out = _sdpa(torch, q, dec.k_cache[i, :, :, : start + t], dec.v_cache[i, :, :, : start + t], causal=False)
    return F.linear(out.transpose(1, 2).reshape(b, t, s.n_heads * s.head_dim), layer["wo"])


def _mlp(torch: Any, layer: dict[str, Any], x: Any) -> Any:
    """SwiGLU: down(silu(gate x) * up x) (Shazeer 2020); else GELU with biases (GPT-2, StarCoder)."""
    F = torch.nn.functional
    if "gate" in layer:
        return F.linear(
            F.silu(F.linear(x, layer["gate"])) * F.linear(x, layer["up"], layer.get("b_up")),
            layer["down"],
            layer.get("b_down"),
        )
    return F.linear(F.gelu(F.linear(x, layer["up"], layer.get("b_up"))), layer["down"], layer.get("b_down"))


def forward(dec: Decoder, tokens: Any) -> Any:
    """Run `tokens` (batch, t) through the model, appending to the cache; fp32 logits of the last position only
    (as transformers' generate keeps: num_logits_to_keep=1). t > 1 only from an empty cache (prefill)."""
    torch = _torch()
    b, t = tokens.shape
    start = dec.length
    if b != dec.batch or start + t > dec.max_tokens or (start > 0 and t != 1):
        raise SizingError(
            f"cannot add {t} tokens x {b} sequences to a cache of {start}/{dec.max_tokens} x "
            f"{dec.batch}; prefill from empty, then decode one token at a time"
        )
    x = torch.nn.functional.embedding(tokens, dec.embed)
    step = _Step(start=start, cos=dec.cos[start : start + t], sin=dec.sin[start : start + t])
    with _sdpa_backends(torch):
        for i, layer in enumerate(dec.layers):
            x = x + _attention(torch, dec, i, _rms_norm(torch, x, layer["attn_norm"]), step)
            x = x + _mlp(torch, layer, _rms_norm(torch, x, layer["mlp_norm"]))
    dec.length = start + t
    return torch.nn.functional.linear(_rms_norm(torch, x[:, -1], dec.norm), dec.lm_head).float()


def _decoder_for(work: BenchRun, tokens: int, dec: Decoder | None) -> Decoder:
    if dec is None:
        return build_decoder(work.model_spec, work.device, work.dtype, work.batch, tokens)
    if dec.batch != work.batch or dec.max_tokens < tokens:
        raise SizingError(
            f"the decoder holds {dec.batch} x {dec.max_tokens} tokens, the run needs "
            f"{work.batch} x {tokens}; build one with build_decoder for this workload"
        )
    return dec


def measure_prefill(work: BenchRun, repeats: int = 3, decoder: Decoder | None = None) -> float:
    """Prompt tokens per second for the whole batch: one forward over `batch` prompts from an empty cache."""
    torch = _torch()
    device, prompt_tokens, batch = work.device, work.prompt_tokens, work.batch
    kind = _device_kind(torch, device)
    _check_workload(prompt_tokens, 1, batch)
    dec = _decoder_for(work, prompt_tokens, decoder)
    tokens = torch.randint(0, work.model_spec.vocab_size, (batch, prompt_tokens), device=device)

    def once() -> object:
        dec.length = 0  # the static cache is overwritten in place
        return forward(dec, tokens)

    return batch * prompt_tokens / _timed(torch, kind, once, repeats=repeats, warmup=1)


def measure_decode(work: BenchRun, decoder: Decoder | None = None) -> float:
    """New tokens per second per sequence, greedy, one step at a time while the cache grows from prompt_tokens to
    prompt_tokens + new_tokens (the estimator's decode_tokens_per_s). Leaves the cache full."""
    torch = _torch()
    device, prompt_tokens, new_tokens, batch = work.device, work.prompt_tokens, work.new_tokens, work.batch
    kind = _device_kind(torch, device)
    _check_workload(prompt_tokens, new_tokens, batch)
    dec = _decoder_for(work, prompt_tokens + new_tokens, decoder)
    prompt = torch.randint(0, work.model_spec.vocab_size, (batch, prompt_tokens), device=device)
    dec.length = 0
    first = forward(dec, prompt).argmax(-1, keepdim=True)
    token = first
    for _ in range(min(2, new_tokens)):  # warm the one-token kernels, then rewind
        token = forward(dec, token).argmax(-1, keepdim=True)

    def loop() -> None:
        dec.length = prompt_tokens
        token = first
        for _ in range(new_tokens):
            token = forward(dec, token).argmax(-1, keepdim=True)

    return new_tokens / _timed(torch, kind, loop, repeats=1, warmup=0)
