"""Shared fixtures: a small codebook, a fresh project in tmp_path, the CLI runner."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings
from typer.testing import CliRunner

from qualkam.coding.codebook import load_codebook
from qualkam.store.project import Project
from qualkam.store.segments import SegmentFilter, segments

# Property tests explore new inputs on a developer's machine; in CI (CI=true) they replay a
# fixed sequence, so whether a submission lands never depends on the draw. What a local run
# finds becomes an example test.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
SHARED = ROOT.parent / "shared"

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="needs ../shared/ beside the project (the team's reference data); not in this clone"
)

SMALL_CODEBOOK = """\
name: Small test codebook
version: "1"
phases:
  - {id: pre_kam, label: Pre-KAM}
  - {id: formal_kam, label: Formal KAM}
phase_rules:
  - {phase: formal_kam, attribute: meeting_number, min: 9, max: 12}
  - phase: pre_kam
    date: {from: 2011-01-01, to: 2011-08-31}
codes:
  - id: control
    label: Mode of control
    attributes: {dimension: mode_of_control}
    children:
      - id: hard_control
        label: Hard control
        color: "#1f77b4"
        attributes: {dimension: mode_of_control, pole: formal}
        patterns:
          lemmas: [sales target, reporting line]
          tokens:
            - [{LEMMA: follow}, {LOWER: the}, {LEMMA: procedure}]
          exclude_lemmas: [no sales target]
      - id: soft_control
        label: Soft control
        attributes: {dimension: mode_of_control, pole: post_bureaucratic}
        patterns:
          lemmas: [trust each other, gut feeling]
"""


def run_cli(runner: CliRunner, *args: object):
    """Invoke the CLI and check it failed, if at all, with a message and an exit code, never a traceback."""
    from qualkam.cli import app

    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def small_codebook_path(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_CODEBOOK, encoding="utf-8")
    return path


@pytest.fixture
def small_codebook(small_codebook_path: Path):
    return load_codebook(small_codebook_path)


@pytest.fixture
def project(tmp_path: Path):
    with Project.open(tmp_path / "project.db", create=True) as store:
        yield store


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write a test source, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


INTERVIEW = """\
---
id: int-sales
type: interview
date: 2011-03-02
participants:
  I: Researcher
  Sarah Collins: {role: Sales Director, unit: KAM}
---
I: How were the sales targets set?
Sarah Collins: They came from the US. We had to follow the procedure.
It was all about the sales target that quarter.

Sarah: Honestly, now we trust each other. Gut feelings matter.
"""

OTHER = "---\nid: int-b\n---\nI: And the reporting lines?\nR: We trust each other. Gut feeling, mostly.\n"


def code_two_sources(tmp_path: Path, codebook, project: Project) -> dict[str, int]:
    """INTERVIEW and OTHER coded into ``project``; segment ids by their first twelve characters."""
    from qualkam.coding.run import code_folder

    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(tmp_path / "src" / "b.md", OTHER)
    code_folder(tmp_path / "src", codebook, project, out_dir=None)
    return segments_by_start(project)


def segments_by_start(project: Project) -> dict[str, int]:
    """Segment ids by the first twelve characters of their text, read as the library reads
    segments (``qualkam.store.segments.segments``)."""
    frame = segments(project)
    return dict(zip(frame["text"].str[:12], frame["segment"].astype(int), strict=True))


def segment_with(project: Project, words: str, source: str | None = None) -> int:
    """The id of the first segment (in source and reading order; of ``source`` when given)
    whose text contains ``words`` (any case), read as the library reads segments
    (``qualkam.store.segments.segments``)."""
    frame = segments(project, SegmentFilter(sources=[source] if source else []))
    found = frame[frame["text"].str.contains(words, case=False, regex=False)]
    assert len(found), f"no segment contains {words!r}"
    return int(found["segment"].iloc[0])


def records(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """Rows of a table the store returns, as tuples of ``columns``; a missing value is None
    (pandas reads a missing text or number as NaN)."""
    return [
        tuple(None if value is None or (isinstance(value, float) and math.isnan(value)) else value for value in row)
        for row in frame[columns].astype(object).itertuples(index=False)
    ]


def suggestions_in_order(project: Project) -> list[tuple[int, str]]:
    """(segment, code) of every machine suggestion, in the order they were stored, read as the
    library reads codings (``qualkam.store.segments.codings``)."""
    from qualkam.store.segments import codings

    table = codings(project, "suggestions").sort_values("coding")
    return [(int(s), str(c)) for s, c in zip(table["segment"], table["code"], strict=True)]


def source_texts(project: Project) -> dict[str, str]:
    """Source id -> its text, read as a REFI export reads sources (``qualkam.store.refi.sources``)."""
    from qualkam.store.refi import sources

    return {row["id"]: row["text"] for row in sources(project)}


def segment_ids(project: Project) -> dict[tuple[str, int], int]:
    """(source, position) -> segment id, read as the library reads segments."""
    frame = segments(project)
    return {(str(r.source), int(r.position)): int(r.segment) for r in frame.itertuples()}


@pytest.fixture
def two_coders(tmp_path: Path, small_codebook, project: Project) -> Project:
    """The reliability tests' project: two coders on int-sales (4 segments); only ben on int-b
    (missing for ana)."""
    from qualkam.coding.decisions import decide

    seg = code_two_sources(tmp_path, small_codebook, project)
    decide(project, "ana", seg["How were the"], "hard_control", "accept")
    decide(project, "ana", seg["They came fr"], "hard_control", "accept")
    decide(project, "ana", seg["Honestly, no"], "soft_control", "accept")
    decide(project, "ben", seg["How were the"], "hard_control", "reject")
    decide(project, "ben", seg["They came fr"], "hard_control", "accept")
    decide(project, "ben", seg["Honestly, no"], "soft_control", "accept")
    decide(project, "ben", seg["We trust eac"], "soft_control", "accept")
    return project


def said(output: str) -> str:
    """What a command said, as one line: Typer's usage-error box and line breaks taken out."""
    return " ".join(output.translate(str.maketrans("", "", "│╭╮╰╯─")).split())


def imported_modules(*args: str, code: int = 0, cwd: Path = ROOT) -> set[str]:
    """The modules ``python -X importtime -m qualkam ARGS`` imports, in a fresh interpreter."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "qualkam", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    assert done.returncode == code, done.stderr[-2000:]
    lines = [line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    return set(lines[1:])  # the first line is the header
