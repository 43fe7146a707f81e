"""The stored rule suggestions are the same as before matching was made fast (issue 14).

``qualkam code`` over ``sample_transcripts/`` and over a generated bench corpus (bench/corpus.py,
20,000 words, seed 7), with the built-in ``kam`` codebook: every suggestion the run stores, in
store order, with its source, segment, span, code, score and evidence (offsets, words, rule),
must equal the golden file recorded from the matcher as it was (spaCy's plain ``Matcher`` and
``PhraseMatcher`` over every turn). A faster matcher that finds one match more or less, picks
another rule for a span, or lists evidence in another order fails here.

After a deliberate change to matching or scoring, rewrite the golden files with
``QUALKAM_UPDATE_GOLDEN=1 python -m pytest tests/test_identical_suggestions.py`` and read the
diff (``zcat``): they are the specification.
"""

from __future__ import annotations

import difflib
import gzip
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

import qualkam
from qualkam.coding.run import code_folder

from .conftest import ROOT

GOLDEN = Path(__file__).parent / "fixtures" / "suggestions"
UPDATE = os.environ.get("QUALKAM_UPDATE_GOLDEN") == "1"
BENCH_WORDS = 20_000


def stored_suggestions(folder: Path, work: Path) -> list[dict[str, Any]]:
    """Code ``folder`` as ``qualkam code`` does (one job, built-in kam codebook) into a fresh
    project; every stored suggestion in store order."""
    with qualkam.open(work / "identical.db", create=True) as view:
        code_folder(folder, "kam", view.project, out_dir=None, jobs=1)
        found = view.codings("suggestions")
    rows = found.sort_values("coding").to_dict("records")
    return [
        {
            "source": row["source"],
            "segment": int(row["position"]),
            "start": int(row["start"]),
            "end": int(row["end"]),
            "code": row["code"],
            "score": row["score"],
            "evidence": row["evidence"],
        }
        for row in rows
    ]


def dumped(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)


def check(name: str, rows: list[dict[str, Any]]) -> None:
    """Compare with (or, with QUALKAM_UPDATE_GOLDEN=1, write) ``fixtures/suggestions/NAME.jsonl.gz``."""
    golden = GOLDEN / f"{name}.jsonl.gz"
    now = dumped(rows)
    if UPDATE:
        golden.write_bytes(gzip.compress(now.encode("utf-8"), mtime=0))
        return
    assert golden.exists(), f"{golden} is missing; write it with QUALKAM_UPDATE_GOLDEN=1 and read it"
    expected = gzip.decompress(golden.read_bytes()).decode("utf-8")
    if now != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True), now.splitlines(keepends=True), str(golden), "this run", n=1
            )
        )
        pytest.fail(f"stored suggestions for {name} differ from the golden file:\n{diff[:20000]}", pytrace=False)


@pytest.mark.slow
def test_sample_transcripts_get_the_same_suggestions(tmp_path: Path) -> None:
    rows = stored_suggestions(ROOT / "sample_transcripts", tmp_path)
    assert len(rows) > 150 and len({r["code"] for r in rows}) > 20, "the sample exercises many rules"
    assert {e["rule"].split(":")[0] for r in rows for e in r["evidence"]} == {"lemma", "tokens"}
    check("identical-sample_transcripts", rows)


@pytest.mark.slow
def test_bench_corpus_gets_the_same_suggestions(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from bench.corpus import generate
    finally:
        sys.path.remove(str(ROOT))
    generate(tmp_path / "corpus", BENCH_WORDS, seed=7)
    rows = stored_suggestions(tmp_path / "corpus", tmp_path)
    assert len(rows) > 200
    check(f"identical-bench-{BENCH_WORDS}", rows)
