"""The same build ordered more than once: a disaggregated RL plan trains on one machine and generates on a second
like it (sizing.rl), so the order, its power and its cost of ownership count every machine and the network between
them."""

from __future__ import annotations

from sizing.specs import Option

from .derive import pick_network
from .prices import bill_of_materials
from .provider import PartsProvider


def replicate(parts: PartsProvider, option: Option, copies: int) -> Option:
    """`copies` machines of `option`'s build as one order: n_nodes multiplied (Build: n identical servers), a NIC per
    machine where the build had none (the machines exchange weights over the node link, sizing.estimate.rl's
    sync) and a switch beyond two machines (derive.pick_network), the bill of materials redone for every machine.
    The rules' findings and the estimate stay those of one machine (each runs its own role on its own GPUs)."""
    if copies == 1:
        return option
    b = option.build
    nodes = b.n_nodes * copies
    nic, switch = pick_network(parts, nodes)
    machines = b.model_copy(update={"n_nodes": nodes, "nic": b.nic or nic, "switch": b.switch or switch})
    lines, subtotal, unpriced = bill_of_materials(machines, option.candidate.constraints)
    candidate = option.candidate.model_copy(
        update={"build": machines, "subtotal_usd": subtotal, "complete": not unpriced}
    )
    return option.model_copy(update={"candidate": candidate, "lines": lines, "unpriced": unpriced})
