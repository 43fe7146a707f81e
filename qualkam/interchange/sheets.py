"""Coding sheets: one spreadsheet row per segment, for a person who codes in Excel.

A sheet shows each segment with its context (the turn before and after), the machine's
suggestions with their evidence and the coder's earlier decisions, and leaves three columns
for the coder to fill: ``codes`` (code ids they apply), ``reject`` (suggested ids they turn
down) and ``memo``. ``qualkam import codings`` reads it back (``qualkam.interchange.codings_import``); the
``segment`` id and the ``text`` let it find each row's segment again and notice when the
source was re-coded since the sheet was made (issue 3, "Coding by people").
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualkam.choices import closest, listing
from qualkam.errors import InputError, QualkamError
from qualkam.render.cells import csv_lines, xlsx_value
from qualkam.render.files import write_text, write_workbook
from qualkam.store import imports as store
from qualkam.store.names import known_names
from qualkam.store.project import Project
from qualkam.store.reads import code_and_below, code_tree

SHEET_COLUMNS = [
    "segment",
    "source",
    "position",
    "speaker",
    "role",
    "phase",
    "before",
    "text",
    "after",
    "suggestions",
    "decided",
    "codes",
    "reject",
    "memo",
]
FILL_COLUMNS = ("codes", "reject", "memo")
SHEET_NAME = "segments"
CODES_SHEET = "codes"
CONTEXT_CHARS = 200
FORMATS = (".xlsx", ".csv")

# Characters a spreadsheet cell cannot hold (openpyxl refuses them); dropped on export and
# ignored when the text is compared on import, so a sheet never fails on a stray control byte.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

_WIDTHS = {
    "segment": 9,
    "source": 22,
    "position": 9,
    "speaker": 16,
    "role": 16,
    "phase": 16,
    "before": 40,
    "text": 70,
    "after": 40,
    "suggestions": 36,
    "decided": 26,
    "codes": 26,
    "reject": 22,
    "memo": 36,
}
_WRAPPED = {"before", "text", "after", "suggestions", "decided", "codes", "reject", "memo"}


@dataclass
class SheetReport:
    """What an export wrote: the file, its rows, how many rows carry suggestions or decisions."""

    path: Path
    rows: int
    suggested: int
    decided: int


def clean_cell(text: str) -> str:
    """Text as a spreadsheet cell can hold it."""
    return _ILLEGAL.sub("", text)


def comparable(text: str) -> str:
    """Text reduced to what survives a round trip through a spreadsheet program.

    Excel and LibreOffice may turn line ends into ``\\r\\n``, drop control characters and
    trailing blanks; none of that is a change of the words, so none of it is reported.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", clean_cell(text)).strip()


def shorten(text: str, limit: int = CONTEXT_CHARS, keep: str = "start") -> str:
    """Cut context to about ``limit`` characters at a word break; ``keep='end'`` keeps the tail."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    if keep == "end":
        cut = text[-limit:]
        space = cut.find(" ")
        return "…" + (cut[space + 1 :] if 0 <= space < 40 else cut)
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit - 40 else cut) + "…"


def _with_speaker(speaker: str | None, text: str) -> str:
    return f"{speaker}: {text}" if speaker else text


def _check_filters(
    project: Project, sources: Sequence[str], phases: Sequence[str], codes: Sequence[str], speakers: Sequence[str] = ()
) -> None:
    """Every unknown filter value is one error line that lists what the project has (and the closest)."""
    problems = []
    for values, kind in ((sources, "source"), (phases, "phase"), (codes, "code"), (speakers, "speaker")):
        if not values:
            continue
        known = known_names(project, kind)
        for value in values:
            if value not in known:
                close = closest(value, known)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"{kind} {value!r} is not in the project{hint}; choose from: {listing(known, 8)}")
    if problems:
        raise InputError("\n".join(problems))


def sheet_rows(
    project: Project,
    coder: str,
    sources: Sequence[str] = (),
    phases: Sequence[str] = (),
    codes: Sequence[str] = (),
    speakers: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """One dict per segment (keys: ``SHEET_COLUMNS``), in source and position order.

    ``sources`` / ``phases`` keep only those sources; ``codes`` keeps segments where one of
    those codes (or a code below them) is suggested or coded by anyone.
    """
    coder = (coder or "").strip()
    if not coder:
        raise InputError("a sheet is made for one coder: give their name as {argument}", argument="coder")
    _check_filters(project, sources, phases, codes, speakers)
    segments = store.sheet_segments(project, sources, phases, speakers)

    suggested: dict[int, list[str]] = defaultdict(list)
    for row in store.suggestions_by_segment(project):
        words = list(dict.fromkeys(e["text"] for e in json.loads(row["evidence"] or "[]")))
        score = f" ({row['score']:.2f})" if row["score"] is not None else ""
        suggested[row["segment_id"]].append(f"{row['code_id']}{score}: {'; '.join(words)}".rstrip(": "))
    decided: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in store.coder_decisions(project, coder):
        decided[row["segment_id"]][row["status"]].append(row["code_id"])
    wanted: set[int] | None = None
    if codes:
        wanted = store.segments_coded_with(project, code_and_below(project, codes))

    rows: list[dict[str, Any]] = []
    for i, seg in enumerate(segments):
        if wanted is not None and seg["id"] not in wanted:
            continue
        prev = segments[i - 1] if i > 0 and segments[i - 1]["source_id"] == seg["source_id"] else None
        nxt = segments[i + 1] if i + 1 < len(segments) and segments[i + 1]["source_id"] == seg["source_id"] else None
        mine = decided.get(seg["id"], {})
        rows.append(
            {
                "segment": seg["id"],
                "source": seg["source_id"],
                "position": seg["position"],
                "speaker": seg["speaker"] or "",
                "role": seg["role"] or "",
                "phase": seg["phase"] or "",
                "before": _with_speaker(prev["speaker"], shorten(prev["text"], keep="end")) if prev else "",
                "text": seg["text"],
                "after": _with_speaker(nxt["speaker"], shorten(nxt["text"])) if nxt else "",
                "suggestions": "\n".join(suggested.get(seg["id"], [])),
                "decided": "\n".join(f"{status}: {'; '.join(ids)}" for status, ids in sorted(mine.items())),
                "codes": "",
                "reject": "",
                "memo": "",
            }
        )
    return rows


def _code_list(project: Project) -> list[tuple[str, str, str, str]]:
    return [
        (code.id, code.label, code.parent or "", " ".join(code.definition.split()))
        for code in code_tree(project, retired=False).values()
    ]


def sheet_path(path: str | Path, argument: str, example: str) -> tuple[Path, str]:
    """A sheet's file name checked (``.xlsx`` or ``.csv``, not a folder): the path and its suffix.
    ``argument`` names the argument that gave the path (``out``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"{{argument}} {path}: a sheet is written as .xlsx or .csv, not {suffix or 'a file without suffix'}",
            argument=argument,
        )
    if path.is_dir():
        raise InputError(
            f"{{argument}} {path} is a folder; give a file name such as {path / example}", argument=argument
        )
    return path, suffix


def write_csv_sheet(rows: list[dict[str, Any]], columns: list[str], path: Path) -> None:
    """A sheet as CSV, atomically; UTF-8 with a BOM, without which Excel reads the file in the
    local ANSI code page."""
    text = csv_lines([columns, *([row.get(c) for c in columns] for row in rows)], lineterminator="\r\n")
    write_text(text, path, encoding="utf-8-sig")


def fill_sheet(
    sheet: Any,
    columns: Sequence[str],
    rows: list[dict[str, Any]],
    widths: dict[str, int],
    to_fill: Sequence[str],
    wrapped: Collection[str] | None = None,
) -> None:
    """A worksheet's header (bold, the columns a person fills in shaded) and rows (text
    cleaned, never read as a formula; ``wrapped`` columns wrap, None: all), panes frozen
    below the header and right of the first column."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold, shade = Font(bold=True), PatternFill("solid", fgColor="FFF2CC")
    wrap, top = Alignment(wrap_text=True, vertical="top"), Alignment(vertical="top")
    for col, name in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=col, value=xlsx_value(name))
        cell.font = bold
        if name in to_fill:
            cell.fill = shade
        sheet.column_dimensions[get_column_letter(col)].width = widths.get(name, 26)
    for r, row in enumerate(rows, start=2):
        for col, name in enumerate(columns, start=1):
            value = row[name]
            cell = sheet.cell(row=r, column=col, value=xlsx_value(value))
            cell.alignment = wrap if wrapped is None or name in wrapped else top
            if name in to_fill:
                cell.fill = shade
    sheet.freeze_panes = "B2"


def _write_xlsx(rows: list[dict[str, Any]], codes: list[tuple[str, str, str, str]], coder: str, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = SHEET_NAME
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    fill_sheet(sheet, SHEET_COLUMNS, rows, _WIDTHS, FILL_COLUMNS, _WRAPPED)
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(SHEET_COLUMNS))}{len(rows) + 1}"
    # A hint, not a rule: Excel's list validation allows one value per cell, a coder needs several.
    hint = DataValidation(
        allow_blank=True,
        showInputMessage=True,
        promptTitle="Code ids",
        prompt=f"Code ids for {coder[:40]}, separated by ; or , (see the 'codes' sheet).",
    )
    sheet.add_data_validation(hint)
    for name in ("codes", "reject"):
        letter = get_column_letter(SHEET_COLUMNS.index(name) + 1)
        hint.add(f"{letter}2:{letter}{max(len(rows), 1) + 1}")

    lookup = book.create_sheet(CODES_SHEET)
    for col, (name, width) in enumerate((("id", 40), ("label", 40), ("parent", 30), ("definition", 80)), start=1):
        lookup.cell(row=1, column=col, value=name).font = bold
        lookup.column_dimensions[get_column_letter(col)].width = width
    for r, code in enumerate(codes, start=2):
        for col, value in enumerate(code, start=1):
            lookup.cell(row=r, column=col, value=xlsx_value(value)).alignment = wrap
    lookup.freeze_panes = "A2"
    write_workbook(book, path)


def write_sheet(project: Project, coder: str, path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` as XLSX or CSV (by the suffix of ``path``), atomically."""
    path, suffix = sheet_path(path, "out", "sheet.xlsx")
    if suffix == ".csv":
        write_csv_sheet(rows, SHEET_COLUMNS, path)
    else:
        _write_xlsx(rows, _code_list(project), coder, path)
    return path


def default_sheet_path(coder: str) -> Path:
    """``qualkam-out/sheet-NAME.xlsx``, with the name made safe for a file name."""
    safe = re.sub(r"[^\w.-]+", "-", coder.strip()).strip("-.") or "coder"
    return Path("qualkam-out") / f"sheet-{safe}.xlsx"


def export_sheet(
    project: Project,
    coder: str,
    out: str | Path | None = None,
    sources: Sequence[str] = (),
    phases: Sequence[str] = (),
    codes: Sequence[str] = (),
    speakers: Sequence[str] = (),
) -> SheetReport:
    """Make a coding sheet for ``coder``: build the rows, write them, say what was written."""
    rows = sheet_rows(project, coder, sources, phases, codes, speakers)
    if not rows:
        raise QualkamError(
            "no segments match the filters; check the sources, phases, codes and speakers asked for "
            "(or run 'qualkam code DIR' first)"
        )
    path = write_sheet(project, coder, out if out is not None else default_sheet_path(coder), rows)
    return SheetReport(
        path=path,
        rows=len(rows),
        suggested=sum(1 for r in rows if r["suggestions"]),
        decided=sum(1 for r in rows if r["decided"]),
    )
