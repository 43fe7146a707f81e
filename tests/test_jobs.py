"""``qualkam code --jobs N``: the same store and outputs whatever the number of processes."""

from __future__ import annotations

import multiprocessing
import shutil
import sys
import threading
from pathlib import Path

import pytest

from qualkam import parallel
from qualkam.coding import run as coding
from qualkam.coding.codebook import load_codebook
from qualkam.coding.run import code_folder, resolve_jobs
from qualkam.errors import QualkamError
from qualkam.parallel import ordered_map
from qualkam.store.project import Project

from .conftest import ROOT, run_cli

SAMPLES = ROOT / "sample_transcripts"
STAMPS = {"added_at", "updated_at", "created_at", "loaded_at", "applied_at"}  # wall-clock times differ


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every row of the tables a coding run writes, without the times it ran at."""
    tables = {}
    with Project.open(db) as project:
        for table in ("sources", "segments", "codings", "codes", "phases", "codebooks"):
            rows = project.conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            tables[table] = [tuple(v for k, v in zip(row.keys(), row, strict=True) if k not in STAMPS) for row in rows]
    return tables


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def run(folder: Path, db: Path, out: Path, jobs: int, suggest: str = "rules"):
    with Project.open(db, create=True) as project:
        return code_folder(folder, load_codebook("kam"), project, out_dir=out, jobs=jobs, suggest=suggest)


def test_one_and_two_jobs_give_identical_stores_and_outputs(tmp_path: Path) -> None:
    folder = tmp_path / "src"
    shutil.copytree(SAMPLES, folder)
    one = run(folder, tmp_path / "one.db", tmp_path / "out1", jobs=1)
    two = run(folder, tmp_path / "two.db", tmp_path / "out2", jobs=2)
    assert (one.files, one.coded, one.segments, one.suggestions) == (
        two.files,
        two.coded,
        two.segments,
        two.suggestions,
    )
    assert [str(p) for p in one.problems] == [str(p) for p in two.problems]
    assert one.coded == one.files - len(one.skipped) > 1 and one.suggestions > 0, "every readable file coded"
    first, second = dump(tmp_path / "one.db"), dump(tmp_path / "two.db")
    assert first == second
    # The report counts what the store holds.
    assert (len(first["sources"]), len(first["segments"]), len(first["codings"])) == (
        one.coded,
        one.segments,
        one.suggestions,
    )
    assert outputs(tmp_path / "out1") == outputs(tmp_path / "out2")

    # An incremental re-run after one file changed: the same again, one source re-coded.
    path = folder / "interviews" / "int-06-sales-director.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\nResearcher: And the forecast for next year?\n", encoding="utf-8")
    again = [
        run(folder, tmp_path / f"{name}.db", tmp_path / f"again{jobs}", jobs) for name, jobs in (("one", 1), ("two", 2))
    ]
    assert [(r.coded, r.unchanged) for r in again] == [(1, one.coded - 1)] * 2
    assert dump(tmp_path / "one.db") == dump(tmp_path / "two.db")
    assert outputs(tmp_path / "again1") == outputs(tmp_path / "again2")


def test_jobs_option_on_the_command_line(tmp_path: Path, runner) -> None:
    result = run_cli(runner, "code", SAMPLES, "-p", tmp_path / "p.db", "-o", tmp_path / "out", "--jobs", "2")
    assert result.exit_code == 0, result.output
    with Project.open(tmp_path / "p.db") as project:
        sources = project.counts()["sources"]
    assert sources > 1 and f"coded {sources} " in result.output
    bad = run_cli(runner, "code", SAMPLES, "-p", tmp_path / "q.db", "-o", tmp_path / "out", "--jobs", "0")
    assert bad.exit_code == 2 and "jobs 0: give 1 or more" in bad.output  # the CLI names it --jobs
    if (tmp_path / "q.db").exists():
        with Project.open(tmp_path / "q.db") as project:
            assert project.counts()["sources"] == 0, "refused before anything was coded"


def test_default_jobs_use_every_core_unless_workers_start_slowly_for_a_small_folder(
    tmp_path: Path, monkeypatch
) -> None:
    files = [tmp_path / f"{n}.txt" for n in range(3)]
    for path in files:
        path.write_text("x" * 400, encoding="utf-8")
    monkeypatch.setattr(coding, "available_cores", lambda: 4)
    monkeypatch.setattr(parallel, "START_METHOD", "fork")
    assert resolve_jobs(None, files) == 4, "forked workers cost nothing to start"
    monkeypatch.setattr(parallel, "START_METHOD", "forkserver")
    assert resolve_jobs(None, files) == 1, "1,200 bytes: starting workers afresh would cost more than it saves"
    assert resolve_jobs(3, files) == 3, "a number given is used as it is"
    monkeypatch.setattr(coding, "AUTO_JOBS_MIN_BYTES", 1000)
    assert resolve_jobs(None, files) == 4
    monkeypatch.setattr(coding, "available_cores", lambda: 1)
    assert resolve_jobs(None, files) == 1
    with pytest.raises(QualkamError, match="give 1 or more"):
        resolve_jobs(0, files)


def test_a_coding_run_checks_and_chooses_before_it_writes(tmp_path: Path, small_codebook) -> None:
    from qualkam.coding.run import CodingRun

    from .conftest import INTERVIEW, OTHER, write

    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(tmp_path / "src" / "b.md", OTHER)
    progress: list[tuple[int, int, str]] = []
    with Project.open(tmp_path / "p.db", create=True) as project:
        with pytest.raises(QualkamError) as bad:
            CodingRun(tmp_path / "src", small_codebook, project, jobs=0)
        assert bad.value.argument == "jobs"
        coding_run = CodingRun(
            tmp_path / "src", small_codebook, project, out_dir=None, progress=lambda *step: progress.append(step)
        )
        assert sorted(p.name for p in coding_run.files) == ["b.md", "int.md"]
        assert coding_run.codebook is small_codebook and coding_run.workers >= 1
        assert project.codebook() is None and project.counts()["sources"] == 0, "nothing written yet"
        report = coding_run.run()
        assert report is coding_run.report and report.coded == 2 == project.counts()["sources"]
        assert [(done, total) for done, total, _ in progress] == [(1, 2), (2, 2)], "progress in file order"
        again = CodingRun(tmp_path / "src", None, project, out_dir=None).run()
        assert (again.coded, again.unchanged) == (0, 2)


def square(n: int) -> int:
    if n < 0:
        raise ValueError("unlucky")
    return n * n


def test_ordered_map_keeps_order_and_passes_through_items_with_nothing_to_do() -> None:
    items = [(f"k{n}", None if n % 3 == 0 else n) for n in range(20)]
    expected = [(f"k{n}", None if n % 3 == 0 else n * n) for n in range(20)]
    assert list(ordered_map(iter(items), square)) == expected
    assert list(ordered_map(iter(items), square, 2, square)) == expected
    assert list(ordered_map(iter([("a", None)]), square, 2, lambda n: n)) == [("a", None)], (
        "nothing to compute: no pool is started (the lambda could not even be sent to one)"
    )


def test_ordered_map_consumes_lazily_and_reraises_a_worker_error() -> None:
    pulled = []

    def items():
        for n in range(100):
            pulled.append(n)
            yield n, n + 1

    stream = ordered_map(items(), square, 2, square)
    assert next(stream) == (0, 1)
    assert len(pulled) <= parallel.IN_FLIGHT_PER_JOB * 2 + 1, "only a few items are in flight at once"
    stream.close()
    with pytest.raises(ValueError, match="unlucky"):
        list(ordered_map(iter([(1, 2), (2, -1), (3, 4)]), square, 2, square))


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_each_start_method_gives_the_same_result(tmp_path: Path, monkeypatch, method: str) -> None:
    """Forked workers inherit the suggester; forkserver workers build their own from the codebook."""
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method on this platform")
    monkeypatch.setattr(parallel, "START_METHOD", method)
    folder = SAMPLES / "meetings"
    run(folder, tmp_path / "one.db", tmp_path / "out1", jobs=1)
    report = run(folder, tmp_path / "two.db", tmp_path / "out2", jobs=2)
    assert report.coded == report.files > 1 and report.suggestions > 0
    assert dump(tmp_path / "one.db") == dump(tmp_path / "two.db")
    assert outputs(tmp_path / "out1") == outputs(tmp_path / "out2")


def test_no_fork_while_another_thread_runs() -> None:
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert parallel.start_method() != "fork", "a thread could hold a lock the forked child inherits"
    finally:
        release.set()
        thread.join()
    if sys.platform == "linux":
        assert parallel.start_method() == "fork"
