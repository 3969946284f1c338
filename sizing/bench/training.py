"""One training step of the bench decoder's shape (full fine-tune and LoRA on q and v): the time of a step, tokens
per second and peak memory, and on a catalog GPU the training estimator's figures for the same set-up
(sizing/estimate/training.py), compared the way decode and prefill are. torch is imported inside functions."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sizing import estimate as est
from sizing.modelspec import resolve
from sizing.specs import Base, Execution, Gpu, ModelSpec, SizingError, System, Training
from sizing.specs.training import TRAIN_BAND, OptimizerImpl

from .build_check import Check
from .decoder import _mlp, _rms_norm, _rope, _sdpa, _sdpa_backends, build_decoder, cut
from .measure import _device_kind, _sync, _torch
from .results import BenchRun
from .runner import CPU_LAYERS

if TYPE_CHECKING:
    from sizing.catalog import Catalog

Mode = Literal["full", "lora"]
LORA_RANK = 8  # the transformers trainer's default rank and targets (data/trainers.csv: lora_rank 8, qv)
LORA_ALPHA = 16  # PEFT LoraConfig's common alpha = 2 x rank; a scale only
CPU_VOCAB = 8192  # on a CPU the embedding and logits of a 150k vocabulary would be the whole step: cap them
# The bench loss's bytes per logit: its fp32 upcast, the shifted contiguous copy cross_entropy reads and log-softmax's
# fp32 output (4 B each; the bf16 logits are freed by the upcast) - torchtune's count (train_memory), not the 22 of
# Hugging Face models' forward that the transformers row carries
BENCH_LOSS_BYTES = 12.0


class TrainStep(Base):
    mode: Mode
    # the AdamW a step runs: fused by default, the Hugging Face Trainer's own with torch >= 2.8 (transformers
    # training_args.py adamw_torch_fused); foreach is torch's default on CUDA
    optimizer_impl: OptimizerImpl = "fused"
    device: str
    dtype: str
    batch: int
    seq_len: int
    n_layers: int
    trainable_params: float
    step_s: float
    tokens_per_s: float
    peak_bytes: float | None = None  # GPU: max_memory_allocated; CPU: the step's resident-set growth (VmHWM)
    memory_basis: str = ""


def _rss_kib(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _reset_hwm() -> bool:
    """Linux resets the peak resident set (VmHWM) to the current one when 5 is written to clear_refs (proc(5))."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="utf-8")
    except OSError:
        return False
    return True


def _lora(torch: Any, layer: dict[str, Any], rank: int, dtype: Any) -> None:
    """LoRA on q and v (Hu et al. 2021): W x + (alpha / r) B A x, A Gaussian, B zero, only A and B trained."""
    for name in ("wq", "wv"):
        out_dim, in_dim = layer[name].shape
        layer[f"{name}_a"] = torch.empty(rank, in_dim, dtype=dtype, device=layer[name].device).normal_(0, 0.02)
        layer[f"{name}_b"] = torch.zeros(out_dim, rank, dtype=dtype, device=layer[name].device)


def _linear(torch: Any, layer: dict[str, Any], name: str, x: Any, bias: Any = None) -> Any:
    F = torch.nn.functional
    y = F.linear(x, layer[name], bias)
    if f"{name}_a" in layer:
        rank = layer[f"{name}_a"].shape[0]
        y = y + F.linear(F.linear(x, layer[f"{name}_a"]), layer[f"{name}_b"]) * (LORA_ALPHA / rank)
    return y


def _loss(torch: Any, spec: ModelSpec, dec: Any, tokens: Any) -> Any:
    """Next-token cross-entropy over the whole sequence: causal attention without a cache, every position's
    logits in fp32 (what a Trainer's forward computes)."""
    F = torch.nn.functional
    b, t = tokens.shape
    x = F.embedding(tokens, dec.embed)
    cos, sin = dec.cos[:t], dec.sin[:t]
    with _sdpa_backends(torch):
        for layer in dec.layers:
            h = _rms_norm(torch, x, layer["attn_norm"])
            q = _linear(torch, layer, "wq", h, layer.get("bq")).view(b, t, spec.n_heads, spec.head_dim).transpose(1, 2)
            k = F.linear(h, layer["wk"], layer.get("bk")).view(b, t, spec.n_kv_heads, spec.head_dim).transpose(1, 2)
            v = _linear(torch, layer, "wv", h, layer.get("bv")).view(b, t, spec.n_kv_heads, spec.head_dim)
            v = v.transpose(1, 2)
            if spec.head_dim % 2 == 0:
                q, k = _rope(torch, q, cos, sin), _rope(torch, k, cos, sin)
            out = _sdpa(torch, q, k, v, causal=True).transpose(1, 2).reshape(b, t, spec.n_heads * spec.head_dim)
            x = x + F.linear(out, layer["wo"])
            x = x + _mlp(torch, layer, _rms_norm(torch, x, layer["mlp_norm"]))
    logits = F.linear(_rms_norm(torch, x, dec.norm), dec.lm_head).float()
    return F.cross_entropy(logits[:, :-1].reshape(-1, spec.vocab_size), tokens[:, 1:].reshape(-1))


def measure_train_step(work: BenchRun, mode: Mode, repeats: int = 3, impl: OptimizerImpl = "fused") -> TrainStep:
    """Median seconds of forward + backward + AdamW step (`impl`: torch.optim.AdamW fused=True, foreach=True or
    foreach=False) after one warm-up step, on `work`'s model, device and dtype for `batch` sequences of
    `prompt_tokens` (the sequence length); peak memory of a step."""
    torch = _torch()
    spec, device, dtype, batch, seq_len = work.model_spec, work.device, work.dtype, work.batch, work.prompt_tokens
    kind = _device_kind(torch, device)
    if batch < 1 or seq_len < 2:
        raise SizingError(f"a training step needs batch >= 1 and seq_len >= 2, got {batch} x {seq_len}")
    dec = build_decoder(spec, device, dtype, 1, seq_len)
    dec.k_cache = dec.v_cache = None  # training attends without a cache
    tensors = [dec.embed, dec.norm, *(v for layer in dec.layers for v in layer.values())]
    if dec.lm_head is not dec.embed:
        tensors.append(dec.lm_head)
    if mode == "lora":
        for layer in dec.layers:
            _lora(torch, layer, LORA_RANK, dec.embed.dtype)
        params = [v for layer in dec.layers for k, v in layer.items() if k.endswith(("_a", "_b"))]
    else:
        params = tensors
    for p in params:
        p.requires_grad_(True)
    flags = {"fused": {"fused": True}, "foreach": {"foreach": True}, "for-loop": {"foreach": False}}[impl]
    opt = torch.optim.AdamW(params, lr=1e-5, **flags)
    tokens = torch.randint(0, spec.vocab_size, (batch, seq_len), device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        _loss(torch, spec, dec, tokens).backward()
        opt.step()

    step()  # warm-up: AdamW allocates its moments on the first step
    _sync(torch, kind)
    if kind == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = None
    else:
        base = _rss_kib("VmRSS") if _reset_hwm() else None
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        _sync(torch, kind)
        times.append(time.perf_counter() - t0)
    seconds = sorted(times)[len(times) // 2]
    peak: float | None
    if kind == "cuda":
        peak, basis = float(torch.cuda.max_memory_allocated()), "torch.cuda.max_memory_allocated"
    else:
        hwm = _rss_kib("VmHWM")
        # the step may free more than it takes (VmRSS at the reset above the later peak): no growth, not a negative one
        peak = max(0.0, (hwm - base) * 1024) if base is not None and hwm is not None else None
        basis = "resident-set growth over the step (VmHWM after clear_refs), on top of weights and moments"
    return TrainStep(
        mode=mode,
        optimizer_impl=impl,
        device=kind,
        dtype=dtype,
        batch=batch,
        seq_len=seq_len,
        n_layers=spec.n_layers,
        trainable_params=float(sum(p.numel() for p in params)),
        step_s=seconds,
        tokens_per_s=batch * seq_len / seconds,
        peak_bytes=peak,
        memory_basis=basis,
    )


def bench_training(catalog: Catalog, impl: OptimizerImpl = "fused") -> Training:
    """The set-up the bench step runs, as the estimator takes it: the transformers trainer's own row with what the
    bench does (AdamW in the weights' dtype by `impl`, no master copy, no recomputation, SDPA attention, eager
    kernels)."""
    tr = catalog.trainer("transformers").model_copy(update={"loss_bytes_per_logit": BENCH_LOSS_BYTES})
    return Training(
        trainer=tr,
        optimizer="adamw",
        optimizer_impl=impl,
        master_weights=False,
        recompute="none",
        flash_attention=True,
        fused_elementwise=False,
        chunked_ce=False,
        optimizer_in_backward=False,
        activation_offload=False,
        sharding="ddp",
        lora_rank=LORA_RANK,
        lora_targets="qv",
    )


def estimated_step(catalog: Catalog, spec: ModelSpec, step: TrainStep, gpu: Gpu) -> tuple[float, float]:
    """(train tokens/s, allocated bytes) the training estimator gives for the bench step's set-up on `gpu`."""
    precision = catalog.precision(step.dtype)
    work = Execution(
        task="full-finetune" if step.mode == "full" else "lora",
        engine=catalog.engine("transformers"),
        precision=precision,
        kv_precision=precision,
        batch=step.batch,
        prompt_tokens=step.seq_len,
        new_tokens=0,
        training=bench_training(catalog, step.optimizer_impl),
    )
    e = est.estimate(
        spec, work, System.of(gpu, latencies=catalog.links), catalog.efficiency("transformers", gpu.gpu_class)
    )
    assert e.training is not None  # a training estimate
    return e.training.train_tokens_per_s, e.memory.allocated_per_gpu_bytes


def cpu_shape(spec: ModelSpec) -> ModelSpec:
    """The small shape a CPU trains and allocates: CPU_LAYERS layers, at most CPU_VOCAB tokens of vocabulary (a
    150k embedding and its logits would otherwise be the whole step), its parameters recounted (decoder.cut)."""
    return cut(spec, n_layers=min(CPU_LAYERS, spec.n_layers), vocab_size=min(CPU_VOCAB, spec.vocab_size))


def training_checks(catalog: Catalog, model: str, kind: str, gpu: Gpu | None, quick: bool) -> list[Check]:
    """Full fine-tune and LoRA steps: on a catalog GPU against the training estimate (within TRAIN_BAND), on the
    CPU measured only (CPU_LAYERS layers, at most CPU_VOCAB tokens of vocabulary, f32: a check of the harness)."""
    spec = resolve(model, catalog)
    if kind == "cuda":
        spec, dtype, batch, seq = cut(spec, n_layers=min(4, spec.n_layers)), "bf16", 1, 512
    else:
        spec, dtype, batch, seq = cpu_shape(spec), "f32", 1, 32
    if quick:
        seq = min(seq, 64)
    out = []
    for mode in ("full", "lora"):
        try:
            work = BenchRun(model_spec=spec, device=kind, dtype=dtype, prompt_tokens=seq, batch=batch)
            step = measure_train_step(work, mode, repeats=1 if quick else 3)
        except SizingError as exc:
            out.append(Check(name=f"train_{mode}_tokens_per_s", measured=f"not run ({exc})", basis="training step"))
            continue
        basis = f"{spec.id} {spec.n_layers} layers, vocab {spec.vocab_size}, {batch} x {seq} tokens, {dtype}"
        if gpu is None or kind != "cuda":
            out.append(Check(name=f"train_{mode}_tokens_per_s", measured=step.tokens_per_s, unit="tok/s", basis=basis))
            if step.peak_bytes is not None:
                out.append(
                    Check(name=f"train_{mode}_peak_memory", measured=step.peak_bytes, unit="B", basis=step.memory_basis)
                )
            continue
        rate, mem = estimated_step(catalog, spec, step, gpu)
        for name, got, want in (("tokens_per_s", step.tokens_per_s, rate), ("peak_memory", step.peak_bytes, mem)):
            if got is None:
                continue
            ratio = got / want if want else math.nan
            out.append(
                Check(
                    name=f"train_{mode}_{name}",
                    measured=got,
                    estimated=want,
                    unit="tok/s" if name == "tokens_per_s" else "B",
                    ratio=ratio,
                    ok=abs(ratio - 1) <= TRAIN_BAND,
                    basis=f"{basis}; training estimate (transformers trainer), within {TRAIN_BAND:.0%}",
                )
            )
    return out
