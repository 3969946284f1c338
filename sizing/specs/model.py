"""The model (what): its shape and the parameter arithmetic on it. The runtime classes (how) live in runtime.py and
are re-exported here for code that imported them from this module."""

from __future__ import annotations

from typing import ClassVar

from .base import Base, Col, NonNegFloat, NonNegInt, PosFloat, PosInt, derived
from .runtime import Efficiency, Engine, Precision

__all__ = ["Efficiency", "Engine", "ModelSpec", "Precision"]


# Embedding and reranker models (RAG servers), by the `architecture` their catalog row names: how the server turns
# one forward pass into its answer, and whether attention is bidirectional (an encoder: every token sees every
# other, so no causal half is skipped). Pooling per model card / sentence-transformers config: bge-m3 takes the
# [CLS] vector, Qwen3-Embedding the last token's hidden state, bge-reranker-v2-m3 a classifier on [CLS] and
# Qwen3-Reranker the "yes" logit of the last token through its LM head.
EMBEDDING_ARCHITECTURES: dict[str, tuple[str, bool]] = {  # architecture -> (pooling, bidirectional)
    "xlm-roberta": ("cls", True),
    "xlm-roberta-reranker": ("classifier", True),
    "qwen3-embedding": ("last-token", False),
    "qwen3-reranker": ("yes-logit", False),
}


class ModelSpec(Base):
    """A transformer's shape, as its config.json states it. Parameter arithmetic lives here so the catalog can
    check a stated count against the shape (Kaplan et al. 2020 §2.1 per-layer counts, extended to GQA, gated MLPs,
    MoE and MLA as the Hugging Face modeling files define the projections)."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "id": Col("id"),
        "name": Col("name"),
        "aliases": Col("aliases", "list", required=False),
        "family": Col("family"),
        "architecture": Col("architecture"),
        "hf_repo": Col("hf_repo", required=False),
        "params_b": Col("n_params", "float", 1e9),
        "active_params_b": Col("n_active_params", "float", 1e9, required=False),
        "n_layers": Col("n_layers", "int"),
        "hidden_size": Col("hidden_size", "int"),
        "n_heads": Col("n_heads", "int"),
        "n_kv_heads": Col("n_kv_heads", "int"),
        "head_dim": Col("head_dim", "int"),
        "ffn_size": Col("ffn_size", "int"),
        "gated_mlp": Col("gated_mlp", "bool"),
        "attn_bias": Col("attn_bias", "bool"),
        "mlp_bias": Col("mlp_bias", "bool"),
        "vocab_size": Col("vocab_size", "int"),
        "tied_embeddings": Col("tied_embeddings", "bool"),
        "max_context_tokens": Col("max_context_tokens", "int"),
        "n_learned_positions": Col("n_learned_positions", "int", required=False),
        "sliding_window_tokens": Col("sliding_window_tokens", "int", required=False),
        "n_sliding_layers": Col("n_sliding_layers", "int", required=False),
        "n_experts": Col("n_experts", "int", required=False),
        "n_active_experts": Col("n_active_experts", "int", required=False),
        "n_shared_experts": Col("n_shared_experts", "int", required=False),
        "expert_ffn_size": Col("expert_ffn_size", "int", required=False),
        "n_dense_layers": Col("n_dense_layers", "int", required=False),
        "kv_lora_rank": Col("kv_lora_rank", "int", required=False),
        "q_lora_rank": Col("q_lora_rank", "int", required=False),
        "qk_rope_head_dim": Col("qk_rope_head_dim", "int", required=False),
        "qk_nope_head_dim": Col("qk_nope_head_dim", "int", required=False),
        "v_head_dim": Col("v_head_dim", "int", required=False),
        "moe_layer_step": Col("moe_layer_step", "int", required=False),
        "n_mlp_layers": Col("n_mlp_layers", "int", required=False),
        "expert_weight_bits": Col("expert_weight_bits", "float", required=False),
        "vision_params_b": Col("n_vision_params", "float", 1e9, required=False),
        "n_linear_attn_layers": Col("n_linear_attn_layers", "int", required=False),
        "linear_attn_proj_size": Col("linear_attn_proj_size", "int", required=False),
        "linear_attn_value_size": Col("linear_attn_value_size", "int", required=False),
        "linear_attn_state_elems": Col("linear_attn_state_elems", "int", required=False),
        "index_n_heads": Col("index_n_heads", "int", required=False),
        "index_head_dim": Col("index_head_dim", "int", required=False),
        "index_topk": Col("index_topk", "int", required=False),
        "default_precision": Col("default_precision", required=False),
        "source": Col("source"),
        "notes": Col("notes", required=False),
    }

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    family: str = "generic"
    architecture: str = "llama"
    hf_repo: str | None = None
    n_params: PosFloat
    n_active_params: PosFloat | None = None
    n_layers: PosInt
    hidden_size: PosInt
    n_heads: PosInt
    n_kv_heads: PosInt
    head_dim: PosInt
    ffn_size: PosInt
    gated_mlp: bool = True
    attn_bias: bool = False
    mlp_bias: bool = False
    vocab_size: PosInt
    tied_embeddings: bool = False
    max_context_tokens: PosInt
    n_learned_positions: NonNegInt | None = None
    sliding_window_tokens: PosInt | None = None
    n_sliding_layers: NonNegInt | None = None
    n_experts: NonNegInt | None = None
    n_active_experts: NonNegInt | None = None
    n_shared_experts: NonNegInt | None = None
    expert_ffn_size: NonNegInt | None = None
    n_dense_layers: NonNegInt | None = None
    kv_lora_rank: NonNegInt | None = None
    q_lora_rank: NonNegInt | None = None
    qk_rope_head_dim: NonNegInt | None = None
    qk_nope_head_dim: NonNegInt | None = None
    v_head_dim: NonNegInt | None = None
    moe_layer_step: PosInt | None = None  # MoE MLP on every k-th layer after the dense ones (Llama 4); None = all
    n_mlp_layers: NonNegInt | None = None  # layers with an MLP (Nemotron-H: fewer than its mixers); None = all
    expert_weight_bits: PosFloat | None = None  # routed experts as the checkpoint stores them (gpt-oss MXFP4: 4.25)
    n_vision_params: NonNegFloat | None = None  # vision/audio tower: weight memory, no per-text-token FLOPs
    n_linear_attn_layers: NonNegInt | None = None  # layers whose mixer is linear attention / SSM (no KV cache)
    linear_attn_proj_size: NonNegInt | None = None  # output width of such a mixer's input projections
    linear_attn_value_size: NonNegInt | None = None  # input width of its output projection
    linear_attn_state_elems: NonNegInt | None = None  # fixed recurrent + conv state per layer per sequence
    index_n_heads: NonNegInt | None = None  # DeepSeek sparse attention (V3.2): lightning-indexer heads
    index_head_dim: NonNegInt | None = None  # indexer key width, cached per token and layer
    index_topk: PosInt | None = None  # tokens each query attends to (the indexer's top-k)
    default_precision: str | None = None  # precisions id of the weights as hf_repo ships them
    source: str = ""
    notes: str | None = None
    assumed: str | None = None  # set when the shape is a generic stand-in, says what was assumed
    weight_bits_on_disk: float | None = None  # from safetensors headers, when read from a folder

    # -- shape arithmetic ------------------------------------------------------------------------------------
    @property
    def pooling(self) -> str | None:
        """How an embedding / reranker model reads its answer off the forward pass; None for a generative model."""
        found = EMBEDDING_ARCHITECTURES.get(self.architecture)
        return found[0] if found else None

    @property
    def is_embedding(self) -> bool:
        return self.pooling is not None

    @property
    def bidirectional(self) -> bool:
        """An encoder (XLM-RoBERTa): full attention over the sequence, no causal mask."""
        found = EMBEDDING_ARCHITECTURES.get(self.architecture)
        return bool(found and found[1])

    @property
    def is_moe(self) -> bool:
        return bool(self.n_experts)

    @property
    def is_mla(self) -> bool:
        return bool(self.kv_lora_rank)

    @derived
    def n_moe_layers(self) -> int:
        """After the dense ones, every moe_layer_step-th layer (HF Llama 4: step-1, 2*step-1, ...)."""
        return (self.n_layers - (self.n_dense_layers or 0)) // (self.moe_layer_step or 1) if self.is_moe else 0

    @derived
    def n_linear_layers(self) -> int:  # linear attention / SSM mixers (Qwen3-Next Gated DeltaNet, Mamba)
        return min(self.n_linear_attn_layers or 0, self.n_layers)

    @derived
    def n_attn_layers(self) -> int:  # softmax attention, with a KV cache
        return self.n_layers - self.n_linear_layers

    @derived
    def embed_params(self) -> int:
        return self.vocab_size * self.hidden_size + (self.n_learned_positions or 0) * self.hidden_size

    @derived
    def lm_head_params(self) -> int:
        """Output projection; 0 when tied (it reuses the embedding matrix) and in an embedding model that pools a
        hidden state instead of scoring the vocabulary (Qwen3-Embedding ships Qwen3Model, no lm_head)."""
        if self.tied_embeddings or self.pooling in ("cls", "last-token", "classifier"):
            return 0
        return self.vocab_size * self.hidden_size

    @derived
    def attn_params_per_layer(self) -> int:
        h, nh, nkv, hd = self.hidden_size, self.n_heads, self.n_kv_heads, self.head_dim
        if self.is_mla:  # DeepSeek-V2 paper §2.1.2, eq. 9-14: low-rank q and joint kv compression
            rope, nope, v = self.qk_rope_head_dim or 0, self.qk_nope_head_dim or 0, self.v_head_dim or 0
            r_kv, r_q = self.kv_lora_rank or 0, self.q_lora_rank or 0
            q = h * r_q + r_q * nh * (nope + rope) if r_q else h * nh * (nope + rope)
            kv = h * (r_kv + rope) + r_kv * nh * (nope + v)
            return q + kv + nh * v * h + self.indexer_params_per_layer
        bias = (nh + 2 * nkv) * hd if self.attn_bias else 0
        return h * nh * hd + 2 * h * nkv * hd + nh * hd * h + bias

    @derived
    def indexer_params_per_layer(self) -> int:
        """DeepSeek-V3.2-Exp inference/model.py Indexer: q latent -> heads x dim, hidden -> one key and head weights."""
        ih, idim = self.index_n_heads or 0, self.index_head_dim or 0
        return (self.q_lora_rank or self.hidden_size) * ih * idim + self.hidden_size * (idim + ih)

    @derived
    def linear_attn_params_per_layer(self) -> int:
        """A linear-attention / SSM mixer: hidden -> proj_size in, value_size -> hidden out (Gated DeltaNet, Mamba2
        in/out projections); the short convolution, decay and norm vectors (< 0.2% of the layer) are left out."""
        return self.hidden_size * ((self.linear_attn_proj_size or 0) + (self.linear_attn_value_size or 0))

    @derived
    def dense_mlp_params(self) -> int:
        n_mats = 3 if self.gated_mlp else 2
        bias = (self.ffn_size + self.hidden_size) if self.mlp_bias else 0
        return n_mats * self.hidden_size * self.ffn_size + bias

    @derived
    def expert_params(self) -> int:
        """One routed expert: a gated MLP of expert_ffn_size (Mixtral, DeepSeekMoE, Qwen3-MoE)."""
        return 3 * self.hidden_size * (self.expert_ffn_size or 0)

    @property
    def norm_params_per_layer(self) -> int:
        return 2 * self.hidden_size

    def moe_layer_params(self, n_routed: int) -> int:
        """An MoE layer's MLP with `n_routed` routed experts present, plus shared experts and the router."""
        return (n_routed + (self.n_shared_experts or 0)) * self.expert_params + self.hidden_size * (self.n_experts or 0)

    @derived
    def linear_params(self) -> int:
        """Everything a quantizer converts: all blocks, without embeddings, lm_head and the vision tower."""
        with_mlp = self.n_layers if self.n_mlp_layers is None else min(self.n_mlp_layers, self.n_layers)
        n_dense = max(0, with_mlp - self.n_moe_layers)
        attn, linear = self.attn_params_per_layer, self.linear_attn_params_per_layer
        mixers = self.n_attn_layers * attn + self.n_linear_layers * linear
        mlp = n_dense * self.dense_mlp_params + self.n_moe_layers * self.moe_layer_params(self.n_experts or 0)
        return mixers + self.n_layers * self.norm_params_per_layer + mlp

    @derived
    def text_params(self) -> int:
        """The language model alone: embeddings, blocks, head and the final norm."""
        return self.embed_params + self.lm_head_params + self.linear_params + self.hidden_size

    @derived
    def derived_params(self) -> int:
        """All weights, the vision tower included (published totals of vision-language models count it)."""
        return self.text_params + round(self.n_vision_params or 0)

    @derived
    def derived_active_params(self) -> int:
        """Parameters touched per text token: MoE layers count only the active routed experts; no vision tower."""
        if not self.is_moe:
            return self.text_params
        unused = self.n_moe_layers * ((self.n_experts or 0) - (self.n_active_experts or 0)) * self.expert_params
        return self.text_params - unused

    @derived
    def n_kv_groups(self) -> int:
        return max(1, self.n_heads // self.n_kv_heads)
