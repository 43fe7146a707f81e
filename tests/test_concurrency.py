"""Real processes on one project: a review and imports at once, and processes killed mid-write.

These start `python -m qualkam` as separate processes, as two researchers (or a researcher
and a script) would, and check the store afterwards: no decision lost or duplicated, every
coding with its audit line, and an import either whole or absent. An import is killed only
once it says it is inside its transaction (after its first, middle or last decision), so the
kill is known to land mid-write rather than during start-up.
"""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qualkam.coding.codebook import load_codebook
from qualkam.coding.run import code_folder
from qualkam.store.project import Project

from .conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("master") / "master.db"
    with Project.open(db, create=True) as project:
        code_folder(ROOT / "sample_transcripts", load_codebook("kam"), project, out_dir=None)
    return db


@pytest.fixture
def db(master: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "p.db"
    with sqlite3.connect(master) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    return copy


def _spans_csv(db: Path, path: Path, codes: list[str]) -> int:
    """A long CSV coding every segment with each of ``codes``; returns the number of codings."""
    with Project.open(db) as project:
        segments = project.conn.execute('SELECT source_id, start, "end" FROM segments ORDER BY id').fetchall()
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "start", "end", "code"])
        for seg in segments:
            for code in codes:
                writer.writerow([seg["source_id"], seg["start"], seg["end"], code])
    return len(segments) * len(codes)


def _qualkam(*args: str, stdin: int | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "qualkam", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def _check_store(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    dupes = conn.execute("""SELECT segment_id, code_id, coder, COUNT(*) FROM codings WHERE coder IS NOT NULL
                            GROUP BY segment_id, code_id, coder HAVING COUNT(*) > 1""").fetchall()
    assert dupes == []
    people = conn.execute("SELECT COUNT(*) FROM codings WHERE coder IS NOT NULL").fetchone()[0]
    audited = conn.execute("SELECT COUNT(DISTINCT entity_id) FROM audit WHERE entity = 'coding'").fetchone()[0]
    assert people == audited, "every person's coding has its audit line, written in the same transaction"
    return conn


def test_a_review_and_two_imports_at_once_lose_and_duplicate_nothing(db: Path, tmp_path: Path) -> None:
    with Project.open(db) as project:
        queue = project.conn.execute(
            "SELECT COUNT(DISTINCT segment_id || '/' || code_id) FROM codings WHERE coder IS NULL"
        ).fetchall()[0][0]
    expected_ben = _spans_csv(db, tmp_path / "ben.csv", ["knowledge_sharing", "sfa_crm"])
    review = _qualkam("review", "--coder", "ana", "--project", str(db), stdin=subprocess.PIPE)
    first = _qualkam("import", "codings", str(tmp_path / "ben.csv"), "--coder", "ben", "--project", str(db))
    second = _qualkam("import", "codings", str(tmp_path / "ben.csv"), "--coder", "ben", "--project", str(db))
    review_out, review_err = review.communicate("a\n" * queue + "q\n", timeout=180)
    results = [p.communicate(timeout=180) for p in (first, second)]
    assert review.returncode == 0, review_err
    assert all(p.returncode == 0 for p in (first, second)), results
    conn = _check_store(db)
    ana = conn.execute("SELECT COUNT(*) FROM codings WHERE coder = 'ana' AND status = 'accepted'").fetchone()[0]
    ben = conn.execute("SELECT COUNT(*) FROM codings WHERE coder = 'ben' AND status = 'accepted'").fetchone()[0]
    assert ana == queue, f"every keystroke became one decision ({review_err[-300:]})"
    assert ben == expected_ben, "the second import of the same file added nothing"
    assert f"{queue} decision(s) saved for ana" in review_err


def test_killing_a_review_keeps_every_saved_decision(db: Path) -> None:
    review = _qualkam("review", "--coder", "ana", "--project", str(db), stdin=subprocess.PIPE)
    assert review.stdin is not None
    deadline = time.monotonic() + 60
    saved = 0
    while saved < 10 and time.monotonic() < deadline:
        review.stdin.write("a\n")
        review.stdin.flush()
        time.sleep(0.05)
        with sqlite3.connect(db, timeout=30) as conn:
            saved = conn.execute("SELECT COUNT(*) FROM codings WHERE coder = 'ana'").fetchone()[0]
    review.send_signal(signal.SIGKILL)
    review.wait(timeout=30)
    assert saved >= 10
    conn = _check_store(db)
    assert conn.execute("SELECT COUNT(*) FROM codings WHERE coder = 'ana'").fetchone()[0] >= saved
    again = _qualkam("review", "--coder", "ana", "--project", str(db), stdin=subprocess.PIPE)
    out, err = again.communicate("q\n", timeout=60)
    assert again.returncode == 0 and "resuming at item" in err


# A child that runs the CLI like `python -m qualkam`, but stops for good right after its Nth
# decision is written: inside the import's one transaction, which it reports in a marker file
# (whether SQLite has a transaction open, and how deeply transactions are nested there).
STOPPING_IMPORT = """
import os, sys, time
from qualkam.coding import decisions

real, calls = decisions.write_decision, 0

def counted(project, *args, **kwargs):
    global calls
    outcome = real(project, *args, **kwargs)
    calls += 1
    if calls == int(os.environ["STOP_AT"]):
        marker = os.environ["MARKER"]
        with open(marker + ".tmp", "w") as handle:
            handle.write(f"{int(project.conn.in_transaction)} {project._depth}")
        os.replace(marker + ".tmp", marker)
        time.sleep(600)  # killed here, mid-transaction
    return outcome

decisions.write_decision = counted
from qualkam.cli import main
sys.argv = ["qualkam", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("point", ["first", "middle", "last"])
def test_killing_an_import_inside_its_transaction_leaves_nothing_of_it(db: Path, tmp_path: Path, point: str) -> None:
    expected = _spans_csv(db, tmp_path / "big.csv", ["knowledge_sharing", "sfa_crm", "customer_kpis", "vision_formal"])
    stop_at = {"first": 1, "middle": expected // 2, "last": expected}[point]
    script, marker = tmp_path / "stopping_import.py", tmp_path / "inside"
    script.write_text(STOPPING_IMPORT, encoding="utf-8")
    job = subprocess.Popen(
        [sys.executable, str(script), "import", "codings", str(tmp_path / "big.csv"), "--coder", "ben"]
        + ["--project", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "STOP_AT": str(stop_at),
            "MARKER": str(marker),
        },
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if not marker.exists() or job.poll() is not None:
        job.kill()
        pytest.fail(f"the import never stopped at decision {stop_at}: {job.communicate(timeout=30)[1][-500:]}")
    in_transaction, depth = map(int, marker.read_text().split())
    assert in_transaction == 1 and depth >= 2, "the decision is a step (savepoint) of the import's transaction"
    with sqlite3.connect(db, timeout=30) as reader:  # what another process sees meanwhile: nothing yet
        assert reader.execute("SELECT COUNT(*) FROM codings WHERE coder = 'ben'").fetchone()[0] == 0
    reader.close()
    job.send_signal(signal.SIGKILL)
    job.communicate(timeout=30)
    assert job.returncode == -signal.SIGKILL, "killed mid-transaction, not finished"
    conn = _check_store(db)
    assert conn.execute("SELECT COUNT(*) FROM codings WHERE coder = 'ben'").fetchone()[0] == 0, (
        f"killed after {stop_at} of {expected} decisions: an import is one transaction, so none of them is kept"
    )
    assert conn.execute("SELECT COUNT(*) FROM audit WHERE actor = 'ben'").fetchone()[0] == 0
    conn.close()
    rerun = _qualkam("import", "codings", str(tmp_path / "big.csv"), "--coder", "ben", "--project", str(db))
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert _check_store(db).execute("SELECT COUNT(*) FROM codings WHERE coder = 'ben'").fetchone()[0] == expected


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its parent's wait is missing


FORKSERVER_RUN = """
import sys
from pathlib import Path
from qualkam import parallel
from qualkam.coding.codebook import load_codebook
from qualkam.coding.run import code_folder
from qualkam.store.project import Project
if __name__ == "__main__":
    parallel.START_METHOD = "forkserver"
    with Project.open(sys.argv[2], create=True) as project:
        code_folder(Path(sys.argv[1]), load_codebook("kam"), project, out_dir=None, jobs=2)
"""


def _workers(pid: int, method: str) -> list[int]:
    """The pool's workers: the run's children, or (forkserver) the fork server's children."""
    children = _children(pid)
    if method == "fork":
        return children
    servers = [c for c in children if b"forkserver" in Path(f"/proc/{c}/cmdline").read_bytes()]
    return [w for server in servers for w in _children(server)]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the worker processes")
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_killing_a_run_with_workers_leaves_no_worker_behind_and_a_rerun_completes(tmp_path: Path, method: str) -> None:
    from .test_bench_corpus import corpus

    folder = tmp_path / "corpus"
    corpus.generate(folder, 40_000)
    db = tmp_path / "p.db"
    if method == "fork":
        run = _qualkam("code", str(folder), "-p", str(db), "-o", str(tmp_path / "out"), "-q", "--jobs", "2")
    else:
        script = tmp_path / "run.py"
        script.write_text(FORKSERVER_RUN, encoding="utf-8")
        run = subprocess.Popen(
            [sys.executable, str(script), str(folder), str(db)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    deadline = time.monotonic() + 60
    while len(_workers(run.pid, method)) < 2 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    workers = _workers(run.pid, method)
    assert len(workers) >= 2 and run.poll() is None, "the run should still be coding with its two workers"
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 15
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(w) for w in workers), "orphaned workers must exit, not wait for work forever"
    _check_store(db)
    again = _qualkam("code", str(folder), "-p", str(db), "-o", str(tmp_path / "out"), "-q")
    assert again.wait(timeout=120) == 0, again.stderr.read() if again.stderr else ""
    files = len(list(p for p in folder.rglob("*") if p.suffix in {".txt", ".md", ".docx", ".vtt", ".srt"}))
    assert _check_store(db).execute("SELECT COUNT(*) FROM sources").fetchone()[0] == files


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the worker processes")
def test_a_worker_killed_mid_run_stops_the_run_with_a_clear_error_and_keeps_what_was_stored(tmp_path: Path) -> None:
    from .test_bench_corpus import corpus

    folder = tmp_path / "corpus"
    corpus.generate(folder, 40_000)
    db = tmp_path / "p.db"
    run = _qualkam("code", str(folder), "-p", str(db), "-o", str(tmp_path / "out"), "-q", "--jobs", "2")
    deadline = time.monotonic() + 60
    while len(_children(run.pid)) < 2 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    workers = _children(run.pid)
    assert len(workers) >= 2, "the run should be coding with its two workers"
    os.kill(workers[0], signal.SIGKILL)  # as the kernel's out-of-memory killer would
    out, err = run.communicate(timeout=60)
    assert run.returncode == 2 and "Traceback" not in err and "internal error" not in err
    assert "a worker process stopped unexpectedly" in err and "jobs 1" in err  # the CLI names it --jobs
    stored = _check_store(db).execute("SELECT COUNT(*) FROM sources").fetchone()[0]
    assert not (tmp_path / "out" / "excerpts.csv").exists(), "no outputs from a run that failed"
    again = _qualkam("code", str(folder), "-p", str(db), "-o", str(tmp_path / "out"), "-q", "--jobs", "1")
    assert again.wait(timeout=120) == 0
    assert _check_store(db).execute("SELECT COUNT(*) FROM sources").fetchone()[0] > stored
