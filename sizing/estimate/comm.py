"""Collectives and hops over a link (the links themselves come from the build: sizing.specs.system).

Each collective is a latency term plus a bandwidth term. The latency term counts the collective's steps: a link's
`latency_s` is one small message over one hop (the fixed launch-and-completion cost and one step) and `hop_s` each
further step, fitted per link kind to published nccl-tests times (data/links.csv, benchmarks/fit_links.py)."""

from __future__ import annotations

from sizing.specs import Link


def allreduce_s(link: Link, n: int, message_bytes: float) -> float:
    """Ring all-reduce: 2(n-1) steps, reduce-scatter then all-gather, so base + 2(n-1) x per-hop latency (NCCL's
    tuning model, NVIDIA/nccl src/graph/tuning.cc: nsteps = 2(nRanks - 1)) + 2(n-1)/n x message / link bandwidth
    (Patarasuk & Yuan 2009; NCCL docs)."""
    if n <= 1:
        return 0.0
    return link.latency_s + (2 * n - 3) * link.hop_s + 2 * (n - 1) / n * message_bytes / link.bytes_s


def hops_s(link: Link, n_hops: int, message_bytes: float) -> float:
    """Pipeline stages pass activations along: one send per hop, one step each (GPipe, Huang et al. 2019)."""
    return n_hops * (link.latency_s + message_bytes / link.bytes_s) if n_hops > 0 else 0.0


def alltoall_s(link: Link, n: int, message_bytes: float) -> float:
    """One all-to-all over n GPUs (expert-parallel dispatch or combine): each GPU keeps 1/n of its `message_bytes`
    and sends the rest, (n-1)/n x message / link bandwidth, over n-1 pairwise-exchange steps of latency (Thakur,
    Rabenseifner and Gropp 2005; DeepSeek-V3 report §3.2 dispatch + combine per MoE layer)."""
    if n <= 1:
        return 0.0
    return link.latency_s + (n - 2) * link.hop_s + (n - 1) / n * message_bytes / link.bytes_s
