"""Wall time of the CLI as a user runs it (fresh process each time, import included).

    python benchmarks/cli_speed.py [--repeat 5]

Targets (estimator issue): one `sizing estimate` <= 0.5 s; `--scenarios` with 1,000 rows <= 3 s; issue 7: one
`sizing recommend --model 7b` <= 0.4 s cold. `--budget 3000` passes no build, so it also times the ways out (each
a further search).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ["llama-3-8b", "qwen2.5-7b", "mixtral-8x7b", "deepseek-v3", "llama-3-70b", "7b", "qwen3-30b-a3b"]
GPUS = ["rtx-4090", "a100-80gb-sxm", "h100-sxm", "l40s", "rtx-3090"]
ENGINES = [("vllm", "bf16"), ("llama.cpp", "q4_k_m"), ("transformers", "gptq-int4"), ("tensorrt-llm", "fp8")]


def wall(args: list[str], repeat: int, ok: tuple[int, ...] = (0,)) -> float:
    """Median wall time of `sizing ARGS` in a fresh process; an exit status outside `ok` raises."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "sizing", *args], capture_output=True)
        times.append(time.perf_counter() - start)
        if done.returncode not in ok:
            raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description="CLI wall time")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(
        f"sizing estimate --model 7b:              {wall(['estimate', '--model', '7b'], args.repeat):.3f} s "
        "(target 0.5 s)"
    )
    print(
        f"sizing estimate ... --json (llama-3-70b): "
        f"{wall(['estimate', '--model', 'llama-3-70b', '--gpus', '2', '--json'], args.repeat):.3f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenarios.csv"
        rows = itertools.islice(itertools.cycle(itertools.product(MODELS, GPUS, ENGINES, [1, 8], [512, 4096])), 1000)
        path.write_text(
            "model,engine,precision,gpu,n_gpus,batch,prompt_tokens,new_tokens\n"
            + "".join(f"{m},{e},{p},{g},{1 if b == 1 else 2},{b},{pt},256\n" for m, g, (e, p), b, pt in rows)
        )
        print(
            "sizing estimate --scenarios (1,000 rows): "
            f"{wall(['estimate', '--scenarios', str(path)], max(1, args.repeat // 2)):.3f} s "
            "(target 3 s)"
        )
    try:
        print(
            f"sizing recommend --model 7b:             {wall(['recommend', '--model', '7b'], args.repeat):.3f} s "
            "(target 0.4 s)"
        )
    except subprocess.CalledProcessError:
        print("sizing recommend --model 7b:             (command not available)")
    print(
        "sizing recommend ... --budget 3000:      "
        f"{wall(['recommend', '--model', '7b', '--budget', '3000'], max(1, args.repeat // 2), ok=(0, 3)):.3f} s "
        "(no build passes: the ways out search again)"
    )


if __name__ == "__main__":
    main()
