"""Expert-parallel serving of an MoE model (--ep): the routed experts split by expert over ep of the node's GPUs.

The split (SGLang `--tp 8 --ep 8`, docs.sglang.io advanced_features/expert_parallelism; TensorRT-LLM's hybrid of
moe_tp x moe_ep = tp, docs advanced/expert-parallelism): attention, the dense layers, the shared experts, the
embedding and the head stay tensor parallel over tp GPUs; each routed expert lives on one of ep groups of
moe_tp = tp / ep GPUs and is tensor-split inside its group (SGLang moe_tp_size = tp_size / ep_size). So a GPU holds
n_experts / ep experts per MoE layer at 1 / moe_tp each: at a fixed GPU count the same bytes as plain tensor
parallel; what changes is what a step reads and sends:
- weights: a GPU reads only its own touched experts, and the busiest GPU (the most touched experts) sets the pace;
- communication: per MoE layer a dispatch and a combine all-to-all of batch x top_k x hidden activations over the ep
  groups (DeepSeek-V3 report §3.2, Thakur et al. 2005 pairwise exchange: comm.alltoall_s) instead of the MLP's
  all-reduce; the attention's all-reduce stays, and so does one for the shared experts' partial sums.
At ep = 1 every function here returns what estimate/inference.py computed before expert parallel existed.
"""

from __future__ import annotations

import math

from sizing.specs import Execution, ModelSpec, System

from . import dp_attention, shapes
from .comm import allreduce_s, alltoall_s
from .engines import ACT_BYTES


def expert_ways(model: ModelSpec, execution: Execution) -> int:
    """The expert-parallel ways of an inference execution: parallelism.ep for an MoE model, else 1."""
    return execution.parallelism.ep if model.is_moe else 1


def engaged(model: ModelSpec, execution: Execution) -> bool:
    return expert_ways(model, execution) > 1


def expert_tp(execution: Execution) -> int:
    """GPUs that share each routed expert: tp / ep (SGLang moe_tp_size), at least 1."""
    return max(1, execution.parallelism.tp // max(1, execution.parallelism.ep))


def experts_per_gpu(model: ModelSpec, execution: Execution) -> int:
    """Routed experts per MoE layer on the busiest GPU: ceil(n_experts / ep)."""
    return math.ceil((model.n_experts or 0) / expert_ways(model, execution))


def busiest_experts(model: ModelSpec, batch: float, ep: int) -> float:
    """Expected touched experts on the busiest of ep expert groups, each holding m = ceil(E / ep) experts, when a
    step over `batch` tokens touches each expert with probability p = experts_touched / E (uniform routing,
    shapes.experts_touched). Each group's count is ~ Binomial(m, p) and the expected maximum of ep of them is
    sum_{j<m} (1 - F(j)^ep) (order statistics of i.i.d. counts, David & Nagaraja 2003 §2; the groups' counts are in
    fact slightly negatively correlated, so this is a little high). Real routers are less even than uniform:
    DeepSeek-V3 deploys redundant copies of the hot experts for that reason (report §3.4, EPLB), which this does
    not model."""
    e = model.n_experts or 0
    if not e or ep <= 1:
        return shapes.experts_touched(model, batch)
    m = math.ceil(e / ep)
    p = min(1.0, shapes.experts_touched(model, batch) / e)
    if p >= 1.0:
        return float(m)
    pmf = (1 - p) ** m  # P(count = 0)
    cdf, expected = 0.0, 0.0
    for j in range(m):
        cdf += pmf
        expected += 1 - min(1.0, cdf) ** ep
        pmf *= (m - j) / (j + 1) * p / (1 - p)
    return expected


def weight_read_bytes(model: ModelSpec, execution: Execution, tokens: float) -> float:
    """Weight bytes the busiest GPU reads for one forward over `tokens` tokens: under tensor parallel 1 / tp of the
    decode weights (shapes.decode_weight_bytes); under expert parallel 1 / tp of all but the routed experts, plus
    the busiest group's touched experts at 1 / moe_tp each."""
    x = execution
    tp = x.parallelism.tp
    every = shapes.decode_weight_bytes(model, x.precision, tokens)
    if not engaged(model, x):
        return every / tp
    touched = shapes.routed_bytes(model, x.precision, shapes.experts_touched(model, tokens))
    one = shapes.routed_bytes(model, x.precision, 1.0)
    busiest = busiest_experts(model, tokens, expert_ways(model, x)) * one / expert_tp(x)
    return (every - touched) / tp + busiest


def held_weight_bytes(model: ModelSpec, execution: Execution, block_bytes: float, blocks_share: float) -> float:
    """Block weights the busiest GPU holds: block_bytes x its share (parallel.shares); under expert parallel the
    routed experts at ceil(E / ep) experts x 1 / moe_tp of each (the same as the tensor-parallel share when ep
    divides the experts), the rest at the share."""
    if not engaged(model, execution):
        return block_bytes * blocks_share
    routed = shapes.routed_bytes(model, execution.precision, float(model.n_experts or 0))
    per_gpu = experts_per_gpu(model, execution) / (model.n_experts or 1) / expert_tp(execution)
    layers = blocks_share * execution.parallelism.tp  # the share of the layers this GPU's pipeline stage holds
    return (block_bytes - routed) * blocks_share + routed * per_gpu * layers


def alltoall_bytes_per_layer(model: ModelSpec, tokens: float) -> float:
    """Bytes one MoE layer moves per forward: each token's hidden state to its top_k experts (dispatch) and their
    outputs back (combine), batch x top_k x hidden x activation bytes each way (DeepSeek-V3 report §3.2)."""
    return 2 * tokens * (model.n_active_experts or 0) * model.hidden_size * ACT_BYTES


def alltoall_s_per_layer(model: ModelSpec, execution: Execution, system: System, tokens: float) -> float:
    """Dispatch + combine over the ep groups on the node's GPU link: the tokens' traffic spread evenly, each group
    sending 1 / ep of each direction's bytes (comm.alltoall_s keeps 1 / ep of it local)."""
    ep = expert_ways(model, execution)
    one_way = alltoall_bytes_per_layer(model, tokens) / 2
    return 2 * alltoall_s(system.gpu_link, ep, one_way / ep)


def layer_comm_s(model: ModelSpec, execution: Execution, system: System, tokens: float, times: int = 1) -> float:
    """Collectives of `times` forwards over `tokens` tokens inside one pipeline stage. Tensor parallel: two
    all-reduces of tokens x hidden per layer (Megatron-LM, Shoeybi et al. 2019). Expert parallel: dense layers keep
    both; an MoE layer keeps the attention's, one more for the shared experts' partial sums where it has them, and
    adds the dispatch and combine all-to-all (alltoall_s_per_layer). Attention data parallel (dp_attention.py): the
    attention's all-reduce runs over one replica's attn_tp GPUs on its own tokens (none at attn_tp = 1), and the
    split layers' become the gather and scatter of every replica's tokens, the same bytes over tp; under vLLM's
    "dense" layout the dense MLPs and shared experts are a replica's own and reduce nothing across it."""
    tp = execution.parallelism.tp
    link = system.gpu_link
    message = tokens * model.hidden_size * ACT_BYTES
    reduce = allreduce_s(link, tp, message)
    attn_reduce = allreduce_s(
        link, dp_attention.attention_tp(execution), message * dp_attention.replica_share(execution)
    )
    whole = dp_attention.replicates_dense(execution)  # vLLM's DP ranks: dense MLPs and shared experts per rank
    mlp = 0.0 if whole else reduce
    n_moe = model.n_moe_layers
    if not engaged(model, execution):
        if tp == 1:
            return 0.0
        return times * ((model.n_layers - n_moe) * (mlp + attn_reduce) + n_moe * (reduce + attn_reduce))
    shared = reduce if model.n_shared_experts and not whole else 0.0
    per_forward = (
        (model.n_layers - n_moe) * (mlp + attn_reduce)
        + n_moe * (attn_reduce + shared)
        + n_moe * alltoall_s_per_layer(model, execution, system, tokens)
    )
    return times * per_forward


def notes(model: ModelSpec, execution: Execution) -> list[str]:
    """What the user should know about the expert split: the experts per GPU and the ways actually used."""
    asked = execution.expert_parallel or 1
    ep = expert_ways(model, execution)
    out: list[str] = []
    if asked > 1 and ep < asked:
        out.append(f"--ep {asked} on {execution.parallelism.tp} tensor-parallel GPU(s): expert parallel {ep} ways")
    if ep > 1:
        n = model.n_experts or 0
        uneven = f" (the busiest; {n} do not split evenly)" if n % ep else ""
        out.append(
            f"expert parallel over {ep} GPU groups: {experts_per_gpu(model, execution)} routed experts per MoE "
            f"layer each{uneven}, {expert_tp(execution)} GPU(s) per expert; a dispatch and a combine all-to-all per "
            "MoE layer"
        )
    return out
