"""What one node needs besides GPU memory: RAM, drives, cores, PCIe lanes. Pure functions of the work and the
system; the recommender picks parts against them and the rules check the build against the same numbers."""

from __future__ import annotations

import math

from sizing.specs import Build, Chassis, Drive, Execution, Gpu, ModelSpec, NetworkPart, Requirements, System
from sizing.units import GB, GIB, TB

from . import train_memory
from .shapes import model_file_bytes

OS_RAM_BYTES = 32 * GIB  # OS, page cache for the serving stack, dataloaders
LOAD_FACTOR = 1.5  # loaders stage weights in RAM at 1.5-2x the file (hardware.md §3.5 [S67], UNCONFIRMED)
OS_DISK_BYTES = 256 * GB  # OS, CUDA, containers, logs
DATA_BASE_BYTES = 1 * TB  # datasets, prompts and logs beside the model versions
MODEL_VERSIONS = 4  # model versions and quantizations kept on the data drive
CORES_PER_GPU = 4  # serving/data-loading threads per GPU, at least 8 cores in all: integrator rule of thumb (8 x RTX
MIN_CORES = 8  # 4090 rental servers run on one 32-core EPYC, hardware.md §3.3 [S22]); UNCONFIRMED as a rule
UPLINK_GPUS = 4  # a PCIe switch fans one x16 uplink out to about four x16 GPU slots (Supermicro [S63])
NVME_LANES = 4
NIC_LANES = 16  # a NIC whose row gives no lane count


def requirements(model: ModelSpec, execution: Execution, system: System) -> Requirements:
    """RAM >= the larger of 1.5 x the node's share of the weights (loaders stage the file in RAM) and the node's
    GPU memory (pinned staging buffers, page cache), plus 32 GiB for the OS (hardware.md §3.5 [S66][S67]; ratios
    UNCONFIRMED). The system NVMe holds the OS, CUDA and containers (256 GB) plus two copies of the weights (the
    hub cache and one converted or quantized copy); the data drives hold datasets and four model versions
    (hardware.md §3.6), and for training the kept resumable checkpoints (--keep-checkpoints, default 2) that this
    node writes. Training adds the host RAM its offloaded or paged state takes. Cores: 4 per GPU, 8 at least."""
    file_bytes = model_file_bytes(model, execution.precision)
    ram = max(LOAD_FACTOR * file_bytes / system.n_nodes, system.n_gpus * system.gpu.memory_bytes) + OS_RAM_BYTES
    checkpoints = 0.0
    if execution.training is not None:  # offloaded or paged state lives in host RAM; the run keeps resumable saves
        mem = train_memory.memory(model, execution, system)
        ram += mem.host_bytes * system.n_gpus
        kept = execution.training.keep_checkpoints  # --keep-checkpoints (specs.training DEFAULT_KEEP_CHECKPOINTS)
        checkpoints = kept * train_memory.checkpoint_bytes_per_node(model, execution, system.n_nodes)
    return Requirements(
        ram_bytes=ram,
        system_drive_bytes=OS_DISK_BYTES + 2 * file_bytes,
        data_drive_bytes=DATA_BASE_BYTES + MODEL_VERSIONS * file_bytes + checkpoints,
        cores=max(MIN_CORES, CORES_PER_GPU * system.n_gpus),
    )


def system_drive_interface(chassis: Chassis) -> str:
    """The system NVMe goes in an M.2 slot where the board has one, else in a U.2 bay."""
    return "nvme-m2" if chassis.m2_slots else "nvme-u2"


def data_bays(chassis: Chassis) -> int:
    """Bays for data drives: the 3.5" bays (HDDs) where there are any, else the 2.5" bays the system drive leaves."""
    if chassis.drive_bays_3_5:
        return chassis.drive_bays_3_5
    return max(0, chassis.drive_bays_2_5 - (0 if system_drive_interface(chassis) == "nvme-m2" else 1))


def gpu_lanes(gpu: Gpu, n: int, chassis: Chassis, lanes_each: int) -> int:
    """CPU lanes the GPUs take: x16 per switch uplink of four GPUs (or an SXM board's host links), else their slots."""
    if chassis.pcie_switch or gpu.form_factor != "pcie":
        return 16 * math.ceil(n / UPLINK_GPUS)
    return n * lanes_each


def io_lanes(drives: tuple[tuple[Drive, int], ...], nic: NetworkPart | None) -> int:
    """Lanes the NVMe drives (x4 each; SATA/SAS take none) and the NIC take."""
    n_nvme = sum(n for d, n in drives if d.interface.startswith("nvme"))
    return NVME_LANES * n_nvme + ((nic.pcie_lanes or NIC_LANES) if nic else 0)


def lanes_used(b: Build) -> int:
    """Every lane the build takes from its CPUs (hardware.md §3.4 [S62][S63])."""
    drives = ((b.system_drive, b.n_system_drives),) + (((b.data_drive, b.n_data_drives),) if b.data_drive else ())
    frontend = (b.frontend_nic.pcie_lanes or NIC_LANES) if b.frontend_nic else 0
    return gpu_lanes(b.gpu, b.n_gpus, b.chassis, b.gpu_lanes_each) + io_lanes(drives, b.nic) + frontend
