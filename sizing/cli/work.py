"""`sizing estimate` and `sizing recommend`: parse, call one library function, render."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from sizing import catalog as cat
from sizing import report, reverse, scenarios
from sizing.specs import (
    DEFAULT_PROMPT_TOKENS,
    RL_ALGOS,
    Request,
)

from .base import EXIT_NO_BUILD, app, fail
from .options import (
    CpuOpt,
    DataOpt,
    DimmsOpt,
    EngineOpt,
    GpuLayersOpt,
    KvOpt,
    LangOpt,
    MemoryOpt,
    ModelOpt,
    NewTokensOpt,
    PrecisionOpt,
    SocketsOpt,
    TaskOpt,
    ThreadsOpt,
    recommend_request,
    training_fields,
)
from .report_cmd import write_recommend_report
from .shared import ESTIMATE_OPTIONS, RECOMMEND_OPTIONS, with_options


@app.command()
@with_options(*ESTIMATE_OPTIONS)
def estimate(
    model: str = ModelOpt,
    task: str = TaskOpt,
    engine: str | None = EngineOpt,
    precision: str = PrecisionOpt,
    kv_precision: str | None = KvOpt,
    gpu: str = typer.Option("rtx-4090", help="GPU id or alias (`sizing gpus`)."),
    gpus: int = typer.Option(1, "--gpus", help="Number of GPUs (0: CPU only, with --cpu)."),
    batch: int = typer.Option(1, help="Concurrent sequences (training: the micro-batch per GPU)."),
    prompt_tokens: int | None = typer.Option(
        None, help=f"Prompt tokens per sequence (default {DEFAULT_PROMPT_TOKENS})."
    ),
    new_tokens: int = NewTokensOpt,
    cpu: str | None = CpuOpt,
    sockets: int | None = SocketsOpt,
    memory: str | None = MemoryOpt,
    dimms: int | None = DimmsOpt,
    gpu_layers: int | None = GpuLayersOpt,
    threads: int | None = ThreadsOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the machine-readable object (see README)."),
    scenarios_file: Path | None = typer.Option(
        None, "--scenarios", help="CSV of scenarios; prints JSON Lines, one per row."
    ),
    largest: str | None = typer.Option(
        None, "--max", help="Answer the largest value that fits: users (training: micro-batch), context or seq-len."
    ),
    data: Path | None = DataOpt,
    lang: str | None = LangOpt,
    **shared: Any,
) -> None:
    """Memory per GPU and prefill/decode speed for one model, workload and GPU."""
    lang = report.term_lang(lang)
    catalog = cat.load(data)
    if scenarios_file is not None:
        from sizing import answers  # each task's library is imported where it is used: a fast start

        results = list(answers.run_scenarios(catalog, scenarios_file))
        sys.stdout.write("".join(report.scenario_line(r) + "\n" for r in results))
        if (problem := answers.scenario_failure(results)) is not None:
            fail(problem)  # every row failed: the JSON lines are printed, one stderr line, exit 2
        return
    req = Request(
        model=shared.get("student") or model,
        task=task,
        engine=engine,
        precision=precision,
        kv_precision=kv_precision,
        gpu=gpu,
        n_gpus=gpus,
        batch=batch,
        prompt_tokens=prompt_tokens,
        new_tokens=new_tokens,
        **training_fields({**shared, "task": task}),
        cpu=cpu,
        n_sockets=sockets,
        memory=memory,
        n_dimms=dimms,
        gpu_layers=gpu_layers,
        threads=threads,
        max_ttft_s=shared.get("max_ttft_s"),
        min_user_tokens_per_s=shared.get("min_user_tokens_per_s"),
        speculative=shared.get("speculative"),
        acceptance=shared.get("acceptance"),
        draft_tokens=shared.get("draft_tokens"),
        draft_model=shared.get("draft_model"),
        dp_attention=bool(shared.get("dp_attention")),
    )
    if req.task.strip().lower() in RL_ALGOS:
        from sizing import rl

        step = rl.estimate(catalog, req)
        typer.echo(json.dumps(report.rl_json(step), indent=2) if as_json else report.rl_text(step, lang))
        return
    if req.task.strip().lower() == "distill":
        from sizing import distillation

        plans = distillation.estimate(catalog, req)
        typer.echo(json.dumps(report.distill_json(plans), indent=2) if as_json else report.distill_text(plans, lang))
        return
    if largest is not None:
        value, at = reverse.largest(catalog, req, largest.strip().lower())
        typer.echo(
            json.dumps({"max": {largest: value}, **report.estimate_json(at)}, indent=2)
            if as_json
            else report.largest_text(largest, value, at, lang)
        )
        return
    result = scenarios.run(catalog, req)
    typer.echo(json.dumps(report.estimate_json(result), indent=2) if as_json else report.estimate_text(result, lang))


@app.command()
@with_options(*RECOMMEND_OPTIONS)
def recommend(
    top: int = typer.Option(5, "--top", min=1, help="Builds to show in the table, in rank order."),
    bom: bool = typer.Option(False, "--bom", help="Also print the recommended build's priced bill of materials."),
    as_json: bool = typer.Option(False, "--json", help="Print the machine-readable object (see README)."),
    report_file: Path | None = typer.Option(
        None,
        "--report",
        help="Also write the procurement report to this .md, .html, .xlsx, .json or .pdf file (sizing report).",
    ),
    data: Path | None = DataOpt,
    lang: str | None = LangOpt,
    **request: Any,
) -> None:
    """Ranked 1-, 2-, 4- and 8-GPU server builds (and clusters) with the full bill of materials."""
    lang = report.term_lang(lang)
    if report_file is not None:
        report.check_format(report.parse_format(None, report_file))
    req = recommend_request(request)
    if req.task.strip().lower() in RL_ALGOS:
        from sizing import rl

        found = rl.recommend(cat.load(data), req)
        typer.echo(
            json.dumps(report.rl_recommendation_json(found), indent=2)
            if as_json
            else report.rl_recommendation_text(found, bom=bom, lang=lang)
        )
        if found.build is None:
            notes = report.say(lang, "finding.sep").join(report.resay(lang, n) for n in found.notes)
            failed = "term.fail.rl_in_time" if found.deadline_missed else "term.fail.rl"
            fail(report.say(lang, failed, notes=notes), EXIT_NO_BUILD)
        if report_file is not None:
            write_recommend_report(found, report_file, data, lang)
        return
    if req.task.strip().lower() == "distill":
        from sizing import distillation

        plan = distillation.recommend(cat.load(data), req)
        typer.echo(
            json.dumps(report.distill_recommendation_json(plan), indent=2)
            if as_json
            else report.distill_recommendation_text(plan, bom=bom, lang=lang)
        )
        if plan.build is None:
            notes = report.say(lang, "finding.sep").join(report.resay(lang, n) for n in plan.notes)
            fail(report.say(lang, "term.fail.distill", notes=notes), EXIT_NO_BUILD)
        if report_file is not None:
            write_recommend_report(plan, report_file, data, lang)
        return
    result = scenarios.recommend(cat.load(data), req)
    typer.echo(
        json.dumps(report.recommendation_json(result), indent=2)
        if as_json
        else report.recommendation_text(result, top=top, bom=bom, lang=lang)
    )
    if not result.options and not result.classes:
        ways = report.say(lang, "finding.sep").join(report.resay(lang, w) for w in result.ways_out)
        fail(report.say(lang, "term.fail.no_build", ways=ways), EXIT_NO_BUILD)
    if report_file is not None:
        write_recommend_report(result, report_file, data, lang)
