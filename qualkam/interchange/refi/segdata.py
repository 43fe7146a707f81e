"""qualkam's own segments inside a .qdpx: ``qualkam/segments.json``.

REFI-QDA has no place for turns, speakers, roles or subtitle times, so a source imported
back would be segmented again from its text, and a Zoom meeting of 21 turns by 7 speakers
came back as 11 turns by 5 with no times. The exporter therefore adds one member that other
tools ignore (they read ``project.qde`` and the files it names; QualCoder extracts and skips
the rest), holding per source (by its GUID) the SHA-256 of its text, its unit and its
segments::

    {"format": "qualkam-segments", "version": 1,
     "sources": {"<guid>": {"id": "acdc", "sha256": "...", "unit": "turn",
                            "segments": [{"start": 0, "end": 35, "speaker": "Josh Davis",
                                          "time_start": "00:05:31.760", "time_end": "00:05:34.100"}, ...]}}}

On import the file is hostile input like the rest: ``parse`` and ``validate`` check every
field against the text; anything that does not fit gives a reason, and the importer falls
back to segmenting the text (and says why).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

MEMBER = "qualkam/segments.json"
FORMAT = "qualkam-segments"
VERSION = 1
UNITS = ("turn", "paragraph", "sentence")
FIELDS = ("speaker", "role", "speaker_unit", "time_start", "time_end")
MAX_LABEL = 500  # a speaker, role or unit longer than this is not a label
_TIME = re.compile(r"^\d[\d:.,]{0,31}$")  # 00:05:31.760, 00:00:01,000, 04:01, 75.5


class SegmentDataError(ValueError):
    """``qualkam/segments.json`` (or one source's entry) does not fit; the message says why."""


@dataclass(frozen=True)
class StoredSegment:
    start: int
    end: int
    speaker: str | None = None
    role: str | None = None
    speaker_unit: str | None = None
    time_start: str | None = None
    time_end: str | None = None


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def build(sources: list[tuple[str, str, str, str, list[dict[str, Any]]]]) -> bytes:
    """The member's bytes from (guid, source id, text, unit, segment rows); stable output."""
    payload: dict[str, Any] = {"format": FORMAT, "version": VERSION, "sources": {}}
    for guid, source_id, text, unit, rows in sources:
        segments = []
        for row in rows:
            item: dict[str, Any] = {"start": int(row["start"]), "end": int(row["end"])}
            item.update({f: row[f] for f in FIELDS if row[f] is not None})
            segments.append(item)
        payload["sources"][guid.lower()] = {
            "id": source_id,
            "sha256": text_hash(text),
            "unit": unit,
            "segments": segments,
        }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")


def parse(data: bytes) -> dict[str, Any]:
    """The member's per-source entries by upper-case GUID (the importer's canonical form)."""
    try:
        payload = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SegmentDataError(f"not JSON ({str(exc)[:80]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SegmentDataError(f"not a {FORMAT} file")
    if payload.get("version") != VERSION:
        raise SegmentDataError(f"version {str(payload.get('version'))[:20]!r}; this qualkam reads version {VERSION}")
    sources = payload.get("sources")
    if not isinstance(sources, dict):
        raise SegmentDataError("'sources' is not a mapping")
    return {str(guid).strip().strip("{}").upper(): entry for guid, entry in sources.items()}


def _label(value: Any, name: str, index: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_LABEL or "\n" in value or "\x00" in value:
        raise SegmentDataError(f"segment {index}: {name} is not a one-line label")
    return value


def _time(value: Any, name: str, index: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _TIME.match(value):
        raise SegmentDataError(f"segment {index}: {name} {str(value)[:30]!r} is not a time like 00:05:31.760")
    return value


def validate(entry: Any, text: str) -> tuple[str, list[StoredSegment]]:
    """(unit, segments) of one source's entry, checked against its text: the same SHA-256,
    a known unit, segments in order, not overlapping, not empty, inside the text, labels
    and times well formed. Raises ``SegmentDataError`` with the first reason it does not fit."""
    if not isinstance(entry, dict):
        raise SegmentDataError("the entry is not a mapping")
    if entry.get("sha256") != text_hash(text):
        raise SegmentDataError("it was made for another text (the text was changed)")
    unit = entry.get("unit")
    if unit not in UNITS:
        raise SegmentDataError(f"unit {str(unit)[:20]!r} is not one of {', '.join(UNITS)}")
    rows = entry.get("segments")
    if not isinstance(rows, list) or not rows:
        raise SegmentDataError("no segments")
    found: list[StoredSegment] = []
    previous = 0
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise SegmentDataError(f"segment {index} is not a mapping")
        start, end = row.get("start"), row.get("end")
        if type(start) is not int or type(end) is not int:
            raise SegmentDataError(f"segment {index}: start and end must be whole numbers")
        if not previous <= start < end <= len(text):
            raise SegmentDataError(
                f"segment {index}: {start}-{end} is out of order, empty or outside the text ({len(text)} characters)"
            )
        unknown = set(row) - {"start", "end", *FIELDS}
        if unknown:
            raise SegmentDataError(f"segment {index}: unknown field {sorted(map(str, unknown))[0][:30]!r}")
        found.append(
            StoredSegment(
                start,
                end,
                _label(row.get("speaker"), "speaker", index),
                _label(row.get("role"), "role", index),
                _label(row.get("speaker_unit"), "speaker_unit", index),
                _time(row.get("time_start"), "time_start", index),
                _time(row.get("time_end"), "time_end", index),
            )
        )
        previous = end
    return unit, found
