"""Measure a real machine and compare it with the estimate: memory bandwidth, dense matmul FLOP/s, and a minimal
Llama-style decoder (random weights of a real model's shape, no download) for prefill/decode speed and peak memory.

The only torch user in `sizing` (.measure imports it inside a function; .decoder and .runner ask it), so
`import sizing.bench` is fast and works without torch. Results go to `<out>/<gpu-id-or-cpu>__<model-id>.json`
(data/benchmarks/ by default), one entry per workload, written atomically; `recompare` re-reads them against the
current estimator.

The code lives in the named modules: measure (torch plumbing, micro benchmarks), decoder (the random-weight
decoder, prefill and decode), runner (a whole run, run, recompare), compare (against the estimate, the table),
files (results on disk), results (the result models); the acceptance harness: probes (triad, host-to-device, numpy,
OOM bisection), validate (`sizing validate`), build_check (`--build`), host (lscpu, dmidecode, NVML), training (one
training step), allreduce (busbw under torchrun), engines (`--engine`), calibrate (`sizing calibrate`).
"""

from .compare import compare, match_gpu, table
from .decoder import Decoder, build_decoder, forward, measure_decode, measure_prefill
from .files import load_results, result_path, save
from .measure import DTYPES, measure_bandwidth, measure_launch, measure_matmul
from .results import ENGINE, BenchFile, BenchRequest, BenchRun, Comparison, Measurement, MetricComparison
from .runner import CPU_LAYERS, measure, recompare, run

__all__ = [
    "CPU_LAYERS",
    "DTYPES",
    "ENGINE",
    "BenchFile",
    "BenchRequest",
    "BenchRun",
    "Comparison",
    "Decoder",
    "Measurement",
    "MetricComparison",
    "build_decoder",
    "compare",
    "forward",
    "load_results",
    "match_gpu",
    "measure",
    "measure_bandwidth",
    "measure_decode",
    "measure_launch",
    "measure_matmul",
    "measure_prefill",
    "recompare",
    "result_path",
    "run",
    "save",
    "table",
]
