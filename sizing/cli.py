"""The command line: each command parses, calls one library function, renders. Errors are one line, exit 2."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import typer
from pydantic import ValidationError

from . import bench as bench_mod
from . import catalog as cat
from . import report, scenarios
from .specs import (
    DEFAULT_CONTEXT_TOKENS,
    DEFAULT_NEW_TOKENS,
    DEFAULT_PROMPT_TOKENS,
    DEFAULT_USERS,
    RecommendRequest,
    Request,
    SizingError,
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Size AI servers: memory, speed and hardware for running, fine-tuning or distilling LLMs.",
)
catalog_app = typer.Typer(no_args_is_help=True, help="Inspect and validate the data catalogs.")
app.add_typer(catalog_app, name="catalog")

DataOpt = typer.Option(None, "--data", help="Folder with your own copy of the catalog CSVs (default: bundled data/).")
# the workload options `estimate` and `recommend` share
ModelOpt = typer.Option(
    "7b", "--model", "-m", help="Catalog id/alias (`sizing models`), a size like 7b, or a local HF folder."
)
TaskOpt = typer.Option("inference", help="What to size: inference.")
EngineOpt = typer.Option(
    None,
    help="Runtime: vllm, llama.cpp, sglang, transformers, tensorrt-llm, exllamav2, mlc-llm, autoawq, gpt-fast "
    "(default: vllm; llama.cpp for GGUF, exllamav2 for EXL2).",
)
PrecisionOpt = typer.Option(
    "bf16",
    help="Weight format: bf16, f16, fp8, int8, gptq-int4, awq-int4, nf4, q4_k_m, q8_0, exl2-4.0bpw, ...",
)
KvOpt = typer.Option(None, help="KV-cache format (default: the engine's): f16, bf16, fp8, q8_0, ...")
NewTokensOpt = typer.Option(DEFAULT_NEW_TOKENS, help="Generated tokens per sequence.")
EXIT_BAD_INPUT = 2  # the request or the data is wrong: one line says what and how to fix it
EXIT_NO_BUILD = 3  # a valid request that no build passes: the ways out say what would


def one_line(text: str) -> str:
    """The text with every control character (a newline in a name the user typed) shown escaped, so an error is
    always one line and cannot forge a second one."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """One line on stderr, exit code 2 (3: no build passes), no traceback."""
    typer.echo(f"error: {one_line(message)}", err=True)
    raise SystemExit(code)


def output_failed(exc: OSError) -> None:
    """stdout could not take the output (a full disk, a closed pipe), or a path failed that the library did not
    name: one line, exit 2. stdout is pointed at /dev/null first, so the interpreter's last flush of what is left
    cannot print a second error."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    reason = exc.strerror or exc.__class__.__name__
    if exc.filename:  # a path the library did not turn into its own error
        fail(f"cannot use '{exc.filename}' ({reason}); check the path")
    fail(f"cannot write the output ({reason}); free space or write somewhere else")


@app.command()
def estimate(
    model: str = ModelOpt,
    task: str = TaskOpt,
    engine: str | None = EngineOpt,
    precision: str = PrecisionOpt,
    kv_precision: str | None = KvOpt,
    gpu: str = typer.Option("rtx-4090", help="GPU id or alias (`sizing gpus`)."),
    gpus: int = typer.Option(1, "--gpus", help="Number of GPUs."),
    batch: int = typer.Option(1, help="Concurrent sequences."),
    prompt_tokens: int = typer.Option(DEFAULT_PROMPT_TOKENS, help="Prompt tokens per sequence."),
    new_tokens: int = NewTokensOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the machine-readable object (see README)."),
    scenarios_file: Path | None = typer.Option(
        None, "--scenarios", help="CSV of scenarios; prints JSON Lines, one per row."
    ),
    data: Path | None = DataOpt,
) -> None:
    """Memory per GPU and prefill/decode speed for one model, workload and GPU."""
    catalog = cat.load(data)
    if scenarios_file is not None:
        results = list(scenarios.run_scenarios(catalog, scenarios_file))
        sys.stdout.write("".join(report.scenario_line(r) + "\n" for r in results))
        if (problem := scenarios.scenario_failure(results)) is not None:
            fail(problem)  # every row failed: the JSON lines are printed, one stderr line, exit 2
        return
    req = Request(
        model=model,
        task=task,
        engine=engine,
        precision=precision,
        kv_precision=kv_precision,
        gpu=gpu,
        n_gpus=gpus,
        batch=batch,
        prompt_tokens=prompt_tokens,
        new_tokens=new_tokens,
    )
    result = scenarios.run(catalog, req)
    typer.echo(json.dumps(report.estimate_json(result), indent=2) if as_json else report.estimate_text(result))


def _split(values: list[str] | None, option: str) -> tuple[str, ...]:
    """Comma-separated ids from a repeatable option; an option given but empty is an error, not 'everything'."""
    ids = tuple(v.strip() for item in values or [] for v in item.split(",") if v.strip())
    if values is not None and values and not ids:
        where = "data/cpus.csv" if option == "--cpu" else "`sizing gpus`"
        raise SizingError(f"{option} is empty; give ids separated by commas (see {where}) or leave it out")
    return ids


@app.command()
def recommend(
    model: str = ModelOpt,
    task: str = TaskOpt,
    engine: str | None = EngineOpt,
    precision: str = PrecisionOpt,
    kv_precision: str | None = KvOpt,
    users: int = typer.Option(DEFAULT_USERS, "--users", "--batch", help="Concurrent sequences (users)."),
    context: int | None = typer.Option(None, help=f"Tokens per user, prompt + new (default {DEFAULT_CONTEXT_TOKENS})."),
    prompt_tokens: int | None = typer.Option(None, help="Prompt tokens per user (instead of --context)."),
    new_tokens: int = NewTokensOpt,
    budget: float | None = typer.Option(None, help="Most the whole build may cost, in --currency."),
    gpu: list[str] | None = typer.Option(
        None, "--gpu", help="Allowed GPUs, comma-separated (e.g. rtx-4090,rtx-a6000)."
    ),
    exclude: list[str] | None = typer.Option(None, help="GPUs to leave out, comma-separated."),
    cpu: list[str] | None = typer.Option(None, "--cpu", help="Allowed CPUs, comma-separated (e.g. xeon-silver-4314)."),
    circuit: str | None = typer.Option(
        None,
        help="Wall circuit: 120v-15a, 120v-20a, 230v-10a, 230v-16a, rack-208v-30a "
        "(default: 120v-15a for towers, rack-208v-30a for servers).",
    ),
    circuits: int | None = typer.Option(
        None, help="Circuits of that kind per machine (default: 1 for a named --circuit, else a rack's feeds)."
    ),
    max_gpus: int | None = typer.Option(None, help="Most GPUs in total."),
    form_factor: str | None = typer.Option(None, help="tower (incl. workstations) or rack."),
    target_tokens_per_s: float | None = typer.Option(None, help="Least total decode tokens/s over all users."),
    objective: str = typer.Option("cost", help="Rank by cost, speed or cost-per-token."),
    currency: str = typer.Option("USD", help="USD or CNY (rate and date from data/fx.csv)."),
    used: bool = typer.Option(False, "--used", help="Allow used-market prices (default: new parts, priced new)."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Judge price ages on this day, YYYY-MM-DD (default: today)."
    ),
    top: int = typer.Option(5, "--top", min=1, help="Builds to show in the table, in rank order."),
    bom: bool = typer.Option(False, "--bom", help="Also print the recommended build's priced bill of materials."),
    as_json: bool = typer.Option(False, "--json", help="Print the machine-readable object (see README)."),
    data: Path | None = DataOpt,
) -> None:
    """Ranked 1-, 2-, 4- and 8-GPU server builds (and clusters) with the full bill of materials."""
    req = RecommendRequest(
        model=model,
        task=task,
        engine=engine,
        precision=precision,
        kv_precision=kv_precision,
        users=users,
        context=context,
        prompt_tokens=prompt_tokens,
        new_tokens=new_tokens,
        budget=budget,
        gpus_allowed=_split(gpu, "--gpu"),
        exclude=_split(exclude, "--exclude"),
        cpus_allowed=_split(cpu, "--cpu"),
        circuit=circuit,
        circuits=circuits,
        used=used,
        as_of=as_of,
        max_gpus=max_gpus,
        form_factor=form_factor,
        target_tokens_per_s=target_tokens_per_s,
        objective=objective,
        currency=currency,
    )
    result = scenarios.recommend(cat.load(data), req)
    typer.echo(
        json.dumps(report.recommendation_json(result), indent=2)
        if as_json
        else report.recommendation_text(result, top=top, bom=bom)
    )
    if not result.options:
        fail("no build passes every rule; ways out: " + "; ".join(result.ways_out), EXIT_NO_BUILD)


@app.command()
def models(
    search: str | None = typer.Argument(None, help="Text to filter ids, names and aliases by."),
    data: Path | None = DataOpt,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list (total/active parameters, context, format)."),
) -> None:
    """List the model catalog: total and active parameters, context length and the format each checkpoint ships in."""
    key = (search or "").lower()
    found = [m for m in cat.load(data).models.values() if key in " ".join((m.id, m.name, *m.aliases)).lower()]
    typer.echo(json.dumps([report.model_json(m) for m in found], indent=2) if as_json else report.models_table(found))


@app.command()
def gpus(
    search: str | None = typer.Argument(None, help="Text to filter ids and names by."),
    data: Path | None = DataOpt,
) -> None:
    """List the GPU catalog (dense tensor TFLOPS, prices with dates)."""
    found = [g for g in cat.load(data).gpus.values() if not search or search.lower() in (g.id + g.name).lower()]
    typer.echo(report.gpus_table(found))


@app.command()
def bench(
    model: str = typer.Option(
        "llama-3-8b", "--model", "-m", help="Model whose shape the bench decoder takes (dense decoders)."
    ),
    gpu: str | None = typer.Option(None, help="Catalog GPU to compare with when the device name is not recognised."),
    prompt_tokens: int = typer.Option(DEFAULT_PROMPT_TOKENS, help="Prompt tokens per sequence."),
    new_tokens: int = typer.Option(128, help="Generated tokens per sequence."),
    batch: int = typer.Option(1, help="Concurrent sequences."),
    out: Path | None = typer.Option(None, help="Folder to save the JSON results in (e.g. data/benchmarks)."),
    quick: bool = typer.Option(False, help="Tiny sizes: a smoke test of the harness, not a measurement."),
    compare: list[Path] | None = typer.Option(
        None,
        "--compare",
        help="Re-compare saved results (files or folders) with today's estimates instead of measuring.",
    ),
    data: Path | None = DataOpt,
) -> None:
    """Measure this machine (needs torch; a GPU for real numbers) and compare it with the estimate."""
    catalog = cat.load(data)
    if compare:
        for result in bench_mod.recompare(catalog, list(compare)):
            m = result.measurement
            typer.echo(
                f"{m.device_name} {m.model_id} batch {m.batch}, prompt {m.prompt_tokens} + new "
                f"{m.new_tokens} ({m.measured_at}) vs {result.gpu_id}\n{bench_mod.table(result)}\n"
            )
        return
    request = bench_mod.BenchRequest(
        model=model, gpu=gpu, prompt_tokens=prompt_tokens, new_tokens=new_tokens, batch=batch, quick=quick
    )
    result = bench_mod.run(catalog, request, out_dir=out, progress=lambda s: typer.echo(s, err=True))
    typer.echo(bench_mod.table(result))
    for note in result.notes:
        typer.echo(f"note: {note}")


@catalog_app.command("check")
def catalog_check(data: Path | None = DataOpt) -> None:
    """Load and validate every catalog file; exit 2 naming the first bad file, row and column."""
    c = cat.load(data)
    typer.echo(
        f"catalog OK: {c.data_dir}: {len(c.models)} models, {len(c.gpus)} GPUs, {len(c.precisions)} "
        f"precisions, {len(c.engines)} engines, {len(c.efficiencies)} efficiency rows"
    )


OPTION_NAMES = {"n_gpus": "--gpus", "gpus_allowed": "--gpu", "cpus_allowed": "--cpu", "users": "--users (--batch)"}


def _invalid(exc: ValidationError) -> str:
    """A pydantic error on a request field as the option the user typed: '--batch must be greater than 0'."""
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else "value"
    option = OPTION_NAMES.get(field, "--" + field.replace("_", "-"))
    if err["type"] == "string_unicode":  # bytes the terminal could not decode
        return f"{option} holds bytes that are not text in this terminal's encoding; retype it (UTF-8)"
    message = (
        err["msg"]
        .replace("Input should be", "must be")
        .replace("String should have at least 1 character", "must not be empty")
    )
    return f"{option} {message}, got {err.get('input')!r}"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        app(args=args, prog_name="sizing", standalone_mode=False)
    except SizingError as exc:
        fail(str(exc))
    except ValidationError as exc:
        fail(_invalid(exc))
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except OSError as exc:  # the library turns every file it reads into a SizingError: this is our own output
        output_failed(exc)
    except Exception as exc:  # click's usage errors (typer may vendor click): one line, exit 2
        if hasattr(exc, "format_message"):
            message = " ".join(exc.format_message().split())
            if not message:  # `sizing` alone: the help was printed
                raise SystemExit(0) from None
            fail(message)
        raise
