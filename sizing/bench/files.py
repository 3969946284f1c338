"""Bench results on disk: `<out>/<gpu-id-or-cpu>__<model-id>.json`, one entry per workload, written
atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from sizing.specs import SizingError

from .compare import _slug
from .results import BenchFile, Comparison, ValidateFile


def result_path(out_dir: Path | str, comparison: Comparison) -> Path:
    m = comparison.measurement
    gpu = comparison.gpu_id or ("cpu" if m.device == "cpu" else _slug(m.device_name))
    return Path(out_dir) / f"{gpu}__{_slug(m.model_id)}.json"


def load_results(path: Path | str, fix: str = "pass a file that `sizing bench --out` wrote") -> BenchFile:
    """A results file; `fix` is what to tell the user when it is not one (saving into a folder: move it away)."""
    path = Path(path)
    try:
        return BenchFile.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SizingError(f"cannot read {path} ({exc.__class__.__name__}); check the path") from None
    except ValidationError:
        raise SizingError(f"{path} is not a bench results file; {fix}") from None


def _workload_key(c: Comparison) -> tuple:
    m = c.measurement
    return (m.device_name, m.dtype, m.n_layers, m.prompt_tokens, m.new_tokens, m.batch)


def _write_atomic(path: Path, text: str) -> None:
    """Write to a temp file in the same folder, then os.replace: readers see the old file or the new, never half
    (POSIX rename(2) is atomic within one file system)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o644)  # mkstemp makes 0600; results are for sharing
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise SizingError(f"cannot write {path} ({exc.strerror or exc}); pick another --out") from None


def check_writable(folder: Path) -> None:
    """The results folder exists (or can be made) and takes a file."""
    _write_atomic(folder / ".write-check", "")
    with contextlib.suppress(OSError):
        (folder / ".write-check").unlink()


def save(comparison: Comparison, out_dir: Path | str) -> Path:
    """Add (or replace, same workload) this run in `<out_dir>/<gpu>__<model>.json`; returns the path."""
    path = result_path(out_dir, comparison)
    runs = list(load_results(path, "move it away or pick another --out").runs) if path.is_file() else []
    runs = [r for r in runs if _workload_key(r) != _workload_key(comparison)] + [comparison]
    gpu, model = path.stem.split("__", 1)
    _write_atomic(path, BenchFile(gpu=gpu, model=model, runs=tuple(runs)).model_dump_json(indent=2) + "\n")
    return path


MECHANICS_KIND = '"kind": "mechanics-'  # how benchmarks/device_mechanics.py's files begin (<gpu>.<what>.json)


def _runs_of(path: Path) -> tuple[Comparison, ...]:
    """The runs a results file holds: a bench file's, or the decoder runs a `sizing validate --save` file keeps."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SizingError(f"cannot read {path} ({exc.__class__.__name__}); check the path") from None
    if MECHANICS_KIND in text[:200]:  # benchmarks/device_mechanics.py's dispatch and training files: no decoder runs
        return ()
    try:
        return BenchFile.model_validate_json(text).runs
    except ValidationError:
        pass
    try:
        return ValidateFile.model_validate_json(text).runs
    except ValidationError:
        raise SizingError(
            f"{path} is neither a `sizing bench --out` nor a `sizing validate --save` file; pass one of those"
        ) from None


def load_runs(paths: list[Path]) -> list[tuple[Path, Comparison]]:
    """Every saved run in `paths` (result files, or folders searched for *.json below them), with its file."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*.json") if not f.name.startswith("."))
        elif p.exists():
            files.append(p)
        else:
            raise SizingError(f"{p} does not exist; pass saved result files or folders of them")
    out = [(f, run) for f in files for run in _runs_of(f)]
    if not out:
        raise SizingError(
            f"no saved runs in {', '.join(map(str, paths))}; run `sizing bench --out` or `validate --save`"
        )
    return out
