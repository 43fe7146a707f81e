"""Writing a DataFrame the way the user asked: a rich table, CSV or JSON, to stdout or a file."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from rich.markup import escape
from rich.table import Table

from qualkam.choices import check_choice
from qualkam.cli.console import err, out
from qualkam.errors import QualkamError
from qualkam.render import files
from qualkam.render.cells import frame_csv
from qualkam.render.number import missing, number

FORMATS = ("table", "csv", "json")
SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}


def choose_format(fmt: str | None, out_file: Path | None, formats: tuple[str, ...]) -> str:
    """``--format``, else the ``--out`` file's suffix, else a table on the terminal."""
    files = ", ".join(f for f in formats if f != "table")
    if fmt is None:
        if out_file is None:
            return "table"
        fmt = SUFFIX_FORMATS.get(out_file.suffix.lower())
        if fmt is None or fmt not in formats:
            raise QualkamError(
                f"--out {out_file}: cannot tell the format from '{out_file.suffix}'; pass --format {files}"
            )
    fmt = check_choice("--format", fmt, formats)
    if fmt == "table" and out_file is not None:
        raise QualkamError(f"a table is for the terminal; with --out pass --format {files}")
    return fmt


def write_text(text: str, out_file: Path | None) -> None:
    """File output atomically; otherwise plain text on stdout (no rich markup, so it pipes)."""
    if out_file is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    files.write_text(text, out_file)
    err.print(f"wrote {escape(str(out_file))}", highlight=False)


def _short(value: object, limit: int = 60) -> str:
    text = "" if missing(value) else " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def emit(
    frame: pd.DataFrame, fmt: str, out_file: Path | None, title: str | None = None, empty: str = "nothing to show"
) -> None:
    """One place for table/csv/json output; files are written atomically."""
    fmt = check_choice("--format", fmt, FORMATS)
    if frame.empty and out_file is None:
        err.print(empty)
        return
    if fmt == "table" and out_file is None:
        # The terminal view is a summary: long cells are cut; --format csv|json has everything.
        table = Table(title=escape(title) if title else None, header_style="bold", show_lines=False)
        # A column of shares has the places every table uses (0.000, not 0.0 beside 0.051);
        # number columns are right-aligned.
        shares = [pd.api.types.is_float_dtype(frame[c]) for c in frame.columns]
        cells = [
            [escape(number(v) if share else _short(v)) for v, share in zip(row, shares, strict=True)]
            for row in frame.itertuples(index=False)
        ]
        for column in frame.columns:
            numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column])
            table.add_column(escape(str(column)), overflow="fold", justify="right" if numeric else "left")
        for row in cells:
            table.add_row(*row)
        out.print(table)
        return
    text = files.frame_json(frame) if fmt == "json" else frame_csv(frame)
    if out_file is None:
        out.file.write(text if text.endswith("\n") else text + "\n")
        return
    files.write_text(text, out_file)
    err.print(f"wrote {len(frame)} row(s) to {escape(str(out_file))}")
