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
