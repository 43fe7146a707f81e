"""Writing output files: the one place for atomic writes and for CSV, JSON and XLSX text (issue 12).

A failed export must never replace a good file with a broken one, so every file is written
to a temporary file in the target folder and moved into place with ``os.replace`` (as black's
cache does). Spreadsheet cells go through ``qualkam.render.cells`` first, so no text runs as
a formula.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pandas as pd

from qualkam.errors import QualkamError
from qualkam.render.cells import frame_csv

__all__ = ["atomic_open", "frame_json", "write_bytes", "write_csv", "write_text", "write_workbook"]

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_open(
    path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = ""
) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one step."""
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
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_text(text: str, path: str | Path, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically, line ends as given."""
    with atomic_open(path, encoding=encoding) as handle:
        handle.write(text)
    return Path(path)


def write_bytes(data: bytes, path: str | Path) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_csv(frame: pd.DataFrame, path: str | Path, index: bool = False) -> Path:
    """Write a DataFrame as UTF-8 CSV atomically, safe to open in a spreadsheet."""
    return write_text(frame_csv(frame, index=index), path)


def frame_json(frame: pd.DataFrame) -> str:
    """A DataFrame as a JSON list of records (the ``--format json`` of table commands)."""
    return frame.to_json(orient="records", force_ascii=False, indent=1)


def write_workbook(book: Any, path: str | Path) -> Path:
    """Save an openpyxl workbook atomically (its cells made with ``cells.xlsx_value``)."""
    buffer = io.BytesIO()
    book.save(buffer)
    return write_bytes(buffer.getvalue(), path)
