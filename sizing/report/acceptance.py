"""The acceptance report of `sizing validate --report FILE`: the machine that arrived, every figure measured against
what was promised (measured, estimated, ratio, pass/fail), the saved build's part checks, the notes and the verdict,
as Markdown or HTML in English or Chinese. It renders the `validate --json` object (also what `--save` writes), so a
saved result renders the same report later; the templates and the atomic write are the procurement report's."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sizing.specs import SizingError

from .procurement_format import Fmt
from .procurement_render import EXTENSIONS, _environment, _raw, write_report

ACCEPTANCE_FORMATS = ("md", "html")
# what `validate --build` checks on the parts and the promised service (sizing/bench/build_check.py names them);
# every other row is a measurement of the machine
BUILD_CHECKS = (
    "gpu_model",
    "gpu_count",
    "gpu_memory",
    "power_limit",
    "pcie_width",
    "cpu_model",
    "cpu_cores",
    "host_memory",
    "memory_dimms",
    "memory_speed",
    "serve_decode",
    "power_under_load",
)


def acceptance_format(out: Path) -> str:
    """md or html from the --report file's extension; a one-line error for anything else (before measuring)."""
    if out.is_dir():
        raise SizingError(f"--report '{out}' is a folder; name a file, e.g. {out / 'acceptance.html'}")
    fmt = EXTENSIONS.get(out.suffix.lower())
    if fmt not in ACCEPTANCE_FORMATS:
        raise SizingError(f"--report '{out}': the acceptance report is Markdown or HTML; end the file in .md or .html")
    if not out.parent.is_dir():
        raise SizingError(f"--report '{out}': the folder {out.parent} does not exist; make it or name another file")
    return fmt


class AcceptanceView(Fmt):
    """A measurement's figures in its unit, its verdict and the device's rows, in one language."""

    def figure(self, value: float | str | None, unit: str) -> str:
        if value is None or isinstance(value, str):
            return value or "-"
        if unit == "FLOP/s":  # GFLOP/s below a TFLOP/s (a CPU), TFLOP/s above
            return f"{value / 1e12:,.1f} TFLOP/s" if value >= 1e12 else f"{value / 1e9:,.2f} GFLOP/s"
        shown = {"B/s": lambda x: f"{x / 1e9:,.1f} GB/s", "B": self.gib, "tok/s": self.rate}.get(unit)
        if shown:
            return shown(value)
        return f"{value:,.{0 if float(value).is_integer() else 1}f} {unit}".rstrip()  # 8 GPUs, 16 sequences

    def ratio(self, m: dict[str, Any]) -> str:
        return "-" if m.get("ratio") is None else self.pct(m["ratio"])

    def verdict(self, ok: bool | None) -> str:
        return self.t({True: "acc.pass", False: "acc.fail", None: "acc.info"}[ok])

    def device_rows(self, device: dict[str, Any]) -> list[tuple[str, str]]:
        gpus = device.get("gpus") or []
        nvml = device.get("nvml") or {}
        return [
            (self.t("acc.dev.cpu"), f"{device.get('cpu') or '-'} ({device.get('cpu_threads') or '-'})"),
            (self.t("acc.dev.ram"), self.gib(device["host_memory_bytes"]) if device.get("host_memory_bytes") else "-"),
            (self.t("acc.dev.gpus"), f"{len(gpus)} x {gpus[0]}" if gpus else self.t("acc.dev.no_gpu")),
            (self.t("acc.dev.gpu_id"), device.get("gpu_id") or "-"),
            (self.t("acc.dev.software"), f"torch {device.get('torch') or '-'}, CUDA {device.get('cuda') or '-'}"),
            (self.t("acc.dev.driver"), nvml.get("driver") or nvml.get("reason") or "-"),
            (self.t("acc.dev.date"), device.get("measured_at") or "-"),
        ]


def _sections(result: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(measurements of the machine, checks of the saved build's parts and service), in the result's order."""
    rows = result.get("measurements") if isinstance(result, dict) else None
    valid = isinstance(rows, list) and all(isinstance(m, dict) and "name" in m and "measured" in m for m in rows)
    if not valid or not isinstance(result.get("device"), dict) or "ok" not in result:
        raise SizingError(
            "the result is not a `sizing validate --json` / `--save` object; pass one that validate wrote"
        )
    assert isinstance(rows, list)
    measured = [m for m in rows if m["name"] not in BUILD_CHECKS]
    build = [m for m in rows if m["name"] in BUILD_CHECKS]
    return measured, build


def render_acceptance(result: dict[str, Any], fmt: str, lang: str = "en") -> str:
    """The acceptance report of one validation (the `validate --json` object) as Markdown or HTML in `lang`."""
    if fmt not in ACCEPTANCE_FORMATS:
        raise SizingError(f"the acceptance report is md or html, not '{fmt}'")
    measured, build = _sections(result)
    f = AcceptanceView(lang, "USD")
    context = {
        "v": result,
        "measured": measured,
        "build": build,
        "notes": list(result.get("notes") or ()),
        "f": f,
        "t": f.t,
        "raw": _raw,
        "lang": lang,
    }
    return str(_environment(fmt).get_template(f"acceptance.{fmt}").render(**context))


def save_acceptance(result: dict[str, Any], out: Path, lang: str = "en") -> str:
    """Render the report in the format `out`'s extension names and write it whole or not at all; returns md/html."""
    fmt = acceptance_format(out)
    write_report(render_acceptance(result, fmt, lang), out)
    return fmt


@contextlib.contextmanager
def progress(title: str) -> Iterator[Callable[[str], None]]:
    """`rich` progress on stderr while validate measures: a live status line naming the current step (a spinner on a
    terminal), and each finished step kept as one line with its wall time, so a slow step shows which it was."""
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    current: list[Any] = [None, time.perf_counter()]

    def finish() -> None:
        if current[0] is not None:
            console.print(f"  {current[0]}: {time.perf_counter() - current[1]:.1f} s")

    with console.status(title) as status:

        def say(step: str) -> None:
            finish()
            current[:] = [step, time.perf_counter()]
            status.update(f"{title}: {step}")

        yield say
        finish()
