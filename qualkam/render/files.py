"""Writing output files: the one place for atomic writes and for CSV, JSON and XLSX text (issue 12).

A failed export must never replace a good file with a broken one, so every file is written
to a temporary file in the target folder and moved into place with ``os.replace`` (as black's
cache does). Spreadsheet cells go through ``qualkam.render.cells`` first, so no text runs as
a formula. JSON text is made by ``json_text`` alone. The module imports neither pandas nor
openpyxl, so command modules can use it and still start light.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from qualkam.errors import QualkamError
from qualkam.render.number import plain

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FRAME_KINDS",
    "atomic_open",
    "frame_json",
    "frame_kind",
    "json_text",
    "write_bytes",
    "write_csv",
    "write_frame",
    "write_text",
    "write_workbook",
]

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_open(
    path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = ""
) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one step.

    On any error the temporary file is removed and ``path`` is left as it was; an ``OSError``
    (a full disk, no permission) becomes one ``QualkamError`` line: ``cannot write PATH: why``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise QualkamError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        opened = os.fdopen(fd, mode) if "b" in mode else os.fdopen(fd, mode, encoding=encoding, newline=newline)
        with opened as handle:
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; outputs in a shared folder are not
            yield handle
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise QualkamError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise


def write_text(text: str, path: str | Path, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically, line ends as given (``utf-8-sig`` for a CSV that
    Excel must read as UTF-8)."""
    with atomic_open(path, encoding=encoding) as handle:
        handle.write(text)
    return Path(path)


def write_bytes(data: bytes, path: str | Path) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def json_text(value: Any, indent: int = 1) -> str:
    """``value`` as JSON text ending in a line end: characters as they are (not ``\\u`` escapes),
    a missing number as null (never NaN, which is not JSON), numpy scalars as numbers, and
    anything else JSON has no type for (a date, a path) as its text."""
    return json.dumps(plain(value), ensure_ascii=False, indent=indent, allow_nan=False, default=str) + "\n"


def write_csv(frame: pd.DataFrame, path: str | Path, index: bool = False) -> Path:
    """Write a DataFrame as UTF-8 CSV atomically, safe to open in a spreadsheet."""
    from qualkam.render.cells import frame_csv  # imports pandas

    return write_text(frame_csv(frame, index=index), path)


def frame_json(frame: pd.DataFrame) -> str:
    """A DataFrame as a JSON list of records (the ``--format json`` of table commands)."""
    return frame.to_json(orient="records", force_ascii=False, indent=1)


FRAME_KINDS = (".csv", ".json")


def frame_kind(path: str | Path, argument: str = "path") -> str:
    """``csv`` or ``json``, from the suffix of the file a table goes to."""
    suffix = Path(path).suffix.lower()
    if suffix not in FRAME_KINDS:
        raise QualkamError(
            f"{{argument}} {path}: unknown file type {suffix or '(no suffix)'!r}; name it .csv or .json",
            argument=argument,
        )
    return suffix[1:]


def write_frame(frame: pd.DataFrame, path: str | Path, indent: int = 2, argument: str = "path") -> Path:
    """A table as CSV or as a JSON list of records (``json_text``), by the suffix of ``path``."""
    if frame_kind(path, argument) == "json":
        return write_text(json_text(frame.to_dict(orient="records"), indent=indent), path)
    return write_csv(frame, path)


def write_workbook(book: Any, path: str | Path) -> Path:
    """Save an openpyxl workbook atomically (its cells made with ``cells.xlsx_value``)."""
    buffer = io.BytesIO()
    book.save(buffer)
    return write_bytes(buffer.getvalue(), path)
