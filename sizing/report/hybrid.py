"""What an estimate with weights in host RAM adds: the host's memory, bandwidths and bounds, in text and JSON."""

from __future__ import annotations

from sizing.specs import Estimate
from sizing.units import fmt_bytes, fmt_decimal_bytes

from .say import has, say


def host_memory_json(e: Estimate) -> dict:
    """The keys `memory` gains: RAM needed, installed, whether it fits, and what the GPUs hold together."""
    h = e.host
    if h is None:
        return {}
    return {
        "host_bytes": round(h.host_bytes),
        "ram_bytes": None if h.ram_bytes is None else round(h.ram_bytes),
        "fits_host": h.fits_host,
        "gpu_total_bytes": round(h.gpu_bytes),
    }


def host_assumptions_json(e: Estimate) -> dict:
    """The keys `assumptions` gains: the host, where the weights live, the bandwidths and the bounds."""
    h, host = e.host, e.system.host
    if h is None or host is None:
        return {}
    x = e.execution
    assert x.hybrid is not None
    return {
        "gpu": None if h.n_gpus == 0 else e.system.gpu.id,
        "n_gpus": h.n_gpus,
        "bound": h.decode_bound,
        "prefill_bound": h.prefill_bound,
        "host": {
            "offload": h.offload,
            "gpu_layers": h.gpu_layers,
            "cpu": host.cpu.id,
            "n_sockets": host.n_sockets,
            "memory": host.dimm.id if host.dimm else None,
            "n_dimms": host.n_dimms,
            "threads": host.threads,
            "socket_bw_bytes_s": round(h.socket_bw_bytes_s),
            "host_bw_bytes_s": round(h.host_bw_bytes_s),
            "cpu_flops": round(h.cpu_flops),
            "cpu_kernel": h.cpu_kernel,
            "pcie_bytes_s": round(h.pcie_bytes_s),
            "decode_parts_s": {k: round(v, 6) for k, v in h.decode_parts_s.items()},
            "prefill_parts_s": {k: round(v, 6) for k, v in h.prefill_parts_s.items()},
            "cpu_efficiency": x.hybrid.cpu_eff.model_dump(exclude={"source"}),
        },
    }


def host_lines(e: Estimate, lang: str = "en") -> list[str]:
    """The host paragraph of `sizing estimate`'s text."""
    h, host = e.host, e.system.host
    if h is None or host is None:
        return []
    ram = (
        say(lang, "term.host.installed", ram=fmt_bytes(h.ram_bytes))
        if h.ram_bytes is not None
        else say(lang, "term.host.no_size")
    )
    verdict = "" if h.ram_bytes is None else " -> " + say(lang, "term.fits" if h.fits_host else "term.does_not_fit")
    dimm = (
        host.dimm.name
        if host.dimm
        else say(lang, "term.host.dimms_at", ddr=host.cpu.ddr_gen, mt=host.cpu.max_memory_mt_s)
    )
    where = say(lang, f"term.offload.{h.offload}") + (
        say(lang, "term.host.gpu_layers", n=h.gpu_layers) if h.offload == "layers" else ""
    )
    gpus = "" if h.n_gpus == 0 else say(lang, "term.host.gpus_hold", size=fmt_bytes(h.gpu_bytes))
    pcie = "" if h.n_gpus == 0 else say(lang, "term.host.pcie", bw=fmt_decimal_bytes(h.pcie_bytes_s))
    return [
        "",
        say(lang, "term.host", n=host.n_sockets, cpu=host.cpu.name, n_dimms=host.n_dimms, dimm=dimm, where=where),
        "  " + say(lang, "term.host.ram", need=fmt_bytes(h.host_bytes), ram=ram, verdict=verdict, gpus=gpus),
        "  "
        + say(
            lang,
            "term.host.bw",
            socket=fmt_decimal_bytes(h.socket_bw_bytes_s),
            run=fmt_decimal_bytes(h.host_bw_bytes_s),
            tflops=f"{h.cpu_flops / 1e12:.1f}",
            kernel=h.cpu_kernel,
            pcie=pcie,
        ),
        "  "
        + say(
            lang,
            "term.host.bounds",
            decode=bound_word(lang, h.decode_bound),
            prefill=bound_word(lang, h.prefill_bound),
        ),
    ]


def bound_word(lang: str, bound: str) -> str:
    """What bounds a run (memory, compute, host-ram, pcie, ...) in `lang`; the id itself where none is written."""
    key = f"term.bound.{bound}"
    return say(lang, key) if lang != "en" and has(lang, key) else bound
