"""Vision towers of vision-language models, counted from their vision_config as the modeling code builds them;
the language model is read by its own family reader. The tower's weights are memory (ModelSpec.n_vision_params),
not per-text-token FLOPs.

- CLIP ViT (LLaVA; HF modeling_clip CLIPVisionTransformer): a class token, a bias-free patch convolution,
  (image/patch)^2 + 1 learned positions, pre/post LayerNorm, layers of q/k/v/o and fc1/fc2 with biases; LLaVA's
  projector linear_1 (vision -> text width) and linear_2 (text -> text), with biases.
- SigLIP ViT (HF modeling_siglip): a patch convolution with bias, (image/patch)^2 positions, the same layers, a
  post LayerNorm and (vision_use_head) the attention-pooling head.
- Qwen2-VL / Qwen2.5-VL / Qwen3-VL (HF modeling_qwen2_vl, _qwen2_5_vl, _qwen3_vl): a Conv3d patch embedding over
  temporal_patch_size frames, blocks of fused qkv + proj with biases and an MLP (2.5-VL: SwiGLU with biases,
  RMSNorm), a PatchMerger (norm, spatial_merge_size^2 x width -> same -> text width); Qwen3-VL adds learned
  positions (num_position_embeddings) and one more merger per deepstack_visual_indexes entry."""

from __future__ import annotations

from .config import COUNT_MAX, DIM_MAX, FFN_MAX, Config
from .decoders import CONTEXT_KEYS, FFN_KEYS, HEAD_KEYS, HIDDEN_KEYS, LAYER_KEYS, VOCAB_KEYS
from .files import show

CLIP_DEFAULTS = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, patch_size=32, image_size=224)
# transformers LlamaConfig's defaults, which llava-hf text_configs rely on (they write only what differs)
LLAMA_DEFAULTS = (
    (HIDDEN_KEYS, 4096),
    (FFN_KEYS, 11008),
    (LAYER_KEYS, 32),
    (HEAD_KEYS, 32),
    (VOCAB_KEYS, 32000),
    (CONTEXT_KEYS, 2048),
)
# openai/clip-vit-large-patch14-336, which Phi-3-vision's img_processor names and LLaVA-1.5's vision_config spells out
CLIP_L_336 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, patch_size=14, image_size=336)
SIGLIP_DEFAULTS = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, patch_size=16, image_size=224)


def _vit_layer(h: int, inner: int) -> int:
    """q, k, v, o and fc1, fc2, all with biases, and two LayerNorms."""
    return 4 * (h * h + h) + (h * inner + inner) + (inner * h + h) + 4 * h


def _dims(v: Config, defaults: dict) -> tuple[int, int, int, int, int, int]:
    def get(key: str, high: int) -> int:
        return v.count(key, high=high, default=defaults.get(key))

    return (
        get("hidden_size", DIM_MAX),
        get("intermediate_size", FFN_MAX),
        get("num_hidden_layers", COUNT_MAX),
        get("patch_size", DIM_MAX),
        get("image_size", DIM_MAX),
        v.count("num_channels", high=COUNT_MAX, default=3),
    )


def clip(v: Config) -> int:
    h, inner, layers, patch, image, chans = _dims(v, CLIP_DEFAULTS)
    embed = h + chans * patch * patch * h + ((image // patch) ** 2 + 1) * h
    return embed + 4 * h + layers * _vit_layer(h, inner)


def siglip(v: Config) -> int:
    h, inner, layers, patch, image, chans = _dims(v, SIGLIP_DEFAULTS)
    embed = chans * patch * patch * h + h + (image // patch) ** 2 * h
    head = h + 4 * h * h + 4 * h + 2 * h + (2 * h * inner + inner + h) if v.flag("vision_use_head", True) else 0
    return embed + 2 * h + layers * _vit_layer(h, inner) + head


def _merger(width: int, merge: int, out: int, norm: int) -> int:
    wide = width * merge * merge
    return norm + wide * wide + wide + wide * out + out


def qwen_vl(v: Config, model_type: str, text_hidden: int) -> int:
    chans = v.count("in_channels", "in_chans", high=COUNT_MAX, default=3)
    patch = v.count("patch_size", high=DIM_MAX, default=14)
    frames = v.count("temporal_patch_size", high=COUNT_MAX, default=2)
    merge = v.count("spatial_merge_size", high=COUNT_MAX, default=2)
    depth = v.count("depth", "num_hidden_layers", high=COUNT_MAX, what="the vision blocks")
    if model_type == "qwen2_vl":  # embed_dim wide, mlp_ratio x wide GELU MLP, hidden_size = the text width
        e = v.count("embed_dim", high=DIM_MAX, what="the vision width")
        inner = e * v.count("mlp_ratio", high=COUNT_MAX, default=4)
        out = v.count("hidden_size", high=DIM_MAX, default=text_hidden)
        block = 4 * e + 3 * e * e + 3 * e + e * e + e + 2 * e * inner + inner + e
        return chans * frames * patch * patch * e + depth * block + _merger(e, merge, out, 2 * e)
    e = v.count("hidden_size", high=DIM_MAX, what="the vision width")
    inner = v.count("intermediate_size", high=FFN_MAX, what="the vision MLP width")
    out = v.count("out_hidden_size", high=DIM_MAX, default=text_hidden)
    attn = 3 * e * e + 3 * e + e * e + e
    if model_type == "qwen2_5_vl":  # SwiGLU with biases, RMSNorm
        block = 2 * e + attn + 3 * e * inner + 2 * inner + e
        return chans * frames * patch * patch * e + depth * block + _merger(e, merge, out, e)
    block = 4 * e + attn + 2 * e * inner + inner + e
    positions = v.count("num_position_embeddings", high=1 << 24, default=0, low=0) * e
    deep = v.raw("deepstack_visual_indexes")
    n_deep = len(deep) if isinstance(deep, list) else 0
    mergers = _merger(e, merge, out, 2 * e) + n_deep * _merger(e, merge, out, 2 * e * merge * merge)
    return chans * frames * patch * patch * e + e + positions + depth * block + mergers


def phi3_v(top: Config, text_hidden: int) -> tuple[int | None, str]:
    """Phi-3/3.5-vision (modeling_phi3_v.py): the CLIP ViT its img_processor names, and img_projection from 4 x its
    image_dim_out (the HD transform stacks 2 x 2 crops) to the text width and again to the text width."""
    img = top.sub("img_processor")
    name = img.raw("model_name") if img is not None else None
    if img is None or name != "openai/clip-vit-large-patch14-336":
        return None, f"the vision tower ({show(str(name), 60)}) is not modelled and not counted"
    dim = img.count("image_dim_out", high=DIM_MAX, default=CLIP_L_336["hidden_size"])
    n = clip(Config(dict(CLIP_L_336), top.path, "img_processor.")) + 4 * dim * text_hidden + text_hidden
    n += text_hidden * text_hidden + text_hidden
    return n, f"vision tower (CLIP ViT-L/14-336) and projector counted: {n / 1e9:.2f}B"


def tower(top: Config, wrapper: str, text_hidden: int) -> tuple[int | None, str]:
    """(vision parameters, a note saying what was counted or that it was not), from the wrapper's vision_config."""
    if wrapper == "phi3_v":
        return phi3_v(top, text_hidden)
    v = top.sub("vision_config")
    if v is None:
        return None, "the config has no vision_config: a vision tower, if the checkpoint has one, is not counted"
    kind = v.text("model_type", wrapper)
    if wrapper.startswith("qwen") and wrapper.endswith(("_vl", "_vl_moe")):
        n = qwen_vl(v, wrapper.removesuffix("_moe"), text_hidden)
        return n, f"vision tower and merger ({wrapper}) counted: {n / 1e9:.2f}B"
    if kind == "clip_vision_model":
        n = clip(v)
        if wrapper.startswith("llava"):  # multi_modal_projector: linear_1 and linear_2 with biases
            h = v.count("hidden_size", high=DIM_MAX, default=CLIP_DEFAULTS["hidden_size"])
            n += h * text_hidden + text_hidden + text_hidden * text_hidden + text_hidden
        return n, f"vision tower (CLIP ViT) and projector counted: {n / 1e9:.2f}B"
    if kind in ("siglip_vision_model", "siglip2_vision_model"):
        n = siglip(v)
        return n, f"vision tower (SigLIP ViT) counted without the projector: {n / 1e9:.2f}B"
    return None, f"the vision tower ({kind}) is not modelled and not counted"


def llama_defaults(text: Config) -> tuple[Config, str | None]:
    """A LLaVA text_config with LlamaConfig's defaults where it names none of a quantity's keys (a null is a
    value: it is refused, not defaulted), and the note that says which were taken."""
    filled = {keys[0]: value for keys, value in LLAMA_DEFAULTS if all(text.absent(k) for k in keys)}
    if not filled:
        return text, None
    taken = ", ".join(f"{k} {v}" for k, v in filled.items())
    return Config({**text.values, **filled}, text.path, text.prefix), (
        f"text_config leaves {taken} to transformers' LlamaConfig defaults"
    )
