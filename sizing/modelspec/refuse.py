"""Configs sizing does not size, refused by name in one line: what the model is, what is not modelled, what to do.

Encoders (BERT, MiniLM, XLM-R/bge-m3, embedding and reranker models) have no output head over the vocabulary and
no KV cache that grows with generated tokens, so the decoder estimate (weights + KV cache + decode speed) does not
describe them; recurrent models (RWKV) and stacks whose layers differ in ways ModelSpec cannot hold are named
with the part that is missing."""

from __future__ import annotations

from sizing.specs import SizingError

from .config import Config
from .files import show

ENCODERS = {
    "bert",
    "roberta",
    "xlm-roberta",
    "xlm_roberta",
    "distilbert",
    "albert",
    "electra",
    "deberta",
    "deberta-v2",
    "mpnet",
    "camembert",
    "nomic_bert",
    "modernbert",
    "jina_bert",
    "new",  # Alibaba-NLP gte-*-v1.5
    "xlm",
    "ernie",
    "roformer",
    "esm",
}
ENCODER_DECODERS = {"t5", "mt5", "umt5", "bart", "mbart", "pegasus", "marian", "led", "longt5", "switch_transformers"}
ENCODER_HEADS = ("ForMaskedLM",)  # a decoder with a classification head (a reward model) is still a decoder
ENCODER_FIX = "size an embedding or reranker model by its weights alone (parameters x bytes per weight), beside the LLM"
NOT_MODELLED = {
    "rwkv": "an RNN (RWKV): no attention blocks and a per-sequence state instead of a KV cache",
    "rwkv5": "an RNN (RWKV-5): no attention blocks and a per-sequence state instead of a KV cache",
    "rwkv6": "an RNN (RWKV-6): no attention blocks and a per-sequence state instead of a KV cache",
    "mamba": "a pure Mamba SSM: no attention layers",
    "mamba2": "a pure Mamba-2 SSM: no attention layers",
    "falcon_mamba": "a pure Mamba SSM: no attention layers",
    "jamba": "a Mamba-1 / attention / MoE interleave (attn_layer_period, expert_layer_period) with Mamba-1 mixers",
    "falcon_h1": "parallel attention and Mamba-2 in every layer",
    "zamba": "Mamba layers with a shared attention block",
    "zamba2": "Mamba-2 layers with shared attention blocks",
    "mllama": "cross-attention layers to the image (cross_attention_layers) inside the text stack",
    "deci": "a different KV head count on every layer (num_key_value_heads_per_layer)",
}


def refuse_encoder(cfg: Config, kind: str) -> SizingError:
    return cfg.error(
        f"this is {kind}: sizing sizes decoder-only LLMs (weights, a KV cache that grows with generated tokens, "
        "decode speed)",
        ENCODER_FIX,
    )


def refuse_unmodelled(cfg: Config, model_type: str, what: str) -> SizingError:
    return cfg.error(
        f"'{model_type}' is {what}, which sizing does not model",
        "size it with a catalog model of about its parameter count (`--model 7b`) and treat the result as rough",
    )


def encoder_kind(cfg: Config, model_type: str) -> str | None:
    """'an encoder (bert)' and the like when the config is one, else None."""
    archs = cfg.raw("architectures")
    names = [show(a, 60) for a in archs if isinstance(a, str)] if isinstance(archs, list) else []
    what = ", ".join([model_type] + names[:1]) if model_type else ", ".join(names[:1])
    if model_type in ENCODER_DECODERS or cfg.flag("is_encoder_decoder", False):
        return f"an encoder-decoder ({what})"
    if model_type in ENCODERS or (names and all(n.endswith(ENCODER_HEADS) for n in names)):
        return f"an encoder ({what})"
    return None


def check(cfg: Config, model_type: str) -> None:
    """Raise the one-line refusal when `cfg` is something sizing does not size."""
    kind = encoder_kind(cfg, model_type)
    if kind:
        raise refuse_encoder(cfg, kind)
    if model_type in NOT_MODELLED:
        raise refuse_unmodelled(cfg, model_type, NOT_MODELLED[model_type])
    if cfg.has("num_key_value_heads_per_layer"):
        raise refuse_unmodelled(cfg, model_type, NOT_MODELLED["deci"])
