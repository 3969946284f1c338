"""Finding English left in a Chinese terminal output: runs of three or more ASCII words on a line once the names a
reader keeps untranslated are taken out (catalog ids and part names, units, numbers, command-line flags and launch
commands). Used by tests/test_say.py."""

from __future__ import annotations

import re
from typing import get_args

from sizing.catalog import Catalog
from sizing.specs.base import GpuVendor
from sizing.specs.system import FABRICS

# units and symbols the Chinese text keeps as they are (sizing.units; templates/i18n/zh.json writes the same)
UNITS = r"(?:GiB|MiB|KiB|GB|TB|MB|kB|tok/s|TFLOPS|MT/s|GB/s|TB/s|ms|min|dBA|BTU/h|kWh|W|V|A|s|h|x)"
FLAG = r"--[a-z][a-z0-9-]*(?:[ =][^\s,;，；）)]+)?"  # a command-line option and its value
WORD = r"[A-Za-z][A-Za-z'’.-]*"
RUN = re.compile(rf"{WORD}(?:[ ,/()+&:-]+{WORD}){{2,}}")
COMMAND_STARTS = (
    "vllm serve",
    "python -m",
    "llama-server",
    "sglang",
    "trtllm-serve",
    "text-generation-launcher",
    "mlc_llm",
    "lmdeploy",
    "docker run",
    "torchrun",
    "accelerate launch",
    "deepspeed",
    "nvidia-smi",
)


def kept_names(catalog: Catalog) -> list[str]:
    """Every id and name in the catalog (parts, models, engines, trainers) and the vendor ids a finding lists (an
    engine's vendors), longest first so a long name goes before a short one inside it."""
    names: set[str] = set(FABRICS.values()) - {"on-chip RoCE links"}  # scale-up links by name: NVLink, Infinity Fabric
    names |= set(get_args(GpuVendor))
    for field in type(catalog).model_fields:
        table = getattr(catalog, field)
        rows = table.values() if isinstance(table, dict) else table if isinstance(table, tuple) else ()
        for row in rows:
            for attr in ("id", "name", "label"):
                value = getattr(row, attr, None)
                if isinstance(value, str) and value:
                    names.add(value)
    return sorted(names, key=len, reverse=True)


def unfolded(text: str) -> list[str]:
    """The lines of `text`, each table row (rich folds a long cell over several lines) as one line of its cells, each
    cell's pieces joined: a part name cut at the cell's width reads whole again."""
    out: list[str] = []
    row: list[str] = []
    for line in [*text.splitlines(), ""]:
        cells = line.strip().strip("│").split("│") if line.startswith("│") else None
        if cells is not None and row and cells[0].strip() == "":
            row = [
                a + b.strip() if a.endswith("-") else (a + " " + b.strip()).strip()
                for a, b in zip(row, cells, strict=False)
            ]
            continue
        if row:
            out.append(" | ".join(row))
            row = []
        if cells is not None:
            row = [c.strip() for c in cells]
        else:
            out.append(line)
    return out


def english_runs(text: str, names: list[str]) -> list[str]:
    """The runs of 3+ English words left on each line of `text` once kept names, commands, flags, units and numbers
    are removed."""
    found = []
    for line in unfolded(text):
        for start in COMMAND_STARTS:  # a launch command runs to the end of its line
            if start in line:
                line = line[: line.index(start)]
        for name in names:
            if name in line:
                line = line.replace(name, " ¶ ")
        line = re.sub(FLAG, " ¶ ", line)
        line = re.sub(r"[\w.]+(?:-[\w.]+)+", " ¶ ", line)  # an id or a part number: rtx-4090, DDR5-5600, Q4_K_M
        line = re.sub(rf"(?<![A-Za-z])[\d.,]+\s*{UNITS}?(?![A-Za-z])", " ¶ ", line)
        line = re.sub(rf"(?<![A-Za-z]){UNITS}(?![A-Za-z])", " ¶ ", line)
        found += [m.group(0) for m in RUN.finditer(line)]
    return found
