"""Importing people's codings from files: a filled-in coding sheet or a long CSV of spans.

Two formats, told apart by their columns (docs/importing.md):

- a **coding sheet** from ``qualkam sheet export`` (XLSX or CSV; columns ``segment`` and
  ``codes``): each id in ``codes`` becomes an accepted coding by the coder, each id in
  ``reject`` a rejected one, ``memo`` goes on those codings (or on the segment);
- a **long CSV** (columns ``source, start, end, code``, optionally ``coder`` and ``memo``):
  character spans in a source's stored text, each kept exactly as one coding, whether it lies
  inside one segment, is one segment or runs across several (issue 13).

A file is imported whole or not at all (issue 3): every row is checked first and every bad
row is reported with its spreadsheet row number (the header is row 1); then all decisions
are applied in one transaction through ``apply_decision`` / ``apply_span``, which makes
re-importing the same file change nothing.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import zipfile
from bisect import bisect_right
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualkam.coding.decisions import Action, Outcome, apply_decision, apply_span
from qualkam.errors import InputError, QualkamError
from qualkam.interchange.sheets import SHEET_COLUMNS, SHEET_NAME, comparable
from qualkam.render.cells import restore
from qualkam.sources.textio import DecodeError, decode
from qualkam.store import imports as store
from qualkam.store.project import Project
from qualkam.store.reads import code_tree

LONG_COLUMNS = ("source", "start", "end", "code")
LONG_OPTIONAL = ("coder", "memo")
_SPLIT_IDS = re.compile(r"[;,\s]+")
_WHOLE = re.compile(r"^[+-]?\d+(\.0*)?$")


@dataclass(frozen=True)
class RowProblem:
    """One bad row: its spreadsheet row number (header = 1) and what is wrong."""

    row: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


class ImportRowsError(InputError):
    """Some rows of a file are bad; ``problems`` lists every one. Nothing was imported."""

    def __init__(self, path: Path, problems: list[RowProblem]) -> None:
        self.path = path
        self.problems = sorted(problems, key=lambda p: p.row)
        head = f"{path}: {len(problems)} bad row(s); nothing was imported (fix them and import the file again)"
        super().__init__(head + "\n" + "\n".join(f"{path}:{p.row}: {p.reason}" for p in self.problems))


@dataclass
class ImportReport:
    """What an import did: codings new / changed / unchanged, segment memos, rows read."""

    path: Path
    kind: str  # "sheet" or "long"
    rows: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    memos: int = 0
    coders: list[str] = field(default_factory=list)


@dataclass
class _Decision:
    """One (segment, code, coder) decision, possibly gathered from several rows."""

    rows: list[int]
    coder: str
    segment_id: int
    code_id: str
    action: Action
    memos: list[str] = field(default_factory=list)
    span: tuple[int, int] | None = None

    @property
    def memo(self) -> str | None:
        return "\n".join(self.memos) or None


@dataclass
class _SpanDecision:
    """One person's coding of an exact span of a source (a long CSV's row, or rows that give
    the same span, code and coder)."""

    rows: list[int]
    coder: str
    source: str
    start: int
    end: int
    code_id: str
    memos: list[str] = field(default_factory=list)

    @property
    def memo(self) -> str | None:
        return "\n".join(self.memos) or None


@dataclass
class _SegmentMemo:
    row: int
    coder: str
    segment_id: int
    text: str


# -- the overlap rule ---------------------------------------------------------------------
def segments_for_span(start: int, end: int, segments: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The segments a span [start, end) codes under the half-overlap rule, each with the span
    clipped to it (sentence units of reliability, a memo on a segment merged into a project
    segmented otherwise; imports keep a coding's span exactly).

    A span codes every segment it covers at least half of, and the segment that holds at
    least half of the span; so a short quote inside a long turn codes that turn, and a span
    that runs a few words into the next turn does not code the next turn too.
    ``segments`` are (segment id, start, end); the result is (segment id, start, end).
    """
    hits = []
    for seg_id, seg_start, seg_end in segments:
        shared = min(end, seg_end) - max(start, seg_start)
        if shared <= 0:
            continue
        if 2 * shared >= seg_end - seg_start or 2 * shared >= end - start:
            hits.append((seg_id, max(start, seg_start), min(end, seg_end)))
    return hits


def _holds_text(places: tuple[list[int], list[int]], start: int, end: int) -> bool:
    """Whether [start, end) overlaps a segment by a character; ``places`` are the starts and
    the ends of a source's segments in text order (they do not overlap, so both are sorted)."""
    starts, ends = places
    i = bisect_right(ends, start)
    return i < len(starts) and starts[i] < end


# -- reading a table ----------------------------------------------------------------------
Table = tuple[list[str], list[tuple[int, list[Any]]]]


def _cell(value: Any) -> str:
    """A cell as text: empty for nothing, ``12`` (not ``12.0``) for whole numbers."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _whole(value: Any) -> int | None:
    """A whole number from a cell (``12``, ``12.0``, ``"12"``), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = _cell(value).strip()
    return int(float(text)) if _WHOLE.match(text) else None


def _read_csv(path: Path, data: bytes) -> list[list[Any]]:
    try:
        text, _ = decode(data)
    except DecodeError as exc:
        raise InputError(f"{path}: {exc}") from exc
    first = text.split("\n", 1)[0]
    # Excel in many European locales saves "CSV" with semicolons; the header tells which.
    delimiter = max((",", ";", "\t"), key=first.count)
    return [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


XLSX_MAX_COLUMNS = 200  # columns read from a sheet: a coding sheet has about ten
XLSX_MAX_UNPACKED = 1024 * 1024 * 1024  # a workbook unpacking to more is refused before reading


def _read_xlsx(path: Path) -> list[tuple[int, list[Any]]]:
    """The sheet's non-blank rows with their row numbers, read as a stream. Memory follows the
    cells present, never the size the sheet declares: a ``<dimension ref="A1:XFD200000">``
    made openpyxl pad every row to 16,384 cells and add 200,000 empty rows (gigabytes)."""
    from openpyxl import load_workbook

    unreadable = f"{path}: not a readable XLSX workbook ({{}}); save it again from Excel as .xlsx or as 'CSV UTF-8'"
    try:
        unpacked = sum(info.file_size for info in zipfile.ZipFile(path).infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(unreadable.format(exc)) from exc
    if unpacked > XLSX_MAX_UNPACKED:
        raise InputError(
            f"{path}: the workbook unpacks to {unpacked / 2**30:,.1f} GB, more than "
            f"{XLSX_MAX_UNPACKED // 2**30} GB; export the sheet to import as 'CSV UTF-8'"
        )
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl's own, zipfile's, zlib's and XML errors: all a damaged file
        raise InputError(unreadable.format(f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}")) from exc
    rows: list[tuple[int, list[Any]]] = []
    try:
        sheet = book[SHEET_NAME] if SHEET_NAME in book.sheetnames else book.worksheets[0]
        sheet.reset_dimensions()  # ignore the declared size: rows are as long as their last cell
        for number, row in enumerate(sheet.iter_rows(max_col=XLSX_MAX_COLUMNS, values_only=True), start=1):
            if any(value is not None and str(value).strip() for value in row):
                values = list(row)
                while values and values[-1] is None:
                    values.pop()
                rows.append((number, values))
    except Exception as exc:  # a broken deflate stream or XML shows only while the rows are read
        raise InputError(unreadable.format(f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}")) from exc
    finally:
        book.close()
    return rows


def read_table(path: str | Path) -> Table:
    """Header (lower-cased) and the non-blank rows with their spreadsheet row numbers."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give the .xlsx or .csv file to import")
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise InputError(f"{path}: an old-style Excel .xls file; save it as .xlsx or as 'CSV UTF-8' and import that")
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise InputError(f"{path}: not a CSV or XLSX file ({suffix or 'no suffix'}); qualkam imports .csv and .xlsx")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise InputError(f"{path}: empty file; nothing to import")
    # A sheet qualkam wrote quotes text that a spreadsheet would run ('=...); read the words back.
    if suffix in (".xlsx", ".xlsm"):
        grid = _read_xlsx(path)
    else:
        grid = list(enumerate(_read_csv(path, data), start=1))
    numbered = [(n, [restore(v) for v in row]) for n, row in grid if any(_cell(v).strip() for v in row)]
    if not numbered:
        raise InputError(f"{path}: empty file; nothing to import")
    (header_row, header), body = numbered[0], numbered[1:]
    if header_row != 1:  # row numbers are the spreadsheet's, so the header must be on row 1
        raise InputError(f"{path}: the header is on row {header_row}; delete the empty rows above it")
    if not body:
        raise InputError(f"{path}: a header but no rows; nothing to import")
    return [_cell(v).strip().lower() for v in header], body


# -- checking rows ------------------------------------------------------------------------
def _header_problems(header: list[str], body: list[tuple[int, list[Any]]], allowed: Sequence[str]) -> list[RowProblem]:
    """Unknown, duplicate and nameless-but-filled columns: all reported as row 1."""
    problems = []
    seen: set[str] = set()
    for i, name in enumerate(header):
        if not name:
            if any(i < len(row) and _cell(row[i]).strip() for _, row in body):
                problems.append(RowProblem(1, f"column {i + 1} has values but no name; name it or delete it"))
        elif name in seen:
            problems.append(RowProblem(1, f"column {name!r} appears twice"))
        elif name not in allowed:
            problems.append(RowProblem(1, f"unknown column {name!r}; expected {', '.join(allowed)}"))
        seen.add(name)
    width = len(header)
    if any(_cell(v).strip() for _, row in body for v in row[width:]):
        problems.append(
            RowProblem(
                1,
                f"some rows have values right of the last named column ({width}); "
                "name that column or delete the values",
            )
        )
    return problems


def _cells(header: list[str], row: list[Any]) -> dict[str, Any]:
    cells: dict[str, Any] = {}
    for name, value in zip(header, row, strict=False):
        if name and name not in cells:
            cells[name] = value
    return cells


def _unknown_code(code: str, known: set[str], column: str) -> str:
    close = difflib.get_close_matches(code, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else "; see 'qualkam codebook show' or the sheet's 'codes' tab"
    return f"{column}: unknown code {code!r}{hint}"


def _known_codes(project: Project) -> set[str]:
    return set(code_tree(project))


def _plan_sheet(
    project: Project, header: list[str], body: list[tuple[int, list[Any]]], coder: str | None, path: Path
) -> tuple[list[_Decision], list[_SegmentMemo], list[RowProblem]]:
    """Decisions from a coding sheet. Rows with nothing in codes, reject and memo are only read."""
    if not coder or not coder.strip():
        raise InputError(f"{path} is a coding sheet; say whose it is with {{argument}}", argument="coder")
    coder = coder.strip()
    problems = _header_problems(header, body, SHEET_COLUMNS)
    known = _known_codes(project)
    segments = store.segment_texts(project)
    suggested = store.suggested_pairs(project)
    mine = store.coder_spans(project, coder)
    decisions: list[_Decision] = []
    memos: list[_SegmentMemo] = []
    first_row: dict[int, int] = {}
    for number, row in body:
        cells = _cells(header, row)
        accept = list(dict.fromkeys(i for i in _SPLIT_IDS.split(_cell(cells.get("codes")).strip()) if i))
        reject = list(dict.fromkeys(i for i in _SPLIT_IDS.split(_cell(cells.get("reject")).strip()) if i))
        memo = _cell(cells.get("memo")).strip() or None
        if not (accept or reject or memo):
            continue
        bad = [
            RowProblem(number, r)
            for r in _sheet_row_problems(cells, accept, reject, known, segments, suggested, mine, first_row, number)
        ]
        if bad:
            problems += bad
            continue
        seg = _whole(cells["segment"])
        assert seg is not None
        first_row[seg] = number
        notes = [memo] if memo else []
        # A sheet speaks of whole segments. The coder's own spans that count for the segment
        # (from a long CSV, the workspace, another tool) are decided as they are, each one
        # whole: a sheet shows a span across two turns on both rows, and re-importing it
        # changes nothing.
        for code in accept + reject:
            action = Action.reject if code in reject else Action.accept if (seg, code) in suggested else Action.add
            spans: list[tuple[int, int] | None] = [*mine.get((seg, code), [])] or [None]
            decisions += [_Decision([number], coder, seg, code, action, list(notes), span) for span in spans]
        if memo and not (accept or reject):
            memos.append(_SegmentMemo(number, coder, seg, memo))
    return decisions, memos, problems


def _sheet_row_problems(
    cells: dict[str, Any],
    accept: list[str],
    reject: list[str],
    known: set[str],
    segments: dict[int, tuple[str, str]],
    suggested: set[tuple[int, str]],
    mine: dict[tuple[int, str], list[tuple[int, int]]],
    first_row: dict[int, int],
    number: int,
) -> list[str]:
    raw = _cell(cells.get("segment")).strip()
    seg = _whole(raw)
    if seg is None:
        return [f"segment {raw!r} is not a segment id" if raw else "the segment id is empty"]
    if seg not in segments:
        return [
            f"unknown segment {seg}: its source was re-coded since the sheet was made, or the sheet is "
            "from another project; export a new sheet and copy the codes over"
        ]
    reasons = []
    source, text = segments[seg]
    if seg in first_row:
        reasons.append(f"segment {seg} is also on row {first_row[seg]}; keep one row per segment")
    given_source = _cell(cells.get("source"))
    if "source" in cells and given_source.strip() and source not in (given_source, given_source.strip()):
        reasons.append(f"segment {seg} belongs to source {source!r}, not {given_source!r}")
    if "text" in cells and comparable(_cell(cells["text"])) != comparable(text):
        reasons.append(
            f"the text of segment {seg} ({source}) is not the text in the project: it was edited in the "
            "sheet, or the source was re-coded; put the text back or export a new sheet"
        )
    for column, ids in (("codes", accept), ("reject", reject)):
        reasons += [_unknown_code(code, known, column) for code in ids if code not in known]
    for code in accept:
        if code in reject:
            reasons.append(f"code {code!r} is in both codes and reject; keep it in one")
    for code in reject:
        if code in known and (seg, code) not in suggested and (seg, code) not in mine:
            reasons.append(
                f"reject: {code!r} was not suggested for segment {seg}; reject only suggested codes "
                "(or your own earlier ones)"
            )
    return reasons


def _source_id(cells: dict[str, Any], known: Container[str]) -> str:
    """The source named in a row: the cell as written when a source has that very id (a file
    name may end in a space), else the cell without the spaces a spreadsheet adds around it."""
    raw = _cell(cells.get("source"))
    return raw if raw in known else raw.strip()


def _plan_long(
    project: Project, header: list[str], body: list[tuple[int, list[Any]]], coder: str | None
) -> tuple[list[_SpanDecision], list[RowProblem]]:
    """Codings from a long CSV of spans, each span kept exactly; rows that give the same span,
    code and coder are one coding (their memos joined)."""
    problems = _header_problems(header, body, LONG_COLUMNS + LONG_OPTIONAL)
    known = _known_codes(project)
    lengths = store.source_lengths(project)
    spans: dict[str, tuple[list[int], list[int]]] = {}  # source -> its segments' starts and ends
    merged: dict[tuple[str, int, int, str, str], _SpanDecision] = {}
    for number, row in body:
        cells = _cells(header, row)
        reasons = []
        source = _source_id(cells, lengths)
        code = _cell(cells.get("code")).strip()
        who = _cell(cells.get("coder")).strip() or (coder or "").strip()
        memo = _cell(cells.get("memo")).strip() or None
        start, end = _whole(cells.get("start")), _whole(cells.get("end"))
        if not source:
            reasons.append("the source is empty")
        elif source not in lengths:
            close = difflib.get_close_matches(source, lengths, n=1)
            reasons.append(
                f"unknown source {source!r}"
                + (f" (did you mean {close[0]!r}?)" if close else "; use the source ids of excerpts.csv")
            )
        for name, value in (("start", start), ("end", end)):
            if value is None:
                raw = _cell(cells.get(name)).strip()
                reasons.append(f"{name} {raw!r} is not a whole number" if raw else f"{name} is empty")
        if start is not None and end is not None:
            if start < 0:
                reasons.append(f"start {start} is negative")
            if end <= start:
                reasons.append(f"end {end} is not after start {start}")
            if source in lengths and end > lengths[source]:
                reasons.append(f"end {end} is beyond the end of {source!r} ({lengths[source]} characters)")
        if not code:
            reasons.append("the code is empty")
        elif code not in known:
            reasons.append(_unknown_code(code, known, "code"))
        if not who:
            reasons.append("no coder: fill the coder column or give the coder of the whole file")
        if not reasons:
            assert start is not None and end is not None
            if source not in spans:
                segments = store.segment_spans(project, source)
                spans[source] = ([s for _, s, _ in segments], [e for _, _, e in segments])
            if not _holds_text(spans[source], start, end):
                reasons.append(
                    f"span {start}-{end} of {source!r} holds no segment's text (only a speaker label, a "
                    "blank line or the space between segments); widen it"
                )
        if reasons:
            problems += [RowProblem(number, r) for r in reasons]
            continue
        assert start is not None and end is not None
        key = (source, start, end, code, who)
        if key not in merged:
            merged[key] = _SpanDecision([], who, source, start, end, code)
        decision = merged[key]
        decision.rows.append(number)
        if memo and memo not in decision.memos:
            decision.memos.append(memo)
    return list(merged.values()), problems


# -- applying -----------------------------------------------------------------------------
def import_codings(project: Project, path: str | Path, coder: str | None = None) -> ImportReport:
    """Import a coding sheet or a long CSV whole, or raise ``ImportRowsError`` and import nothing."""
    path = Path(path)
    header, body = read_table(path)
    columns = set(header)
    memos: list[_SegmentMemo] = []
    decisions: list[_Decision] | list[_SpanDecision]
    if {"segment", "codes"} <= columns:
        kind = "sheet"
        decisions, memos, problems = _plan_sheet(project, header, body, coder, path)
    elif set(LONG_COLUMNS) <= columns:
        kind = "long"
        decisions, problems = _plan_long(project, header, body, coder)
    else:
        found = ", ".join(c for c in header if c) or "none"
        raise InputError(
            f"{path}: not a coding sheet (columns segment, codes, ...) nor a long CSV (columns "
            f"source, start, end, code); its columns are: {found}"
        )
    if problems:
        raise ImportRowsError(path, problems)
    report = ImportReport(path=path, kind=kind, rows=len(body))
    via = f"import {path.name}"
    with project.transaction():
        for decision in decisions:
            try:
                outcome = _apply(project, decision, via)
            except QualkamError as exc:  # caught by the checks above, but the store has the last word
                problems += [RowProblem(row, str(exc)) for row in decision.rows]
                continue
            if outcome.change == "inserted":
                report.new += 1
            elif outcome.change == "updated":
                report.changed += 1
            else:
                report.unchanged += 1
        for memo in memos:
            report.memos += store.add_memo_once(project, "segment", str(memo.segment_id), memo.coder, memo.text, via)[1]
        if problems:  # rolls the whole transaction back
            raise ImportRowsError(path, list(dict.fromkeys(problems)))
    report.coders = [coder.strip()] if kind == "sheet" and coder else sorted({d.coder for d in decisions})
    return report


def _apply(project: Project, decision: _Decision | _SpanDecision, via: str) -> Outcome:
    """Write one planned decision: a sheet's on a segment, a long CSV's on its exact span."""
    if isinstance(decision, _SpanDecision):
        return apply_span(
            project,
            decision.coder,
            decision.source,
            decision.start,
            decision.end,
            decision.code_id,
            memo=decision.memo,
            via=via,
        )
    return apply_decision(
        project,
        decision.coder,
        decision.segment_id,
        decision.code_id,
        decision.action,
        decision.memo,
        span=decision.span,
        via=via,
    )
