"""Wall time of the CLI as a user runs it (fresh process each time, import included).

    python benchmarks/cli_speed.py [--repeat 5] [--breakdown-only]

Targets (estimator issue): one `sizing estimate` <= 0.5 s; `--scenarios` with 1,000 rows <= 3 s; issue 7: one
`sizing recommend --model 7b` <= 0.4 s cold. `--budget 3000` passes no build, so it also times the ways out (each
a further search). `--breakdown-only` prints where one cold `recommend --model 7b` spends its time (best of
--repeat fresh processes, CPU seconds: import of sizing.cli, catalog load, recommend, text rendering) and the
search's counts (estimates, builds composed, builds judged, Findings made).
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


# Run in a fresh process: the phases of one `sizing recommend --model 7b`, in CPU seconds, and the search's counts.
BREAKDOWN = """
import importlib, time
clock = time.process_time
t0 = clock()
import sizing.cli
t1 = clock()
from sizing import catalog, report, scenarios
from sizing import estimate as est
derive = importlib.import_module("sizing.recommend.derive")  # the package exports functions of these names
search = importlib.import_module("sizing.recommend.search")
from sizing.specs import Finding, RecommendRequest
counts = dict(estimates=0, composed=0, judged=0, findings=0)
def counted(key, f):
    def wrapper(*args, **kwargs):
        counts[key] += 1
        return f(*args, **kwargs)
    return wrapper
est.estimate = counted("estimates", est.estimate)
derive.Composer.derive = counted("composed", derive.Composer.derive)
if hasattr(search, "outcome"):  # every judged build goes through search.outcome
    search.outcome = counted("judged", search.outcome)
else:
    search.judge = counted("judged", search.judge)
init = Finding.__init__
def finding(self, **kw):
    counts["findings"] += 1
    init(self, **kw)
Finding.__init__ = finding
cat = catalog.load(None)
t2 = clock()
result = scenarios.recommend(cat, RecommendRequest(model="7b"))
t3 = clock()
report.recommendation_text(result, top=5, bom=False, lang="en")
t4 = clock()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, *counts.values())
"""
PHASES = ("import sizing.cli", "catalog load", "recommend (search)", "text render")


def breakdown(repeat: int) -> None:
    """Best-of-`repeat` CPU time per phase of a cold `recommend --model 7b`, and its search's counts."""
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", BREAKDOWN], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"the breakdown run failed: {done.stderr.strip().splitlines()[-1]}")
        runs.append([float(x) for x in done.stdout.split()])
    best = [min(run[i] for run in runs) for i in range(len(PHASES))]
    print(f"sizing recommend --model 7b, CPU s (best of {repeat} fresh processes):")
    for name, value in zip(PHASES, best, strict=True):
        print(f"  {name:22s} {value:.3f}")
    print(f"  {'sum':22s} {sum(best):.3f} (Python start-up not included)")
    estimates, composed, judged, findings = (int(x) for x in runs[0][len(PHASES) :])
    print(f"  {estimates} estimates, {composed} builds composed, {judged} judged, {findings} findings made")


def main() -> None:
    parser = argparse.ArgumentParser(description="CLI wall time")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--breakdown-only", action="store_true", help="only the phases of recommend --model 7b")
    args = parser.parse_args()
    breakdown(args.repeat)
    if args.breakdown_only:
        return
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
