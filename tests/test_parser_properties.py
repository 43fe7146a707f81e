"""Property tests (issue 11): whatever the bytes, the transcript readers, the front matter and
the sidecar give a result or a SourceError / MetadataError naming the reason; never another
exception, never unbounded time or memory."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qualkam.errors import SourceError
from qualkam.sources.formats import read_source
from qualkam.sources.metadata import MetadataError, build_meta, load_sidecar, split_front_matter

FAST = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

# YAML-ish pieces that reach the constructor's corners: tags, anchors, aliases, flow
# collections, escapes (surrogates), merge keys, odd keys.
_PIECES = st.sampled_from(
    [
        "a",
        "b",
        "1",
        "-1",
        "0x1F",
        "1e400",
        ".nan",
        "null",
        "~",
        "true",
        "!!int",
        "!!float",
        "!!binary",
        "!!set",
        "!!str",
        "!!timestamp",
        "!!python/none",
        "&x",
        "*x",
        "&y",
        "*y",
        "<<:",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        ": ",
        "- ",
        "\n",
        "\n  ",
        '"\\ud800"',
        '"\\U0001F600"',
        "'q'",
        "?",
        "|",
        ">",
        "#c",
        "2011-13-45",
        "participants:",
        "date:",
        "id:",
        "phase:",
        "{1: a, b: c}",
        "[*x, *x]",
    ]
)


@FAST
@given(st.lists(_PIECES, max_size=40).map(" ".join))
def test_any_front_matter_is_read_or_a_metadata_error(block: str) -> None:
    text = f"---\n{block}\n---\nI: hello\n"
    try:
        front, body, _ = split_front_matter(text)
        meta = build_meta(front or {}, "x.md")
    except MetadataError:
        return
    json.dumps(meta.attributes)  # what the fingerprint and the store write
    "".join(str(v) for v in vars(meta).values()).encode("utf-8")


@FAST
@given(st.lists(_PIECES, max_size=40).map(" ".join))
def test_any_sidecar_is_read_or_a_metadata_error(tmp_path: Path, block: str) -> None:
    (tmp_path / "metadata.yaml").write_text(block, encoding="utf-8", errors="surrogatepass")
    try:
        load_sidecar(tmp_path)
    except MetadataError:
        pass


_TIME = st.builds(
    lambda h, m, s, ms: f"{h}:{m:02d}:{s:02d},{ms:03d}",
    st.one_of(st.integers(0, 99), st.integers(0, 10**30)),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 999),
)
_CUE = st.builds(
    lambda n, a, b, words: f"{n}\n{a} --> {b}\n{words}\n", st.integers(-5, 10**20), _TIME, _TIME, st.text(max_size=30)
)


@FAST
@given(st.lists(_CUE, min_size=1, max_size=5).map("\n".join), st.sampled_from([".srt", ".vtt"]))
def test_any_subtitle_file_is_read_or_a_source_error(tmp_path: Path, text: str, suffix: str) -> None:
    if suffix == ".vtt":
        text = "WEBVTT\n\n" + text.replace(",", ".")
    path = tmp_path / f"t{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        read_source(path)
    except SourceError:
        pass


def _base_docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("I: hello there")
    table = document.add_table(rows=2, cols=3)
    for r in range(2):
        for c in range(3):
            table.cell(r, c).text = f"{r}{c}"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


_DOCX = _base_docx()
_XML = zipfile.ZipFile(io.BytesIO(_DOCX)).read("word/document.xml").decode("utf-8")
_ATTRIBUTES = sorted(set(re.findall(r'(w:[A-Za-z]+)="[^"]*"', _XML)))
_ELEMENTS = sorted(set(re.findall(r"<(w:[A-Za-z]+)[ />]", _XML)))


def _docx_with(xml: str) -> bytes:
    source, target = zipfile.ZipFile(io.BytesIO(_DOCX)), io.BytesIO()
    with zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            out.writestr(
                item, xml.encode("utf-8") if item.filename == "word/document.xml" else source.read(item.filename)
            )
    return target.getvalue()


_INSERTS = st.sampled_from(
    [
        '<w:gridSpan w:val="{v}"/>',
        '<w:vMerge w:val="{v}"/>',
        '<w:br w:type="{v}"/>',
        "<w:tab/>",
        "<w:tbl>",
        "</w:tbl>",
        "<w:tr>",
        "<w:tc>",
        "<w:p>",
        "</w:p>",
        "<w:body/>",
    ]
)
_VALUES = st.sampled_from(["x", "0", "-1", "99999999999999999999", "", "restart", "continue", "page", "1.5"])


@FAST
@given(
    st.lists(st.tuples(st.integers(0, len(_XML)), _INSERTS, _VALUES), max_size=4),
    st.lists(st.tuples(st.sampled_from(_ATTRIBUTES), _VALUES), max_size=3),
    st.lists(st.sampled_from(_ELEMENTS), max_size=2),
)
def test_any_damaged_word_xml_is_read_or_a_source_error(tmp_path: Path, inserts, attributes, removed) -> None:
    xml = _XML
    for attribute, value in attributes:
        xml = re.sub(rf'{attribute}="[^"]*"', f'{attribute}="{value}"', xml, count=1)
    for element in removed:
        xml = re.sub(rf"<{element}\b[^>]*/>|<{element}\b[^>]*>.*?</{element}>", "", xml, count=1, flags=re.S)
    for position, insert, value in sorted(inserts, reverse=True):
        position = xml.rfind(">", 0, position) + 1 or len(xml)
        xml = xml[:position] + insert.format(v=value) + xml[position:]
    path = tmp_path / "t.docx"
    path.write_bytes(_docx_with(xml))
    try:
        read_source(path)
    except SourceError:
        pass
