"""Smoke test: bench/run.py runs from a clone and prints its table (CI does not run the full
benchmark; it is not a test, and takes minutes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def test_the_benchmark_runs_on_a_small_corpus_and_prints_every_figure(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--words",
            "3000",
            "--jobs",
            "2",
            "--work",
            str(tmp_path),
            "--reliability",
            "--codes 4 --segments 400 --replicates 20 --repeats 1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for figure in (
        "spaCy nlp.pipe + the same matchers (baseline), words/s",
        "ratio to baseline (target >= 0.70)",
        "cold, --jobs 2, words/s",
        "warm re-run (nothing changed)",
        "peak RSS, --jobs 1",
        "every matrix and the excerpts (8 CSV files)",
        "qualkam agreement benchmark",
    ):
        assert figure in out, figure
    assert "store and CSVs identical, --jobs 1 vs 2 | yes |" in out
    row = next(line for line in out.splitlines() if line.startswith("| qualkam code in process, 1 job"))
    assert float(row.split("|")[2].replace(",", "")) > 0
    assert (tmp_path / "w3000" / "one.db").exists(), "--work keeps what it measured"
