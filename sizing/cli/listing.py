"""The catalog listings, the catalog check, `sizing bench` and `sizing validate`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sizing import catalog as cat
from sizing import report
from sizing.specs import DEFAULT_PROMPT_TOKENS, SizingError

from .base import app, catalog_app
from .options import DataOpt


@app.command()
def models(
    search: str | None = typer.Argument(
        None, help="Text to filter ids, names and aliases by; or `add` followed by a local model folder."
    ),
    folder: Path | None = typer.Argument(None, help="With `add`: a Hugging Face model folder (with config.json)."),
    data: Path | None = DataOpt,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list (total/active parameters, context, format)."),
    model_id: str | None = typer.Option(None, "--id", help="With `add`: the catalog id (default: the folder's name)."),
) -> None:
    """List the model catalog: total and active parameters, context length and the format each checkpoint ships in.

    `sizing models add PATH --data DIR` appends the model in a local Hugging Face folder to DIR/models.csv, your own
    copy of data/ (copy it first: cp -r data DIR)."""
    if search == "add":
        if folder is None or data is None:
            raise SizingError("models add needs a folder and your catalog copy: sizing models add PATH --data DIR")
        from sizing import answers  # imported by the command that uses it: `sizing recommend` starts faster

        spec = answers.add_model(folder, data, model_id)
        typer.echo(
            f"added {spec.id} ({spec.n_params / 1e9:.2f}B params) to {data / 'models.csv'}; use --model {spec.id}"
        )
        return
    if folder is not None:
        raise SizingError(
            f"unexpected argument '{folder}'; give one filter text, or `sizing models add PATH --data DIR`"
        )
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
    from sizing import bench as bench_mod  # imported by the command that uses it

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


@app.command()
def validate(
    model: str | None = typer.Option(None, "--model", "-m", help="The decoder's shape (default: llama-3-8b on a GPU)."),
    build: Path | None = typer.Option(
        None, help="A saved `sizing recommend --json` or `sizing report` JSON: check the machine against it."
    ),
    engine: str | None = typer.Option(None, help="vllm or llama.cpp: run the real engine's benchmark when installed."),
    engine_model: str | None = typer.Option(
        None, help="What --engine loads (default: the build's model by its HF repo; llama.cpp: a .gguf file)."
    ),
    quick: bool = typer.Option(False, help="A short version of every step (under a minute on a 2-core CPU)."),
    save: Path | None = typer.Option(None, help="Folder for the results (e.g. data/benchmarks)."),
    as_json: bool = typer.Option(False, "--json", help="Print the machine-readable object (see README)."),
    report_file: Path | None = typer.Option(
        None, "--report", help="Also write the acceptance report: FILE.md (Markdown) or FILE.html."
    ),
    lang: str = typer.Option("en", "--lang", help="Language of the --report document: en or zh (Simplified Chinese)."),
    data: Path | None = DataOpt,
) -> None:
    """Acceptance test of the machine that arrived: measure it, compare with the datasheet, the estimate and the
    saved build; exit 1 when it falls short."""
    from sizing.bench.validate import ValidateRequest, validation_json, validation_text
    from sizing.bench.validate import validate as run_validation

    lang_key = report.parse_lang(lang)
    if report_file is not None:
        report.acceptance_format(report_file)  # a wrong extension fails now, not after minutes of measuring
    request = ValidateRequest(
        model=model,
        build=str(build) if build else None,
        quick=quick,
        save=str(save) if save else None,
        engine=engine,
        engine_model=engine_model,
    )
    with report.validate_progress("sizing validate") as say:
        result = run_validation(cat.load(data), request, progress=say)
    typer.echo(json.dumps(validation_json(result), indent=2) if as_json else validation_text(result))
    if report_file is not None:
        fmt = report.save_acceptance(validation_json(result), report_file, lang_key)
        typer.echo(f"wrote {report_file} ({fmt}, {lang_key})", err=True)
    if not result.ok:
        raise SystemExit(1)
