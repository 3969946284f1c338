"""Reading what the user points --model at, defensively: only regular files (a FIFO or a device would block or
never end), at most a stated number of bytes, strict JSON, and anything echoed back made safe for one line.

JSON as Python parses it is laxer than the standard (RFC 8259): it takes NaN and Infinity, turns 1e400 into inf
and 10**400 into an int no float can hold, keeps the last of two equal keys, and recurses once per nesting level.
`load_json` keeps each such number as a `BadNumber` so the caller can name the key that holds it, and turns
duplicate keys and runaway nesting into errors."""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NamedTuple

from sizing.specs import SizingError
from sizing.specs.base import one_line

MIB = 1 << 20
MAX_INT_DIGITS = 30  # beyond any count a model file holds; longer digit strings are kept as text (BadNumber)


class BadNumber(NamedTuple):
    """A JSON number that is not finite, or too large for a float, as the file wrote it."""

    text: str


def show(text: object, limit: int = 160) -> str:
    """`text` made safe to echo in a one-line error: control and other unprintable characters (newlines, line
    separators, lone surrogates from undecodable file names) escaped, and the middle cut when it is long."""
    safe = one_line(str(text))
    if len(safe) > limit:
        half = (limit - 1) // 2
        safe = f"{safe[:half]}…{safe[-half:]}"
    return safe


def describe(value: object) -> str:
    """A JSON value as the user would recognise it, without walking into lists or objects."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, BadNumber):
        digits = value.text.lstrip("-")
        return show(value.text, 40) + (f" ({len(digits)} digits)" if digits.isdigit() else "")
    if isinstance(value, (int, float)):
        return show(value, 40)
    if isinstance(value, str):
        return show(json.dumps(value), 60)
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__


def _kind_of(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def kind(path: Path) -> str | None:
    """'folder', 'file', what else the path is ('a FIFO (named pipe)', ...), or None when nothing can be there
    (missing, a name too long for a file, an embedded NUL). Never opens the path; other errors (permission
    denied, a symlink loop) become a SizingError that says so."""
    try:
        mode = os.stat(path).st_mode
    except ValueError:  # an embedded NUL byte: no file has that name
        return None
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
            return None
        raise SizingError(f"cannot look at '{show(path)}' ({show(exc.strerror)}); check the path") from None
    if stat.S_ISDIR(mode):
        return "folder"
    return "file" if stat.S_ISREG(mode) else _kind_of(mode)


@contextmanager
def open_regular(path: Path, fix: str) -> Iterator[tuple[BinaryIO, int]]:
    """(file, size in bytes) of `path`, refusing anything that is not a regular file before reading from it.
    O_NONBLOCK makes opening a FIFO return at once, so fstat can refuse it instead of a read hanging. An OSError
    while the caller reads becomes a SizingError too."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise SizingError(f"cannot read {show(path)} ({show(exc.strerror)}); check the file") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SizingError(f"{show(path)} is {_kind_of(info.st_mode)}, not a file; {fix}")
        with os.fdopen(fd, "rb") as fh:
            fd = -1  # the file object closes it now
            yield fh, info.st_size
    except OSError as exc:
        raise SizingError(f"cannot read {show(path)} ({show(exc.strerror)}); check the file") from None
    finally:
        if fd >= 0:
            os.close(fd)


def read_capped(path: Path, limit: int, fix: str) -> bytes:
    """All bytes of the regular file `path`, which must hold at most `limit` of them."""
    with open_regular(path, fix) as (fh, size):
        data = fh.read(limit + 1) if size <= limit else b""
    if size > limit or len(data) > limit:  # too large, or grew while we read it
        raise SizingError(f"{show(path)} is larger than the {limit / MIB:g} MiB a {show(path.name)} can be; {fix}")
    return data


def _number(text: str) -> float | BadNumber:
    value = float(text)
    return value if math.isfinite(value) else BadNumber(text)


def _integer(text: str) -> int | BadNumber:
    return int(text) if len(text.lstrip("-")) <= MAX_INT_DIGITS else BadNumber(text)


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def load_json(data: bytes, path: Path, fix: str) -> object:
    """Strict JSON from `data` (UTF-8, an optional BOM): NaN, Infinity, overflowing and huge numbers come back as
    BadNumber; duplicate keys, deep nesting, bad UTF-8 and bad syntax are errors naming the file and `fix`."""
    try:
        text = data.decode("utf-8-sig")  # editors on Windows save UTF-8 with a BOM
    except UnicodeDecodeError as exc:
        raise SizingError(f"{show(path)} is not UTF-8 text (byte {exc.start}); {fix}") from None
    try:
        return json.loads(
            text,
            parse_constant=BadNumber,
            parse_float=_number,
            parse_int=_integer,
            object_pairs_hook=_no_duplicates,
        )
    except _Duplicate as exc:
        raise SizingError(f"{show(path)} names the key '{show(exc.args[0], 60)}' twice; keep one and retry") from None
    except RecursionError:
        raise SizingError(f"{show(path)} is nested too deeply to be a model file; {fix}") from None
    except json.JSONDecodeError as exc:
        raise SizingError(
            f"{show(path)} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); {fix}"
        ) from None
