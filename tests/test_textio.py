"""Decoding the encodings seen in the field, and refusing what is not text."""

from __future__ import annotations

import codecs

import pytest

from qualkam.sources.textio import DecodeError, decode

from .conftest import FIXTURES

EXPECTED_SNIPPET = "We were an island, frankly. The café at head office"


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("utf8.txt", "utf-8"),
        ("utf8-bom.txt", "utf-8 (BOM)"),
        ("utf16le-bom.txt", "utf-16-le (BOM)"),
        ("utf16be-bom.txt", "utf-16-be (BOM)"),
        ("cp1252-crlf.txt", "cp1252"),
        ("old-mac-cr.txt", "utf-8"),
    ],
)
def test_field_encodings_decode_to_the_same_text(name: str, encoding: str) -> None:
    text, used = decode((FIXTURES / "formats" / name).read_bytes())
    reference, _ = decode((FIXTURES / "formats" / "utf8.txt").read_bytes())
    assert used == encoding
    assert text == reference
    assert "\r" not in text and "\ufeff" not in text
    assert EXPECTED_SNIPPET in text and "£40,000" in text and "“give or take”" in text


def test_utf16_without_bom_is_named_with_the_fix() -> None:
    with pytest.raises(DecodeError, match="UTF-16 without a byte-order mark.*pass encoding utf-16-le"):
        decode((FIXTURES / "formats" / "utf16-nobom.txt").read_bytes())
    text, used = decode((FIXTURES / "formats" / "utf16-nobom.txt").read_bytes(), "utf-16-le")
    assert used == "utf-16-le" and EXPECTED_SNIPPET in text


def test_binary_and_unknown_encodings_are_refused() -> None:
    with pytest.raises(DecodeError, match="binary"):
        decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DecodeError, match="unknown encoding"):
        decode(b"abc", "no-such-codec")


def test_nfc_normalisation_makes_offsets_stable() -> None:
    decomposed = "cafe\u0301".encode("utf-8")
    text, _ = decode(decomposed)
    assert text == "café" and len(text) == 4


def test_bom_with_invalid_body_is_reported() -> None:
    with pytest.raises(DecodeError, match="byte-order mark"):
        decode(codecs.BOM_UTF8 + b"\xff\xfe\xfa")
