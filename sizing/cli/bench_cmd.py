"""`sizing calibrate`: the acceptance harness's saved results into a calibrated copy of the data folder."""

from __future__ import annotations

from pathlib import Path

import typer

from sizing import catalog as cat

from .base import app
from .options import DataOpt


@app.command()
def calibrate(
    results: list[Path] = typer.Argument(
        ..., help="Saved `sizing bench --out` / `sizing validate --save` files, or folders of them."
    ),
    out: Path | None = typer.Option(
        None, help="Folder for the calibrated copy of the data folder (made if missing); then use --data OUT."
    ),
    data: Path | None = DataOpt,
) -> None:
    """Fit the efficiency factors (bandwidth and matmul shares, per-layer time) of each engine x GPU class to saved
    runs, show every figure's error before and after, and with --out write a calibrated data folder."""
    from sizing.bench.calibrate import calibrate as fit
    from sizing.bench.calibrate import calibration_text, save_calibration

    catalog = cat.load(data)
    result = fit(catalog, list(results))
    if out is not None:
        result = save_calibration(catalog, result, out)
    typer.echo(calibration_text(result))
