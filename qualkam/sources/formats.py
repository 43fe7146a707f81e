"""Readers for each file format: bytes on disk -> normalised plain text (+ cue turns).

Text and Markdown keep their own text; Word and subtitle files get a text that qualkam
builds (paragraphs, or one ``Speaker: words`` line per turn), stored with the source so
every offset can be found again. Libraries do the format work: python-docx, webvtt-py, srt.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from qualkam.errors import SourceError
from qualkam.sources.metadata import MetadataError, split_front_matter
from qualkam.sources.structured import Cue, csv_rows, json_cues, parse_columns, sheet_cues, workbook_cues
from qualkam.sources.textio import DecodeError, decode, normalise
from qualkam.sources.turns import TIME, Turn, end_at_next_start

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
SUBTITLE_SUFFIXES = {".vtt", ".srt"}
WORD_SUFFIXES = {".docx"}
SHEET_SUFFIXES = {".xlsx", ".csv", ".tsv"}
JSON_SUFFIXES = {".json"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED = TEXT_SUFFIXES | SUBTITLE_SUFFIXES | WORD_SUFFIXES | SHEET_SUFFIXES | JSON_SUFFIXES | PDF_SUFFIXES

# A Zoom-style cue prefix: display names may hold spaces, dots and brackets.
_CUE_PREFIX = re.compile(r"^(?P<label>[^\s:][^:\n]{0,59}?):[ \t]+(?P<words>\S.*)$", re.S)
_SPEAKERLESS_MAX_CHARS = 600
_SPEAKERLESS_MAX_GAP = 1.5


# A Markdown backslash escape (CommonMark: a backslash before ASCII punctuation), as podcast
# and web transcripts write "\[11:58\]"; the stored text keeps the character, not the escape.
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def unescape_markdown(text: str) -> str:
    """``\\[11:58\\]`` -> ``[11:58]``, ``\\*`` -> ``*``; a lone backslash stays."""
    return _MD_ESCAPE.sub(r"\1", text)


@dataclass
class RawSource:
    """A file read into text. ``cue_turns`` is set for subtitle files, whose turns come from cues."""

    text: str
    format: str
    encoding: str | None = None
    front_matter: dict[str, Any] | None = None
    body_line: int = 1
    cue_turns: list[Turn] | None = None
    file_fields: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # about a file still coded (a time cell that is not a time)


def read_source(path: Path, encoding: str | None = None, columns: Any = None) -> RawSource:
    """Read one file of a supported type; raise SourceError naming the reason. ``columns``:
    the metadata's names of the speaker, text and time columns (spreadsheets) or keys (JSON)."""
    suffix = path.suffix.lower()
    named = parse_columns(columns, str(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(str(path), f"cannot read file: {exc.strerror or exc}") from exc
    if not data or data.isspace():  # not data.strip(): a copy of the whole file (issue 14)
        raise SourceError(str(path), "empty file")
    if suffix in WORD_SUFFIXES:
        return _read_docx(path, data)
    if suffix == ".xlsx":
        cues, warnings = workbook_cues(path, data, named)
        return _from_cues(path, cues, "xlsx", None, warnings)
    if suffix in PDF_SUFFIXES:
        return _read_pdf(path, data)
    try:
        text, used = decode(data, encoding)
    except DecodeError as exc:
        raise SourceError(str(path), exc.args[0], arguments=exc.arguments) from exc
    del data  # a very large file is not held twice, as bytes and as text, beyond this point (issue 14)
    if suffix in TEXT_SUFFIXES:
        raw = _with_front_matter(path, text, "markdown" if suffix != ".txt" else "text", used)
        if raw.format == "markdown":
            raw.text = unescape_markdown(raw.text)
        return raw
    if suffix == ".vtt":
        return _read_vtt(path, text, used)
    if suffix == ".srt":
        return _read_srt(path, text, used)
    if suffix in JSON_SUFFIXES:
        cues, warnings = json_cues(path, text, named)
        return _from_cues(path, cues, "json", used, warnings)
    if suffix in SHEET_SUFFIXES:
        cues, warnings = sheet_cues(csv_rows(path, text), named, str(path))
        return _from_cues(path, cues, suffix[1:], used, warnings)
    raise SourceError(str(path), f"unsupported file type {suffix!r}")


def _with_front_matter(path: Path, text: str, fmt: str, used: str | None) -> RawSource:
    try:
        front, body, body_line = split_front_matter(text)
    except MetadataError as exc:
        raise SourceError(str(path), str(exc)) from exc
    if not body or body.isspace():
        raise SourceError(str(path), "no text after the front matter")
    return RawSource(body, fmt, used, front, body_line)


WORD_MAX_UNPACKED = 512 * 1024 * 1024  # a .docx unpacking to more is refused before reading (zip bomb)


def _read_docx(path: Path, data: bytes) -> RawSource:
    import docx

    try:
        unpacked = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise SourceError(str(path), "not a valid Word .docx file; open and re-save it in Word") from exc
    if unpacked > WORD_MAX_UNPACKED:
        raise SourceError(
            str(path),
            f"the Word file unpacks to {unpacked / 2**20:,.0f} MB, more than "
            f"{WORD_MAX_UNPACKED // 2**20} MB; save the transcript as a smaller file",
        )
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise SourceError(str(path), "not a valid Word .docx file; open and re-save it in Word") from exc
    except Exception as exc:  # python-docx raises its own PackageNotFoundError and lxml errors
        raise SourceError(str(path), f"not a valid Word .docx file ({type(exc).__name__}); re-save it in Word") from exc
    if document.element.body is None:
        raise SourceError(
            str(path), "the Word document has no body (word/document.xml lacks <w:body>); re-save it in Word"
        )
    try:
        lines = _docx_lines(document)
        title = document.core_properties.title
    except Exception as exc:  # python-docx reads attributes lazily: a hostile value fails here
        raise SourceError(
            str(path),
            f"cannot read the Word document's content ({type(exc).__name__}: "
            f"{str(exc)[:120]}); open and re-save it in Word",
        ) from exc
    # Paragraphs become blank-line separated blocks so "paragraph" segmentation follows Word's.
    text = normalise("\n\n".join(line.strip() for line in lines if line.strip()))
    if not text.strip():
        raise SourceError(str(path), "the Word document holds no text")
    raw = _with_front_matter(path, text, "docx", None)
    if title:
        raw.file_fields["title"] = title
    return raw


def _docx_lines(document: Any) -> list[str]:
    from docx.table import Table

    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(_table_lines(block))
        else:
            lines.append(block.text)
    return lines


_TABLE_TIME = re.compile(rf"[\[(]?[ \t]*({TIME})[ \t]*[\])]?")


def _table_lines(table: Any) -> list[str]:
    """Transcripts kept as tables: (speaker, words) or (time, speaker, words) rows. Each cell
    is read as written (``w:tc``), not through the layout grid: a merged cell appears once,
    and a hostile span (``w:gridSpan`` of "x" or of a billion) is never expanded."""
    from docx.table import _Cell

    lines = []
    for tr in table._tbl.tr_lst:
        cells = [_Cell(tc, table).text.strip() for tc in tr.tc_lst]
        cells = [c for c in cells if c]
        if len(cells) == 2:
            lines.append(f"{cells[0]}: {cells[1]}")
        elif len(cells) == 3 and (time := _TABLE_TIME.fullmatch(cells[0])):
            lines.append(f"[{time.group(1)}] {cells[1]}: {cells[2]}")
        elif len(cells) == 3 and (time := _TABLE_TIME.fullmatch(cells[1])):  # speaker, time, words
            lines.append(f"[{time.group(1)}] {cells[0]}: {cells[2]}")
        elif cells:
            lines.append(" | ".join(cells))
    return lines


def _read_vtt(path: Path, text: str, used: str) -> RawSource:
    import webvtt
    from webvtt.errors import MalformedFileError

    try:
        captions = webvtt.from_string(text)
        cues = _vtt_cues(captions)
    except MalformedFileError as exc:
        raise SourceError(str(path), f"not a valid WebVTT file: {exc}") from exc
    except (ValueError, OverflowError) as exc:  # a time the clock cannot hold
        raise SourceError(str(path), f"not a valid WebVTT file: a cue time is out of range ({exc})") from exc
    return _from_cues(path, cues, "vtt", used)


def _vtt_cues(captions: Any) -> list[Cue]:
    cues = []
    for caption in captions:
        words = " ".join(caption.text.split())
        speaker = caption.voice
        cues.append(
            _cue((caption.start_in_seconds, caption.start), (caption.end_in_seconds, caption.end), speaker, words)
        )
    return cues


def _read_srt(path: Path, text: str, used: str) -> RawSource:
    import srt

    try:
        subtitles = list(srt.parse(text))
    except srt.SRTParseError as exc:
        raise SourceError(str(path), f"not a valid SRT file: {exc}") from exc
    except (ValueError, OverflowError) as exc:  # a time the clock cannot hold (hour 99999999999)
        raise SourceError(str(path), f"not a valid SRT file: a cue time is out of range ({exc})") from exc
    cues = []
    for sub in subtitles:
        words = " ".join(re.sub(r"<[^>]+>", "", sub.content).split())
        cues.append(
            _cue(
                (sub.start.total_seconds(), _srt_time(sub.start)),
                (sub.end.total_seconds(), _srt_time(sub.end)),
                None,
                words,
            )
        )
    return _from_cues(path, cues, "srt", used)


def _srt_time(delta: timedelta) -> str:
    millis = int(round(delta.total_seconds() * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _cue(start: tuple[float, str], end: tuple[float, str], speaker: str | None, words: str) -> Cue:
    return _with_prefix_speaker(Cue(speaker, words, start, end))


def _with_prefix_speaker(cue: Cue) -> Cue:
    """A cue without a speaker whose words open with ``Name:`` (Zoom) is that speaker's."""
    if cue.speaker is None:
        match = _CUE_PREFIX.match(cue.words)
        if match and len(match.group("label").split()) <= 6 and not match.group("label").lower().startswith("http"):
            cue.speaker, cue.words = match.group("label").strip(), match.group("words").strip()
    return cue


def _from_cues(path: Path, cues: list[Cue], fmt: str, used: str | None, warnings: list[str] | None = None) -> RawSource:
    """Merge consecutive cues of one speaker (and turn number, when the file has one) into
    turns and lay them out as text. A turn without an end time ends where the next begins."""
    cues = [c for c in cues if c.words]
    if not cues:
        raise SourceError(
            str(path), f"the {fmt.upper()} file has no {'cues' if fmt in ('vtt', 'srt') else 'turns'} with text"
        )
    groups: list[list[Cue]] = []
    for cue in cues:
        if groups:
            last = groups[-1]
            same = cue.speaker == last[-1].speaker and cue.turn == last[-1].turn
            if same and cue.speaker is None:
                # Speakerless subtitles: keep cues together across short pauses only.
                length = sum(len(c.words) + 1 for c in last)
                gap = cue.start - last[-1].end if cue.start is not None and last[-1].end is not None else 0.0
                same = gap <= _SPEAKERLESS_MAX_GAP and length < _SPEAKERLESS_MAX_CHARS
            if same:
                last.append(cue)
                continue
        groups.append([cue])
    parts: list[str] = []
    turns: list[Turn] = []
    offset = 0
    for group in groups:
        speaker = group[0].speaker
        prefix = f"{speaker}: " if speaker else ""
        words = " ".join(c.words for c in group)
        line = normalise(prefix + words)
        start = offset + len(normalise(prefix))
        turns.append(Turn(start, offset + len(line), speaker, None, group[0].start_label, group[-1].end_label))
        parts.append(line)
        offset += len(line) + 1
    end_at_next_start(turns)
    return RawSource("\n".join(parts) + "\n", fmt, used, None, 1, turns, warnings=list(warnings or []))


def _read_pdf(path: Path, data: bytes) -> RawSource:
    """A PDF's text layer, page after page; its turns are found as in a text file."""
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf logs each oddity of a file it can still read
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise SourceError(str(path), "the PDF is password-protected; save a copy without the password")
        pages = [page.extract_text() or "" for page in reader.pages]
    except SourceError:
        raise
    except Exception as exc:  # pypdf raises many kinds (and RecursionError) for a damaged file
        raise SourceError(
            str(path), f"not a readable PDF ({type(exc).__name__}); open it and save it again as PDF"
        ) from exc
    text = normalise("\n".join(page.strip("\n") for page in pages if page.strip()))
    if not text.strip():
        raise SourceError(str(path), "no text layer; OCR it first (for example with ocrmypdf) and code the OCR'd PDF")
    return RawSource(text, "pdf")
