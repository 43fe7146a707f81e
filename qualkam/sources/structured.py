"""Transcripts kept as data: JSON (a list of turns) and spreadsheets (XLSX, CSV, TSV; a turn or sentence a row).

Both give cues (speaker, words, times) that qualkam.sources.formats lays out as text, one
``Speaker: words`` line per turn, as it does for subtitles. Speaker, text and time are
found by their usual names (``SPEAKER_NAMES`` ...), or by the names given in the file's
metadata as ``columns: {speaker: ..., text: ..., start: ..., end: ..., turn: ...}``. Other
columns or keys (a coder's tags, ids) are never read as text. The rules are in
docs/sources-format.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from qualkam.errors import SourceError
from qualkam.sources.turns import TIME

COLUMN_KEYS = ("speaker", "text", "start", "end", "turn")


def _norm(name: Any) -> str:
    """A header or key as compared: lower case, ``_``, ``-`` and runs of spaces as one space."""
    return " ".join(re.sub(r"[_\-./#()\[\]]+", " ", str(name).casefold()).split())


# Usual names, in order of preference (compared after _norm).
USUAL = {
    "speaker": [
        "speaker",
        "speaker name",
        "speakername",
        "speaker label",
        "speaker id",
        "spk",
        "name",
        "participant",
        "who",
        "person",
        "author",
        "from",
        "user",
    ],
    "text": [
        "text",
        "sentence",
        "utterance",
        "transcript",
        "transcription",
        "content",
        "words",
        "speech",
        "message",
        "turn text",
        "dialogue",
        "verbatim",
        "utt",
        "value",
        "body",
        "line",
    ],
    "start": [
        "start",
        "start time",
        "starttime",
        "start ms",
        "start s",
        "start sec",
        "start seconds",
        "begin",
        "timestamp",
        "time stamp",
        "time",
        "timecode",
        "time code",
        "in",
        "ts",
        "offset",
    ],
    "end": ["end", "end time", "endtime", "end ms", "end s", "end sec", "end seconds", "stop", "out"],
    "turn": ["turn", "turn number", "turn no", "turn nr", "turn id", "turnid"],
}
# Where a JSON file keeps its turns, in order of preference: QMSum, Whisper, AssemblyAI, and kin.
CONTAINERS = (
    "meeting_transcripts",
    "segments",
    "utterances",
    "turns",
    "transcript",
    "transcripts",
    "dialogue",
    "dialog",
    "conversation",
    "messages",
    "monologues",
    "sentences",
    "entries",
    "items",
    "results",
    "data",
)
HEADER_ROWS = 20  # the header row is one of the first rows (title rows may come before it)
MAX_SECONDS = 10_000_000  # about 115 days: anything beyond is not a time in a recording
_CLOCK = re.compile(rf"^[\[(]?[ \t]*(?P<time>{TIME})[ \t]*[\])]?$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_EXCEL_EPOCH = dt.datetime(1899, 12, 31)  # openpyxl shows serial day 1 as 1900-01-01


class Cue:
    """One row or item: who, the words, and the times as labels (seconds when known, for gaps)."""

    __slots__ = ("speaker", "words", "start", "end", "start_label", "end_label", "turn")

    def __init__(
        self,
        speaker: str | None,
        words: str,
        start: tuple[float | None, str | None] = (None, None),
        end: tuple[float | None, str | None] = (None, None),
        turn: Any = None,
    ) -> None:
        self.speaker, self.words, self.turn = speaker, words, turn
        self.start, self.start_label = start
        self.end, self.end_label = end


def clock(seconds: float) -> str:
    """Seconds as ``HH:MM:SS`` (``.mmm`` when there is a fraction)."""
    millis = int(round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}" + (f".{millis:03d}" if millis else "")


def _seconds_of_label(label: str) -> float | None:
    parts = label.replace(",", ".").split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        return None
    total = 0.0
    for value in values:
        total = total * 60 + value
    return total


def read_time(value: Any, millis: bool = False, day_fraction: bool = False) -> tuple[float | None, str | None] | None:
    """A time cell or value -> (seconds, label); (None, None) when empty; None when not a time.

    Numbers are seconds (milliseconds under a ``..._ms`` name); in a workbook a number below 1
    is Excel's fraction of a day, and a date-time near Excel's epoch is a duration."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, bool):
        return None
    if isinstance(value, dt.datetime):
        if value.year <= 1900:
            seconds = (value - _EXCEL_EPOCH).total_seconds()
            return (seconds, clock(seconds)) if 0 <= seconds < MAX_SECONDS else None
        return None, value.isoformat(sep=" ")
    if isinstance(value, dt.time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
        return seconds, clock(seconds)
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
        return (seconds, clock(seconds)) if 0 <= seconds < MAX_SECONDS else None
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:
            return None
        if not math.isfinite(seconds) or seconds < 0:
            return None
        if millis:
            seconds /= 1000
        elif day_fraction and 0 < seconds < 1:
            seconds *= 86400
        return (seconds, clock(seconds)) if seconds < MAX_SECONDS else None
    text = str(value).strip()
    match = _CLOCK.match(text)
    if match:
        return _seconds_of_label(match.group("time")), match.group("time")
    if _NUMBER.match(text):
        return read_time(float(text), millis)
    return None


def cell_text(value: Any) -> str:
    """A cell's words as a transcript holds them: whitespace runs to one space, a whole float
    as an integer (bench/suggestions.py places sheet rows by it)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def parse_columns(value: Any, where: str) -> dict[str, str]:
    """The ``columns`` metadata field: a mapping, or ``speaker=Who; text=Said`` in a CSV sidecar."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        pairs = {}
        for item in filter(None, (part.strip() for part in value.split(";"))):
            key, sep, name = item.partition("=")
            if not sep:
                raise SourceError(
                    where, f"columns entry {item!r} is not 'key=column name'; write speaker=Who; text=Said"
                )
            pairs[key.strip()] = name.strip()
        value = pairs
    if not isinstance(value, dict):
        raise SourceError(where, "columns must map speaker, text, start, end or turn to a column name")
    result = {}
    for key, name in value.items():
        if str(key) not in COLUMN_KEYS:
            raise SourceError(where, f"unknown key {str(key)!r} in columns; use {', '.join(COLUMN_KEYS)}")
        if not isinstance(name, (str, int)) or not str(name).strip():
            raise SourceError(where, f"columns.{key} must name a column")
        result[str(key)] = str(name).strip()
    return result


# ---- JSON ---------------------------------------------------------------------------------


def _usual_key(item: dict[str, Any], role: str, named: dict[str, str]) -> str | None:
    if role in named:
        wanted = _norm(named[role])
        return next((k for k in item if _norm(k) == wanted), None)
    keys = {_norm(k): k for k in item}
    return next((keys[name] for name in USUAL[role] if name in keys), None)


def _turn_like(items: list[Any], named: dict[str, str]) -> bool:
    """A list whose objects carry words under a text key."""
    sample = [i for i in items[:50] if isinstance(i, dict)]
    if not sample:
        return False
    with_text = 0
    for item in sample:
        key = _usual_key(item, "text", named)
        if key is not None and isinstance(item[key], (str, int, float)) and not isinstance(item[key], bool):
            with_text += 1
    return with_text * 2 >= len(sample) and with_text > 0


def _find_turn_list(value: Any, named: dict[str, str], depth: int = 0) -> list[Any] | None:
    if isinstance(value, list):
        return value if _turn_like(value, named) else None
    if not isinstance(value, dict) or depth > 4:
        return None
    keys = {_norm(k): k for k in value}
    ordered = [keys[_norm(c)] for c in CONTAINERS if _norm(c) in keys]
    ordered += [k for k in value if k not in ordered]
    for key in ordered:
        found = _find_turn_list(value[key], named, depth + 1)
        if found is not None:
            return found
    return None


def json_cues(path: Path, text: str, columns: dict[str, str]) -> tuple[list[Cue], list[str]]:
    """The turns of a JSON transcript, and warnings about values that could not be read."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(str(path), f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    except RecursionError as exc:
        raise SourceError(str(path), "JSON nested too deeply to be a transcript") from exc
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise SourceError(str(path), f"not valid JSON for qualkam ({exc})") from exc
    try:
        items = _find_turn_list(data, columns)
    except RecursionError as exc:
        raise SourceError(str(path), "JSON nested too deeply to be a transcript") from exc
    if items is None:
        found = f"found keys: {', '.join(str(k) for k in list(data)[:12])}; " if isinstance(data, dict) and data else ""
        raise SourceError(
            str(path),
            (
                f"no list of turns found ({found}qualkam reads a list of objects with a speaker "
                f"({', '.join(USUAL['speaker'][:5])}), a text ({', '.join(USUAL['text'][:6])}) and optional "
                f"start/end, at the top level or under {', '.join(CONTAINERS[:4])} ...; or name the keys with "
                f"'columns' in the metadata sidecar, see docs/sources-format.md)"
            ),
        )
    cues: list[Cue] = []
    bad_times: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        text_key = _usual_key(item, "text", columns)
        words = (
            cell_text(item.get(text_key)) if text_key and not isinstance(item.get(text_key), (dict, list, bool)) else ""
        )
        if not words:
            continue
        speaker_key = _usual_key(item, "speaker", columns)
        speaker = item.get(speaker_key) if speaker_key else None
        if speaker is None and "role" in item and isinstance(item["role"], str):
            speaker = item["role"]  # chat-style messages: the role is who speaks
        speaker_text = (
            cell_text(speaker) if isinstance(speaker, (str, int, float)) and not isinstance(speaker, bool) else ""
        )
        times = []
        for role in ("start", "end"):
            key = _usual_key(item, role, columns)
            got = read_time(item.get(key), millis=bool(key) and _norm(key).endswith("ms")) if key else (None, None)
            if got is None:
                bad_times.append(f"item {index + 1} {key!r}: {str(item.get(key))[:20]!r}")
                got = (None, None)
            times.append(got)
        cues.append(Cue(speaker_text.rstrip(":").strip() or None, words, times[0], times[1]))
    return cues, _time_warnings(bad_times)


def _time_warnings(bad: list[str]) -> list[str]:
    if not bad:
        return []
    more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
    return [
        f"{len(bad)} time value(s) could not be read as a time ({'; '.join(bad[:3])}{more}); those turns are "
        f"kept without it: write times as h:mm:ss, mm:ss or seconds"
    ]


# ---- Spreadsheets -------------------------------------------------------------------------


def _header(
    rows: Iterator[Sequence[Any]], columns: dict[str, str], where: str
) -> tuple[dict[str, int], int, Sequence[Any]]:
    """Find the header row among the first rows: (role -> column index, its row number, the row)."""
    seen: list[str] = []
    for number, row in enumerate(rows, start=1):
        names = [_norm(c) if c is not None else "" for c in row]
        if any(names) and not seen:
            seen = [str(c).strip() for c in row if c is not None and str(c).strip()]
        found: dict[str, int] = {}
        for role, name in columns.items():
            if _norm(name) in names:
                found[role] = names.index(_norm(name))
        for role, usual in USUAL.items():
            if role in found or role in columns:
                continue
            for name in usual:
                if name in names and names.index(name) not in found.values():
                    found[role] = names.index(name)
                    break
        if "text" in found and ("speaker" in found or "start" in found or "text" in columns):
            missing = [(role, name) for role, name in columns.items() if role not in found]
            if missing:
                role, name = missing[0]
                raise SourceError(
                    where,
                    f"column {name!r} (columns.{role} in the metadata) is not in the header "
                    f"row; found: {', '.join(seen)}",
                )
            return found, number, row
        if number >= HEADER_ROWS:
            break
    if "text" in columns:
        raise SourceError(
            where,
            f"column {columns['text']!r} (columns.text in the metadata) is not in the header "
            f"row; found: {', '.join(seen) or '(nothing)'}",
        )
    raise SourceError(
        where,
        (
            f"no speaker and text columns in the first {HEADER_ROWS} rows (found: {', '.join(seen) or 'no header'}); "
            f"qualkam looks for {', '.join(USUAL['speaker'][:3])} and {', '.join(USUAL['text'][:5])} (any case), "
            f"or name them in the metadata sidecar as columns: {{speaker: ..., text: ...}}"
        ),
    )


def sheet_cues(
    rows: Iterable[Sequence[Any]], columns: dict[str, str], where: str, workbook: bool = False
) -> tuple[list[Cue], list[str]]:
    """Rows (the header among the first) -> cues. A blank speaker cell continues the row
    before; with a turn column, a new turn number starts a new turn."""
    rows = iter(rows)
    found, header_row, header = _header(rows, columns, where)
    return _row_cues(rows, found, header_row, header, workbook)


def _row_cues(
    rows: Iterable[Sequence[Any]], found: dict[str, int], header_row: int, header: Sequence[Any], workbook: bool
) -> tuple[list[Cue], list[str]]:
    header_names = dict(found)
    cues: list[Cue] = []
    bad_times: list[str] = []
    previous: Cue | None = None
    for number, row in enumerate(rows, start=header_row + 1):

        def cell(role: str, row: Sequence[Any] = row) -> Any:
            index = header_names.get(role)
            return row[index] if index is not None and index < len(row) else None

        words = cell_text(cell("text"))
        if not words:
            continue
        speaker = cell_text(cell("speaker")).rstrip(":").strip() or None
        turn = cell("turn")
        if speaker is None and previous is not None:
            speaker, turn = previous.speaker, previous.turn
        times = []
        for role in ("start", "end"):
            got = read_time(cell(role), day_fraction=workbook)
            if got is None:
                bad_times.append(f"row {number} {str(header[found[role]]).strip()!r}: {str(cell(role))[:20]!r}")
                got = (None, None)
            times.append(got)
        previous = Cue(speaker, words, times[0], times[1], turn=cell_text(turn) or None)
        cues.append(previous)
    return cues, _time_warnings(bad_times)


def csv_rows(path: Path, text: str) -> Iterator[list[str]]:
    """The rows of a CSV or TSV file: the delimiter is sniffed among , ; tab and |."""
    sample = text[:65536]
    if path.suffix.lower() == ".tsv":
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(sample.split("\n", 1)[0] or sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    try:
        yield from reader
    except csv.Error as exc:
        if "field larger" in str(exc):
            raise SourceError(
                str(path),
                f"line {reader.line_num}: a cell longer than {csv.field_size_limit():,} "
                "characters (or a quote left open); split it or check its quotes",
            ) from exc
        raise SourceError(
            str(path), f"line {reader.line_num}: not valid CSV ({exc}); check the quotes on that line"
        ) from exc


MAX_UNPACKED = 500_000_000  # bytes a workbook may unpack to; zipfile stops each part at its declared size
MAX_HEADER_COLUMNS = 200


def workbook_cues(path: Path, data: bytes, columns: dict[str, str]) -> tuple[list[Cue], list[str]]:
    """The first worksheet with a transcript header gives the cues (others, such as a list of
    tags, are not read). The workbook is streamed (read-only) in bounded memory; its declared
    dimension, which can claim a million rows and 16,384 columns, is not trusted: the header
    is looked for in the first rows and columns, and rows are read only as wide as the
    columns used."""
    import openpyxl

    where = str(path)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNPACKED:
            raise SourceError(
                where,
                f"the workbook unpacks to {unpacked // 1_000_000:,} MB, too large for a "
                "transcript; save the transcript sheet on its own",
            )
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except SourceError:
        raise
    except Exception as exc:  # openpyxl, zipfile and XML parsers raise many kinds for a damaged file
        raise SourceError(
            where,
            f"not a readable .xlsx workbook ({type(exc).__name__}); open it in a "
            "spreadsheet program and save it again as .xlsx",
        ) from exc
    first_error: SourceError | None = None
    try:
        for sheet in book.worksheets:
            if not hasattr(sheet, "reset_dimensions"):
                continue  # a chart sheet
            sheet.reset_dimensions()
            head = sheet.iter_rows(min_row=1, max_row=HEADER_ROWS, max_col=MAX_HEADER_COLUMNS, values_only=True)
            try:
                found, header_row, header = _header(iter(head), columns, where)
            except SourceError as exc:
                first_error = first_error or exc
                continue
            rows = sheet.iter_rows(min_row=header_row + 1, max_col=max(found.values()) + 1, values_only=True)
            return _row_cues(rows, found, header_row, header, workbook=True)
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(
            where,
            f"the workbook is damaged ({type(exc).__name__}); open it in a spreadsheet "
            "program and save it again as .xlsx",
        ) from exc
    finally:
        book.close()
    raise first_error or SourceError(where, "the workbook has no worksheet")
