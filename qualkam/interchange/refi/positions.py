"""Positions in other tools' terms.

qualkam stores offsets as code points (Python ``str`` indices) into a source's normalised
text. REFI-QDA files written by the big tools count UTF-16 code units over the exported
.txt, end exclusive, the BOM not counted (NVivo writes a BOM and CRLF; CRLF counts as two
units). These helpers convert both ways and map offsets from a tool's raw text onto the
text qualkam keeps after normalising its line endings.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate


def utf16_offsets(text: str) -> list[int]:
    """``result[i]`` = UTF-16 code units before code point ``i`` (length len(text) + 1)."""
    return [0, *accumulate(2 if ord(ch) > 0xFFFF else 1 for ch in text)]


def to_utf16(text: str, index: int, table: list[int] | None = None) -> int:
    """Code point index -> UTF-16 code unit index."""
    return (table or utf16_offsets(text))[index]


def from_utf16(text: str, unit: int, table: list[int] | None = None) -> int | None:
    """UTF-16 code unit index -> code point index; None when it falls inside a surrogate pair
    or outside the text (then the position does not fit this reading)."""
    table = table or utf16_offsets(text)
    if unit < 0 or unit > table[-1]:
        return None
    index = bisect_right(table, unit) - 1
    return index if table[index] == unit else None


def normalise_line_endings(raw: str) -> tuple[str, list[int]]:
    """Strip a BOM and turn CRLF / CR into LF; return the text and, for every code point
    index of ``raw`` (and its end), the index it has in the result."""
    mapping: list[int] = []
    out: list[str] = []
    start = 1 if raw.startswith("\ufeff") else 0
    if start:
        mapping.append(0)
    i = start
    while i < len(raw):
        ch = raw[i]
        mapping.append(len(out))
        if ch == "\r":
            if i + 1 < len(raw) and raw[i + 1] == "\n":
                # The CR of a CRLF maps onto the LF that replaces the pair.
                i += 1
                mapping.append(len(out))
            out.append("\n")
        else:
            out.append(ch)
        i += 1
    mapping.append(len(out))
    return "".join(out), mapping


# -- reading another tool's positions ----------------------------------------------------------
# How a tool may have counted, in the order preferred when the evidence ties: NVivo and
# ATLAS.ti count UTF-16 code units over the file as written (CRLF as two); a naive tool counts
# code points; QualCoder's "MAXQDA" export and qc write CRLF files but count each line end as
# one character (their positions are over the text with LF).
READINGS = ("utf-16", "code points", "code points, CRLF as one", "utf-16, CRLF as one")

Span = tuple[int, int]


def _fold_crlf(raw: str) -> tuple[str, list[int]]:
    """``raw`` with every CRLF as LF, and for each index of that text (and its end) the index
    it has in ``raw`` (a folded LF points at its CR, so a span keeps the whole line end)."""
    back: list[int] = []
    out: list[str] = []
    i = 0
    while i < len(raw):
        back.append(i)
        if raw[i] == "\r" and i + 1 < len(raw) and raw[i + 1] == "\n":
            i += 1
        out.append(raw[i])
        i += 1
    back.append(len(raw))
    return "".join(out), back


def _spans(raw: str, selections: list[tuple[int | None, int | None]], reading: str) -> list[Span | None]:
    """Each selection as code points of ``raw`` in one reading; None where it does not fit
    (out of range, empty or reversed, inside a surrogate pair)."""
    folded = reading.endswith("CRLF as one")
    text, back = _fold_crlf(raw) if folded else (raw, None)
    table = utf16_offsets(text) if reading.startswith("utf-16") else None
    found: list[Span | None] = []
    for start, end in selections:
        if not isinstance(start, int) or not isinstance(end, int) or start < 0 or end <= start:
            found.append(None)
            continue
        if table is not None:
            s, e = from_utf16(text, start, table), from_utf16(text, end, table)
        else:
            s, e = (start, end) if end <= len(text) else (None, None)
        if s is None or e is None or e <= s:
            found.append(None)
            continue
        found.append((back[s], back[e]) if back is not None else (s, e))
    return found


def _words(text: str) -> str:
    return " ".join(text.split())


def _name_score(raw: str, spans: list[Span | None], names: list[str]) -> int:
    """How well the selections' names (ATLAS.ti and others write the quotation's words there)
    match the text a reading selects: 2 for the same words, 1 for words it opens with."""
    score = 0
    for span, name in zip(spans, names, strict=False):
        words = _words(str(name or "")).rstrip("…").rstrip(".").strip()
        if span is None or len(words) < 5:
            continue
        chosen = _words(raw[span[0] : span[1]])
        if chosen == _words(str(name)):
            score += 2
        elif chosen.startswith(words):
            score += 1
    return score


def _boundary_score(raw: str, spans: list[Span | None]) -> int:
    """How many selection ends fall between words: people select whole words, a shifted
    reading cuts them."""

    def cut(i: int) -> bool:
        return 0 < i < len(raw) and raw[i - 1].isalnum() and raw[i].isalnum()

    return sum((not cut(s)) + (not cut(e)) for s, e in filter(None, spans))


def read_positions(
    raw: str, selections: list[tuple[int | None, int | None]], names: list[str] | None = None
) -> tuple[str, list[Span | None]]:
    """Decide how a source's selection positions count and give each as code points of
    ``raw`` (None for one that fits no reading).

    REFI-QDA does not say. The readings (``READINGS``) differ only past a character beyond
    U+FFFF or a CRLF; where they all give the same spans the answer is ``same``. Otherwise
    the reading is chosen by, in turn: how many selections fit; how well the selections'
    names match the words selected; how many selection ends fall between words; the order
    of ``READINGS``. Returns (reading, spans).
    """
    names = list(names or [])
    names += [""] * (len(selections) - len(names))
    candidates = READINGS if "\r\n" in raw else READINGS[:2]
    found = {reading: _spans(raw, selections, reading) for reading in candidates}
    if all(spans == found[READINGS[0]] for spans in found.values()):
        return "same", found[READINGS[0]]

    def evidence(reading: str) -> tuple[int, int, int, int]:
        spans = found[reading]
        return (
            sum(s is not None for s in spans),
            _name_score(raw, spans, names),
            _boundary_score(raw, spans),
            -READINGS.index(reading),
        )

    best = max(candidates, key=evidence)
    return best, found[best]


READING_TEXT = {
    "same": "every reading agrees (no character beyond U+FFFF or CRLF before a position)",
    "utf-16": "read as UTF-16 code units (as NVivo and ATLAS.ti count)",
    "code points": "read as code points",
    "utf-16, CRLF as one": "read as UTF-16 code units, each CRLF counted as one",
    "code points, CRLF as one": (
        "read as code points, each CRLF counted as one (as QualCoder's MAXQDA export and qc count)"
    ),
    "none": "no selections",
}
