"""The framework matrix as a workbook (issue 16, point 4): written for a researcher to fill in
Excel or LibreOffice, and read back.

Sheet ``framework``: one row per case, one column per theme; a cell holds its summary or, while
it has none, its excerpts' references (``int-06 #12, #14``). Sheet ``references``: every excerpt
behind a cell with its text. Sheet ``about``: the framework's name, kind of case, themes and
layer, so the import knows which framework it fills. Every text cell is neutralised against
formulas (``qualkam.render.cells``) and restored on reading.

On import a cell is a summary unless it is empty, unchanged, or only references (what the
export prefilled, or any ``SOURCE #N, #N; ...`` list); an emptied cell that held a summary
clears it. The whole sheet is checked before anything is written, and written in one
transaction: all or nothing.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualkam.analysis.framework import Framework, build_framework, references_frame, set_summaries
from qualkam.errors import InputError, QualkamError
from qualkam.interchange.sheets import comparable, fill_sheet
from qualkam.render.cells import restore, xlsx_value
from qualkam.render.files import write_workbook
from qualkam.store.project import Project

SHEET = "framework"
REFERENCES_SHEET = "references"
ABOUT_SHEET = "about"
MAX_COLUMNS = 500
MAX_UNPACKED = 1024 * 1024 * 1024
_REFERENCES = re.compile(r"[^\s#;,]+ #\d+(?:, ?#\d+)*(?:; ?[^\s#;,]+ #\d+(?:, ?#\d+)*)*")


@dataclass
class FrameworkImport:
    """What an import did: the cells read as summaries and how many of them changed."""

    path: Path
    summaries: int
    changed: int
    cleared: int


def _column(number: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(number)


def write_framework_xlsx(framework: Framework, path: str | Path) -> Path:
    """The framework as a workbook (sheets framework, references, about), written atomically."""
    from openpyxl import Workbook

    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise InputError(f"{{argument}} {path}: a framework workbook is written as .xlsx", argument="out")
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET
    columns = [framework.case_kind, *framework.themes]
    rows = [
        {framework.case_kind: name, **{t: framework.cell_text(key, t) for t in framework.themes}}
        for key, name in framework.cases.items()
    ]
    fill_sheet(sheet, columns, rows, {framework.case_kind: 24}, framework.themes)
    refs = references_frame(framework)
    lookup = book.create_sheet(REFERENCES_SHEET)
    fill_sheet(
        lookup,
        list(refs.columns),
        refs.to_dict("records"),
        {"text": 80, "segment": 9, "start": 9, "end": 9},
        (),
        {"text"},
    )
    about = book.create_sheet(ABOUT_SHEET)
    for r, (key, value) in enumerate(
        (
            ("framework", framework.name),
            ("cases", framework.case_kind),
            ("themes", framework.themes_by),
            ("layer", framework.layer),
            (
                "how",
                "Write a summary in a case x theme cell of the 'framework' sheet; cells that only list "
                "references are left alone. Import with: qualkam framework import FILE --author NAME",
            ),
        ),
        start=1,
    ):
        about.cell(row=r, column=1, value=xlsx_value(key))
        about.cell(row=r, column=2, value=xlsx_value(value))
    about.column_dimensions["B"].width = 80
    return write_workbook(book, path)


def _read_sheets(path: Path) -> dict[str, list[tuple[int, list[Any]]]]:
    """The ``framework`` and ``about`` sheets' non-blank rows with their numbers, cells restored."""
    from openpyxl import load_workbook

    unreadable = f"{path}: not a readable XLSX workbook ({{}}); save it again from Excel as .xlsx"
    if not path.is_file():
        raise InputError(f"{path}: no such file; give the workbook 'qualkam framework export' wrote")
    try:
        unpacked = sum(info.file_size for info in zipfile.ZipFile(path).infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(unreadable.format(exc)) from exc
    if unpacked > MAX_UNPACKED:
        raise InputError(f"{path}: the workbook unpacks to more than {MAX_UNPACKED // 2**30} GB")
    try:
        book = load_workbook(path, read_only=True, data_only=False)  # a formula is refused, not its cached value
    except Exception as exc:  # openpyxl's, zipfile's and XML errors: all a damaged file
        raise InputError(unreadable.format(f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}")) from exc
    found: dict[str, list[tuple[int, list[Any]]]] = {}
    try:
        for name in (SHEET, ABOUT_SHEET):
            if name not in book.sheetnames:
                raise InputError(
                    f"{path}: no sheet {name!r}; import the workbook 'qualkam framework export' wrote "
                    "(keep its sheets and their names)"
                )
            sheet = book[name]
            sheet.reset_dimensions()
            rows = []
            for number, cells in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS), start=1):
                for col, cell in enumerate(cells, start=1):
                    if getattr(cell, "data_type", None) == "f":
                        raise InputError(
                            f"{path}: cell {_column(col)}{number} of sheet {name!r} holds a formula; a summary is "
                            "text: type it with a leading ' (or start it with another character)"
                        )
                values = [restore(getattr(cell, "value", None)) for cell in cells]
                while values and (values[-1] is None or str(values[-1]).strip() == ""):
                    values.pop()
                if values:
                    rows.append((number, values))
            found[name] = rows
    except InputError:
        raise
    except Exception as exc:  # a broken stream shows only while the rows are read
        raise InputError(unreadable.format(f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}")) from exc
    finally:
        book.close()
    return found


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_reference_list(text: str) -> bool:
    """True for a cell that only lists excerpts (``int-06 #12, #14; int-07 #3``)."""
    return bool(_REFERENCES.fullmatch(" ".join(text.split())))


def read_framework_xlsx(project: Project, path: str | Path) -> tuple[Framework, dict[tuple[str, str], str | None], int]:
    """The framework a workbook fills and the cells that change: (case id, theme) -> summary
    (None clears), and how many cells hold a summary. Every problem raises one line naming the
    cell; nothing is written here."""
    path = Path(path)
    sheets = _read_sheets(path)
    about = {_text(row[0]).strip(): _text(row[1]).strip() if len(row) > 1 else "" for _, row in sheets[ABOUT_SHEET]}
    for key in ("framework", "cases", "themes", "layer"):
        if not about.get(key):
            raise InputError(
                f"{path}: sheet 'about' has no {key!r}; import the workbook 'qualkam framework export' wrote"
            )
    try:
        framework = build_framework(project, about["cases"], about["themes"], about["layer"], about["framework"])
    except QualkamError as exc:
        raise InputError(f"{path}, sheet 'about': {exc.args[0]}") from None
    rows = sheets[SHEET]
    if not rows or rows[0][0] != 1:
        raise InputError(f"{path}: sheet 'framework' has no header row (the case kind, then one column per theme)")
    header = [_text(v).strip() for v in rows[0][1]]
    if not header or header[0].casefold() != framework.case_kind:
        raise InputError(f"{path}: cell A1 of sheet 'framework' should say {framework.case_kind!r}")
    themes: dict[int, str] = {}
    for col, name in enumerate(header[1:], start=2):
        if not name:
            raise InputError(f"{path}: cell {_column(col)}1 of sheet 'framework' has no theme name")
        try:
            theme = framework.theme(name)
        except QualkamError:
            raise InputError(
                f"{path}: cell {_column(col)}1: {name!r} is no theme of this framework "
                f"(themes: {', '.join(framework.themes[:12])}{' ...' if len(framework.themes) > 12 else ''})"
            ) from None
        if theme in themes.values():
            raise InputError(f"{path}: cell {_column(col)}1: theme {name!r} has a second column")
        themes[col] = theme
    changes: dict[tuple[str, str], str | None] = {}
    seen: dict[str, int] = {}
    written = 0
    for number, values in rows[1:]:
        name = _text(values[0]).strip() if values else ""
        if not name:
            if any(_text(v).strip() for v in values[1:]):
                raise InputError(f"{path}: cell A{number} of sheet 'framework' has no case, but the row has cells")
            continue
        try:
            case_id = framework.case_id(name)
        except QualkamError:
            raise InputError(
                f"{path}: cell A{number}: {name!r} is no {framework.case_kind} of this project; "
                "correct the name or remove the row"
            ) from None
        if case_id in seen:
            raise InputError(f"{path}: cell A{number}: {name!r} was row {seen[case_id]} already")
        seen[case_id] = number
        for col, value in enumerate(values[1:], start=2):
            if col not in themes and _text(value).strip():
                raise InputError(f"{path}: cell {_column(col)}{number} is in a column without a theme")
        for col, theme in themes.items():  # a row's trailing empty cells were cut: absent is empty
            text = comparable(_text(values[col - 1] if col <= len(values) else None))
            stored = framework.summary(case_id, theme)
            if text and (text == comparable(stored) or (not stored and is_reference_list(text))):
                written += 1 if stored else 0
                continue
            if text and text == comparable(framework.reference_text(case_id, theme)):
                continue
            if not text:
                if stored:
                    changes[(case_id, theme)] = None
                continue
            written += 1
            changes[(case_id, theme)] = text
    return framework, changes, written


def import_framework_xlsx(project: Project, path: str | Path, author: str) -> FrameworkImport:
    """Read a filled framework workbook and write its summaries, all in one transaction."""
    if not (author or "").strip():
        raise QualkamError("say who wrote the summaries", argument="author")
    framework, changes, written = read_framework_xlsx(project, path)
    with project.transaction():
        changed = set_summaries(project, framework, changes, author, note=f"framework import {Path(path).name}")
    return FrameworkImport(
        path=Path(path), summaries=written, changed=changed, cleared=sum(1 for v in changes.values() if v is None)
    )
