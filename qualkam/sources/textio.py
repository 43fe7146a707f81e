"""Decoding the bytes of text files as they arrive from the field, and normalising them.

Transcripts come from Word ("Unicode text" is UTF-16 with a BOM), from Windows editors
(Windows-1252) and from everything else (UTF-8, sometimes with a BOM). We decode by a fixed,
explainable chain instead of statistical guessing, so the same bytes always give the same
text and offsets: BOM -> strict UTF-8 -> strict Windows-1252. Anything else is reported.
"""

from __future__ import annotations

import codecs
import unicodedata

from qualkam.errors import fill

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class DecodeError(ValueError):
    """The bytes are not text qualkam can read; the message says what to do. Advice about the
    ``encoding`` argument writes it as ``{encoding}`` (``arguments``; the CLI shows its flag)."""

    arguments = ("encoding",)

    def __str__(self) -> str:
        return fill(super().__str__(), self.arguments)


def normalise(text: str) -> str:
    """Line endings to ``\\n`` and Unicode to NFC, so offsets mean the same everywhere."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text)


def _looks_utf16_without_bom(data: bytes) -> bool:
    sample = data[:4000]
    if len(sample) < 4:
        return False
    odd_nuls = sample[1::2].count(0) / (len(sample) // 2)
    even_nuls = sample[0::2].count(0) / ((len(sample) + 1) // 2)
    # Mostly-Latin UTF-16 has a NUL in nearly every other byte and almost none in between.
    return (odd_nuls > 0.7 and even_nuls < 0.1) or (even_nuls > 0.7 and odd_nuls < 0.1)


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Return (normalised text, encoding used). Raise DecodeError for binary or unknown bytes."""
    if encoding:
        try:
            text = data.decode(encoding)
        except LookupError as exc:
            raise DecodeError(
                f"unknown encoding {encoding!r}; use a Python codec name such as utf-8 or cp1252"
            ) from exc
        except UnicodeDecodeError as exc:
            raise DecodeError(f"not valid {encoding} at byte {exc.start}; check {{encoding}}") from exc
        return normalise(text.lstrip("\ufeff")), encoding
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return normalise(data[len(bom) :].decode(name)), name + " (BOM)"
            except UnicodeDecodeError as exc:
                raise DecodeError(
                    f"starts with a {name} byte-order mark but is not valid {name} at byte {exc.start}"
                ) from exc
    if b"\x00" in data:
        if _looks_utf16_without_bom(data):
            raise DecodeError(
                "looks like UTF-16 without a byte-order mark; re-save as UTF-8 or pass {encoding} utf-16-le"
            )
        raise DecodeError("binary file (contains NUL bytes), not a transcript")
    try:
        return normalise(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            f"neither UTF-8 nor Windows-1252 (byte {exc.start}); re-save as UTF-8 or pass {{encoding}}"
        ) from exc
    if sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f") > max(3, len(text) // 100):
        raise DecodeError("binary file (control characters), not a transcript")
    return normalise(text), "cp1252"
