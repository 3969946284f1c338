"""`sizing validate --engine vllm|llama.cpp`: the real engine's own benchmark on the build's workload, when the
engine is installed, and its decode tokens/s (all users together, as the build's serve_decode promise counts them).
Absent engines are one line in the notes, never an error."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

from sizing.specs import SizingError

if TYPE_CHECKING:
    from sizing.catalog import Catalog

ENGINES = {"vllm": "vllm", "llama.cpp": "llama-bench"}  # engine -> the executable its benchmark runs as
ENGINE_TIMEOUT_S = 1800


def engine_command(engine: str, model: str, prompt_tokens: int, new_tokens: int, users: int) -> list[str]:
    """The engine's own benchmark for `users` sequences of prompt + new tokens: vLLM's offline `vllm bench
    throughput` (random prompts of --input-len, --output-len each, all submitted at once, at most --max-num-seqs
    running: vLLM docs, benchmarks), llama.cpp's `llama-bench` (-p prompt, -n generated tokens, -o json; one
    sequence at a time, llama.cpp tools/llama-bench README)."""
    if engine == "vllm":
        return [
            "vllm", "bench", "throughput", "--model", model, "--input-len", str(prompt_tokens),
            "--output-len", str(new_tokens), "--num-prompts", str(users * 4), "--max-num-seqs", str(users),
        ]  # fmt: skip
    if engine == "llama.cpp":
        return ["llama-bench", "-m", model, "-p", str(prompt_tokens), "-n", str(new_tokens), "-ngl", "99", "-o", "json"]
    raise SizingError(f"engine '{engine}' has no benchmark here; use --engine vllm or --engine llama.cpp")


def parse_vllm_throughput(text: str) -> float | None:
    """'Throughput: 4.10 requests/s, 16825.09 total tokens/s, 2100.54 output tokens/s' -> 2100.54."""
    m = re.search(r"([\d.]+)\s+output tokens/s", text)
    return float(m.group(1)) if m else None


def parse_llama_bench(text: str) -> float | None:
    """llama-bench -o json: a list of tests; the generation test (n_gen > 0, n_prompt 0) has avg_ts in tokens/s."""
    try:
        rows = json.loads(text)
    except ValueError:
        return None
    gen = [r for r in rows if isinstance(r, dict) and r.get("n_gen", 0) > 0 and not r.get("n_prompt")]
    return float(gen[0]["avg_ts"]) if gen and "avg_ts" in gen[0] else None


def engine_model(catalog: Catalog, engine: str, model: str | None, workload: dict[str, Any]) -> str | None:
    """What the engine loads: the user's --engine-model, else (vLLM) the build's model by its Hugging Face repo;
    llama.cpp needs a GGUF file, which only the user can name."""
    if model:
        return model
    if engine == "llama.cpp":
        return None
    name = workload.get("model")
    spec = catalog.models.get(name) if name else None
    return spec.hf_repo if spec and spec.hf_repo else name


def _invoke(cmd: list[str]) -> tuple[str | None, str]:
    """(stdout, "") of a finished command, or (None, why not)."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{' '.join(cmd)} did not run ({exc.__class__.__name__})"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"{' '.join(cmd)} failed (exit {done.returncode}): {tail[0][:200]}"
    return done.stdout, ""


def engine_run(catalog: Catalog, engine: str, model: str | None, workload: dict[str, Any]) -> tuple[float | None, str]:
    """(decode tokens/s of all users, a one-line note); None with the reason when the engine is absent, fails, or
    measures something else than the promise (llama-bench's one sequence against several users)."""
    exe = ENGINES.get(engine)
    if exe is None:
        raise SizingError(f"engine '{engine}' has no benchmark here; use --engine vllm or --engine llama.cpp")
    target = engine_model(catalog, engine, model, workload)
    if shutil.which(exe) is None or target is None:
        why = f"{exe} not on PATH" if shutil.which(exe) is None else "it needs a model file: pass --engine-model FILE"
        return None, f"{engine} not run ({why}): its throughput was not measured"
    users = int(workload.get("batch") or 1)
    prompt, new = int(workload.get("prompt_tokens") or 512), int(workload.get("new_tokens") or 128)
    cmd = engine_command(engine, target, prompt, new, users)
    out, why = _invoke(cmd)
    rate = None if out is None else (parse_vllm_throughput(out) if engine == "vllm" else parse_llama_bench(out))
    if rate is None:
        return None, why or f"{' '.join(cmd)} printed no throughput this harness can read"
    note = f"{engine}: {' '.join(cmd)} -> {rate:,.1f} output tok/s"
    if engine == "llama.cpp" and users > 1:  # llama-bench runs one sequence: one user's rate, not all users'
        return None, note + f" for one sequence (the build promises {users} users' total: not compared)"
    return rate, note
