"""Which reader reads a config.json: by model_type, else by the architectures class name, else the Llama-style
reader with a one-line warning that names the keys it did not understand and marks the count unverified.

A vision-language wrapper (text_config + vision_config, or text keys at the top beside a vision_config) is read
as its language model plus its vision tower (vision.tower); an encoder or a model sizing does not model is refused
by name (refuse.check)."""

from __future__ import annotations

from collections.abc import Callable

from . import bloom_opt, falcon, glm, gpt, hybrid, moe, mpt, phi, refuse, vision
from .config import Config
from .decoders import LAYER_KEYS, Shape, llama
from .files import show

Reader = Callable[[Config, str], Shape]

LLAMA_STYLE = (
    "llama mistral mixtral ministral qwen2 qwen2_moe qwen3 qwen3_moe qwen3_text qwen3_vl_text qwen3_vl_moe_text "
    "gemma gemma2 gemma3_text phi3 phimoe deepseek deepseek_v2 deepseek_v3 deepseek_v32 kimi_k2 glm glm4 glm4_moe "
    "internlm internlm2 internlm3 stablelm starcoder2 cohere cohere2 olmo olmo2 olmoe granite granitemoe minicpm "
    "minicpm3 baichuan orion yi mimo exaone exaone3 ernie4_5 ernie4_5_moe hunyuan_v1_dense hunyuan_v1_moe smollm3 "
    "seed_oss arcee apertus dots1 bailing_moe helium nemotron mistral_text qwen2_vl_text qwen2_5_vl_text"
).split()
READERS: dict[str, Reader] = {
    **{name: llama for name in LLAMA_STYLE},
    "gpt2": gpt.gpt2,
    "gpt_bigcode": gpt.gpt2,
    "gptj": gpt.gptj,
    "gpt_neox": gpt.gpt_neox,
    "falcon": falcon.falcon,
    "RefinedWeb": falcon.falcon,
    "RefinedWebModel": falcon.falcon,
    "chatglm": glm.chatglm,
    "phi": phi.phi,
    "phi-msft": phi.phi,
    "mixformer-sequential": phi.phi,
    "mpt": mpt.mpt,
    "replit_lm": mpt.mpt,
    "bloom": bloom_opt.bloom,
    "opt": bloom_opt.opt,
    "llama4_text": moe.llama4_text,
    "gpt_oss": moe.gpt_oss,
    "dbrx": moe.dbrx,
    "qwen": moe.qwen,
    "qwen3_next": hybrid.qwen3_next,
    "nemotron_h": hybrid.nemotron_h,
    "nemotron-nas": hybrid.deci,
}
# the language model's model_type inside each vision-language wrapper, when its text_config does not say
WRAPPERS = {
    "llava": "llama",
    "llava_next": "llama",
    "vipllava": "llama",
    "qwen2_vl": "qwen2",
    "qwen2_5_vl": "qwen2",
    "qwen3_vl": "qwen3",
    "qwen3_vl_moe": "qwen3_moe",
    "llama4": "llama4_text",
    "gemma3": "gemma3_text",
    "mistral3": "mistral",
    "paligemma": "gemma",
    "idefics3": "llama",
    "smolvlm": "llama",
    "phi3_v": "phi3",
}
ARCHITECTURES = {  # class name -> model_type, for a config that does not name its model_type
    "GPT2LMHeadModel": "gpt2",
    "GPTBigCodeForCausalLM": "gpt_bigcode",
    "GPTJForCausalLM": "gptj",
    "GPTNeoXForCausalLM": "gpt_neox",
    "FalconForCausalLM": "falcon",
    "RWForCausalLM": "RefinedWebModel",
    "ChatGLMModel": "chatglm",
    "ChatGLMForConditionalGeneration": "chatglm",
    "PhiForCausalLM": "phi",
    "MixFormerSequentialForCausalLM": "mixformer-sequential",
    "MPTForCausalLM": "mpt",
    "ReplitLM": "replit_lm",
    "BloomForCausalLM": "bloom",
    "OPTForCausalLM": "opt",
    "QWenLMHeadModel": "qwen",
    "DeciLMForCausalLM": "nemotron-nas",
    "NemotronHForCausalLM": "nemotron_h",
    "LlamaForCausalLM": "llama",
    "MistralForCausalLM": "mistral",
    "Qwen2ForCausalLM": "qwen2",
}
# keys no reader needs to understand: training, tokenizer, generation and serialization settings
IGNORED = set(
    (
        "architectures auto_map _name_or_path transformers_version torch_dtype dtype use_cache bos_token_id "
        "eos_token_id pad_token_id unk_token_id sep_token_id initializer_range init_std rms_norm_eps "
        "layer_norm_eps layer_norm_epsilon norm_eps layernorm_epsilon hidden_act activation_function hidden_dropout "
        "attention_dropout dropout resid_pdrop embd_pdrop attn_pdrop rope_theta rope_scaling rope_parameters "
        "tokenizer_class output_attentions output_hidden_states return_dict id2label label2id "
        "quantization_config pretraining_tp router_aux_loss_coef output_router_logits norm_topk_prob "
        "scoring_func topk_method routed_scaling_factor n_group topk_group aux_loss_alpha seq_aux ep_size "
        "partial_rotary_factor rotary_pct rotary_emb_base use_parallel_residual task_specific_params "
        "summary_type summary_use_proj summary_activation summary_proj_to_labels summary_first_dropout "
        "max_window_layers bias_dropout_fusion fp32_residual_connection attention_softmax_in_fp32"
    ).split()
)


def model_type_of(cfg: Config) -> str:
    """model_type as written; else the architectures class it names; '' when neither says."""
    name = cfg.text("model_type", "")
    if name:
        return name
    archs = cfg.raw("architectures")
    first = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else ""
    return ARCHITECTURES.get(first, "")


def _unknown(cfg: Config, model_type: str) -> Shape:
    """The Llama-style reader for a model_type no reader knows, with the warning it owes the user."""
    shape = llama(cfg, model_type or "llama")
    missed = sorted(k for k in cfg.values if k not in cfg.seen and k not in IGNORED)
    what = f"model_type '{show(model_type, 40)}' is not one sizing knows" if model_type else "no model_type"
    keys = ", ".join(f"'{show(k, 40)}'" for k in missed[:8]) + (
        f" and {len(missed) - 8} more" if len(missed) > 8 else ""
    )
    shape.notes.insert(
        0,
        f"{what}: read as a Llama-style decoder"
        + (f", not understanding {keys}" if missed else "")
        + "; parameter count unverified",
    )
    return shape


def read_text(cfg: Config, model_type: str) -> Shape:
    """The language model of `cfg` (a plain causal-LM config, or a wrapper's text part)."""
    refuse.check(cfg, model_type)
    reader = READERS.get(model_type)
    if reader is None and model_type in WRAPPERS:
        reader = READERS.get(WRAPPERS[model_type])
    return reader(cfg, model_type) if reader else _unknown(cfg, model_type)


def _wrapper_text(cfg: Config, wrapper: str) -> tuple[Config, str]:
    text = cfg.sub("text_config", inherit=("model_type",))
    if text is None or any(cfg.has(k) for k in LAYER_KEYS):
        return cfg, WRAPPERS.get(wrapper, wrapper)  # Qwen2-VL, Phi-3-vision: the text keys at the top level
    inner = model_type_of(text)
    return text, WRAPPERS.get(inner, inner)


def read_shape(cfg: Config) -> Shape:
    """Every ModelSpec shape field of a config.json, and the notes the user must see."""
    model_type = model_type_of(cfg)
    is_wrapper = model_type in WRAPPERS or (cfg.has("text_config") and not any(cfg.has(k) for k in LAYER_KEYS))
    if not is_wrapper:
        return read_text(cfg, model_type)
    refuse.check(cfg, model_type)
    text, text_type = _wrapper_text(cfg, model_type)
    defaulted = None
    if text is not cfg and model_type.startswith("llava") and text_type == "llama":
        text, defaulted = vision.llama_defaults(text)
    shape = read_text(text, text_type)
    if defaulted:
        shape.notes.append(defaulted)
    n_vision, note = vision.tower(cfg, model_type, shape.fields["hidden_size"])
    shape.fields["n_vision_params"] = float(n_vision) if n_vision else None
    shape.notes.append(note if n_vision else note + "; parameter count unverified")
    return shape
