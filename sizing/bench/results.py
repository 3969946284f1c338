"""What a bench run is asked to measure, what it measured and how that compares with the estimate (the bench's
request and result models)."""

from __future__ import annotations

from pydantic import ConfigDict

from sizing.specs import Base, ModelSpec, NonNegFloat, PosFloat, PosInt

ENGINE = "transformers"  # eager PyTorch with a per-sequence cache, no paging: what the bench decoder is


class BenchRequest(Base):
    """`sizing bench`: what the user asked to measure, by name; `run` resolves it into a BenchRun for this
    machine (no CUDA GPU: CPU, f32, CPU_LAYERS layers). Plain numbers, checked by `run` with the bench's own
    messages."""

    model: str  # a catalog id, a size such as 7b, or a local HF folder (modelspec.resolve)
    gpu: str | None = None  # catalog GPU to compare with when the device name is not recognised
    dtype: str = "bf16"  # measure.DTYPES; CUDA only
    prompt_tokens: int = 512
    new_tokens: int = 128
    batch: int = 1
    n_layers: int | None = None  # layers to build (None: all on CUDA, CPU_LAYERS on CPU)
    quick: bool = False  # tiny micro-benchmark sizes, fewer repeats: a smoke test of the harness


class BenchRun(Base):
    """What to measure: a model's shape as built (fewer layers than the model's on CPU) on a device, at a
    precision, under one workload. The numbers are plain ints: the bench checks them where it uses them, with its
    own one-line errors (measure._check_workload, build_decoder), not pydantic's."""

    model_spec: ModelSpec
    device: str  # "cuda", "cuda:N" or "cpu"
    dtype: str  # bf16, f16 or f32 (measure.DTYPES)
    prompt_tokens: int
    new_tokens: int = 128  # prefill ignores it
    batch: int = 1


class Measurement(Base):
    """What one run measured, on what, under which workload. Memory fields are None off CUDA."""

    device: str  # "cuda" or "cpu"
    device_name: str  # torch.cuda.get_device_name, or the CPU's name
    torch_version: str
    cuda_version: str | None = None
    dtype: str  # bf16, f16 or f32 (weights, activations and KV cache)
    model_id: str
    n_layers: PosInt  # layers actually built (fewer than the model's on CPU)
    n_params: PosFloat  # of the shape built
    prompt_tokens: PosInt
    new_tokens: PosInt
    batch: PosInt
    bandwidth_bytes_s: PosFloat
    matmul_flops: PosFloat
    matmul_n: PosInt
    launch_s: NonNegFloat | None = None  # host cost of one tiny eager op (measure_launch)
    prefill_tokens_per_s: PosFloat  # whole batch
    decode_tokens_per_s: PosFloat  # per sequence, cache growing from prompt to prompt + new
    allocated_peak_bytes: NonNegFloat | None = None  # torch.cuda.max_memory_allocated
    reserved_peak_bytes: NonNegFloat | None = None  # torch.cuda.max_memory_reserved
    device_peak_bytes: NonNegFloat | None = None  # reserved peak + what the allocator does not see (nvidia-smi)
    measured_at: str = ""  # ISO 8601 UTC
    notes: tuple[str, ...] = ()


class MetricComparison(Base):
    metric: str
    unit: str
    measured: float
    estimate: float | None = None
    ratio: float | None = None  # measured / estimate
    basis: str = ""  # where the estimate comes from


class Comparison(Base):
    measurement: Measurement
    gpu_id: str | None = None  # the catalog GPU compared against; None: measurements only
    engine: str = ENGINE
    metrics: tuple[MetricComparison, ...]
    notes: tuple[str, ...] = ()

    def metric(self, name: str) -> MetricComparison:
        found = [m for m in self.metrics if m.metric == name]
        if not found:
            raise KeyError(name)
        return found[0]


class BenchFile(Base):
    """One JSON file under data/benchmarks/: one GPU, one model, one run per workload."""

    gpu: str
    model: str
    runs: tuple[Comparison, ...]


class ValidateFile(Base):
    """What calibration reads back from a `sizing validate --save` file: the decoder runs it kept (the figures
    beside them are for people)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    runs: tuple[Comparison, ...]
