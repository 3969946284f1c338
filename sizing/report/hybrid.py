"""What an estimate with weights in host RAM adds: the host's memory, bandwidths and bounds, in text and JSON."""

from __future__ import annotations

from sizing.specs import Estimate
from sizing.units import fmt_bytes, fmt_decimal_bytes

OFFLOAD_WORDS = {
    "cpu": "CPU only",
    "layers": "layer offload",
    "experts": "routed experts in RAM",
    "none": "all on the GPUs",
}


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


def host_lines(e: Estimate) -> list[str]:
    """The host paragraph of `sizing estimate`'s text."""
    h, host = e.host, e.system.host
    if h is None or host is None:
        return []
    ram = f"{fmt_bytes(h.ram_bytes)} installed" if h.ram_bytes is not None else "RAM size not given"
    verdict = "" if h.ram_bytes is None else (" -> fits" if h.fits_host else " -> DOES NOT FIT")
    dimm = host.dimm.name if host.dimm else f"DIMMs at DDR{host.cpu.ddr_gen}-{host.cpu.max_memory_mt_s}"
    where = OFFLOAD_WORDS[h.offload] + (f", {h.gpu_layers} layers on the GPUs" if h.offload == "layers" else "")
    gpus = "" if h.n_gpus == 0 else f"; the GPUs hold {fmt_bytes(h.gpu_bytes)} in all"
    pcie = "" if h.n_gpus == 0 else f"; PCIe {fmt_decimal_bytes(h.pcie_bytes_s)}/s"
    return [
        "",
        f"Host: {host.n_sockets} x {host.cpu.name}, {host.n_dimms} x {dimm}; {where}",
        f"  RAM needed {fmt_bytes(h.host_bytes)} ({ram}){verdict}{gpus}",
        f"  DRAM {fmt_decimal_bytes(h.socket_bw_bytes_s)}/s per socket, the run reads at "
        f"{fmt_decimal_bytes(h.host_bw_bytes_s)}/s; CPU {h.cpu_flops / 1e12:.1f} TFLOPS ({h.cpu_kernel}){pcie}",
        f"  decode bound: {h.decode_bound}; prefill bound: {h.prefill_bound}",
    ]
