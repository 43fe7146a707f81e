"""Matrices: rows by any attribute, columns by code or code attribute, three kinds of count."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualkam.analysis.matrix import build_matrix
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.store.audit import now
from qualkam.store.project import Project
from qualkam.store.segments import segments

from .conftest import INTERVIEW, write

MEETING = """\
WEBVTT

1
00:00:01.000 --> 00:00:03.000
Tom Reed: We trust each other now.

2
00:00:04.000 --> 00:00:06.000
Ann Lee: Gut feeling, mostly. And the reporting lines.

3
00:00:07.000 --> 00:00:08.000
Tom Reed: Trust each other, yes.
"""


@pytest.fixture
def coded(tmp_path: Path, small_codebook, project: Project) -> Project:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(tmp_path / "src" / "m" / "m9.vtt", MEETING)
    write(
        tmp_path / "src" / "m" / "metadata.csv",
        "file,type,meeting_number,site,participants\n"
        "m9.vtt,meeting,9,Leeds,Tom Reed=Sales Manager|KAM; Ann Lee=Product Manager|non-KAM\n",
    )
    code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    return project


def test_phase_by_code_counts_segments_with_every_phase_listed(coded: Project) -> None:
    matrix = build_matrix(coded, rows="phase", cols="code")
    assert list(matrix.index) == ["pre_kam", "formal_kam"]
    assert list(matrix.columns) == ["hard_control", "soft_control"], "leaf codes only; the empty parent is left out"
    assert matrix.loc["pre_kam"].tolist() == [2, 1]
    assert matrix.loc["formal_kam"].tolist() == [1, 3]


def test_sources_speakers_and_attribute_rows(coded: Project) -> None:
    assert build_matrix(coded, rows="phase", value="sources").loc["formal_kam", "soft_control"] == 1
    speakers = build_matrix(coded, rows="source_type", value="speakers")
    assert speakers.loc["meeting", "soft_control"] == 2
    assert speakers.loc["interview", "hard_control"] == 2, "the interviewer I counts once in its own source"
    by_unit = build_matrix(coded, rows="unit")
    assert by_unit.loc["non-KAM"].tolist() == [1, 1]
    by_site = build_matrix(coded, rows="site")
    assert list(by_site.index) == ["Leeds", "(none)"]
    by_role = build_matrix(coded, rows="role")
    assert by_role.loc["Sales Director", "hard_control"] == 1


def test_columns_grouped_by_code_attribute(coded: Project) -> None:
    poles = build_matrix(coded, rows="phase", cols="attr:pole")
    assert list(poles.columns) == ["formal", "post_bureaucratic"]
    assert poles.loc["formal_kam"].tolist() == [1, 3]


def test_layers_respect_peoples_decisions(coded: Project) -> None:
    frame = segments(coded)
    seg = frame[frame["text"].str.lower().str.startswith("gut feeling")].iloc[0]
    with coded.transaction() as conn:
        conn.execute(
            """INSERT INTO codings (segment_id, source_id, start, "end", text, code_id, coder, origin, status,
                        created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, 'soft_control', 'ana', 'rule', 'rejected', ?, ?)""",
            (int(seg["segment"]), seg["source"], int(seg["start"]), int(seg["end"]), seg["text"], now(), now()),
        )
    assert build_matrix(coded, rows="phase").loc["formal_kam", "soft_control"] == 2, (
        "a rejected suggestion no longer counts"
    )
    assert build_matrix(coded, rows="phase", layer="suggestions").loc["formal_kam", "soft_control"] == 3
    assert build_matrix(coded, rows="phase", layer="human").to_numpy().sum() == 0
    assert build_matrix(coded, rows="phase", layer="coder:ana").to_numpy().sum() == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": "nonsense"}, "unknown row attribute 'nonsense' in rows; choose from: phase"),
        ({"cols": "attr:colour"}, "unknown code attribute 'colour' in cols; choose from: dimension, pole"),
        ({"cols": "codes"}, "unknown column kind 'codes' in cols"),
        ({"value": "words"}, "unknown value 'words' in value"),
        ({"layer": "robots"}, "unknown layer 'robots'"),
    ],
)
def test_bad_matrix_requests_say_what_to_use(coded: Project, kwargs: dict, message: str) -> None:
    with pytest.raises(QualkamError, match=message):
        build_matrix(coded, **kwargs)
