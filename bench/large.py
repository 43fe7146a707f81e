"""Benchmark of one very large transcript (issue 14): bounded memory, progress within the
file, and the same words per second as many small files.

It writes, from the sample transcripts' turns (bench/corpus.py's pools), one interview of
``--mb`` megabytes (default 200) as a ``.txt`` file with YAML front matter, and a folder of
small interviews (``--small-words`` words each, default 5,000) built the same way with the
same total of words. Then it runs ``python -m qualkam code`` on each in a fresh process and
prints words per second, the ratio large/small, the peak resident memory (RSS) of each, the
peak RSS of a second, smaller large file (``--mb / 10``: memory must not grow with the
number of segments, only with the text held once), and whether progress advanced within the
large file (the library's progress callback, counted in a separate run of the smaller file).

``python bench/large.py [--mb 200] [--jobs 1] [--keep DIR]`` (a 200 MB run takes about half
an hour on 2 cores; ``--mb 5`` a minute).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a clone without installing

from bench.corpus import (  # noqa: E402
    Deck,
    Person,
    Pools,
    front_matter,
    invent_people,
    load_pools,
    researcher,
)

MB = 1_000_000


def _turns(pools: Pools, rng: random.Random, people: list[Person]) -> Iterator[tuple[Person, str]]:
    """Researcher questions, each followed by an answer: an interview that never ends."""
    questions, answers = Deck(pools.questions, rng), Deck(pools.answers, rng)
    asker, respondents = people[0], people[1:]
    while True:
        yield asker, questions.draw()
        yield rng.choice(respondents), answers.draw()


def write_interview(path: Path, pools: Pools, seed: int, *, words: int | None = None, size: int | None = None) -> int:
    """One ``Name: text`` interview of ``words`` words or ``size`` bytes (whichever is given),
    written as it is made; returns its words (the text qualkam codes, labels left out)."""
    rng = random.Random(seed)
    people = [researcher(rng), *invent_people(rng, 2)]
    for person in people:
        person.label = person.label if person.role == "Researcher" else person.name
    fields = {
        "type": "interview",
        "date": dt.date(2011, 6, 1) + dt.timedelta(days=rng.randint(0, 500)),
        "title": f"{people[1].role}, interview",
        "participants": {
            p.label: ({"role": p.role} if p.role == "Researcher" else {"name": p.name, "role": p.role}) for p in people
        },
    }
    total = written = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        written += out.write(front_matter(fields))
        for person, text in _turns(pools, rng, people):
            if words is not None and total >= words:
                break
            if size is not None and written >= size:
                break
            if words is not None and total + len(text.split()) > words:
                text = " ".join(text.split()[: words - total])
            written += out.write(f"{person.label}: {text}\n\n")
            total += len(text.split())
    return total


def make_inputs(folder: Path, mb: float, small_words: int) -> tuple[Path, Path, int]:
    """``folder/large`` with one file of ``mb`` MB, ``folder/small`` with files of the same words."""
    pools = load_pools()
    large, small = folder / "large", folder / "small"
    large.mkdir(parents=True)
    small.mkdir(parents=True)
    words = write_interview(large / "interview.txt", pools, 7, size=int(mb * MB))
    left, index = words, 0
    while left > 0:
        index += 1
        left -= write_interview(small / f"int-{index:05d}.txt", pools, 1000 + index, words=min(small_words, left))
    return large, small, words


@dataclass
class Measured:
    seconds: float
    peak_mb: float


def run_code(folder: Path, work: Path, jobs: int) -> Measured:
    """``python -m qualkam code FOLDER`` in a new process: wall time and peak RSS."""
    project = work / f"{folder.name}.db"
    for leftover in (project, work / f"{folder.name}-out"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        elif leftover.exists():
            leftover.unlink()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        *("/usr/bin/time", "-f", "%M"),
        *(sys.executable, "-m", "qualkam", "code", str(folder), "-p", str(project)),
        *("-o", str(work / f"{folder.name}-out"), "--jobs", str(jobs), "--quiet"),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"qualkam code {folder} failed ({done.returncode}):\n{done.stderr}")
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return Measured(seconds, peak_kb / 1024)


PROGRESS_SCRIPT = """
import sys
from qualkam.coding.run import code_folder
from qualkam.store.project import Project
seen = []
with Project.open(sys.argv[2], create=True) as project:
    code_folder(sys.argv[1], None, project, out_dir=None, jobs=1, progress_unit="bytes",
                progress=lambda done, total, path: seen.append((done, total)))
within = [done for done, total in seen if 0 < done < total]
rising = all(a <= b for (a, _), (b, _) in zip(seen, seen[1:]))
print(len(seen), len(within), int(seen[-1][0] == seen[-1][1]), int(rising))
"""


def progress_check(folder: Path, work: Path) -> tuple[int, int, bool, bool]:
    """Calls of the progress callback over one large file: all, those within it, ended at the total, increasing."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROGRESS_SCRIPT, str(folder), str(work / "progress.db")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    calls, within, ended, increasing = (int(x) for x in done.stdout.split())
    return calls, within, bool(ended), bool(increasing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One very large transcript against many small files (issue 14).")
    parser.add_argument("--mb", type=float, default=200, help="size of the large file in MB (default 200)")
    parser.add_argument("--small-words", type=int, default=5000, help="words per small file (default 5,000)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for qualkam code (default 1)")
    parser.add_argument("--keep", type=Path, help="write the inputs and projects here and keep them")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="qualkam-large-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        large, small, words = make_inputs(work / "big", args.mb, args.small_words)
        tenth, _, tenth_words = make_inputs(work / "tenth", args.mb / 10, args.small_words)
        shutil.rmtree(work / "tenth" / "small")
        files = len(list(small.iterdir()))
        print(
            f"inputs: one file of {args.mb:g} MB and {files} files of {args.small_words:,} words "
            f"({words:,} words each side); one of {args.mb / 10:g} MB ({tenth_words:,} words); "
            f"{time.perf_counter() - started:.0f} s"
        )
        big = run_code(large, work / "big", args.jobs)
        many = run_code(small, work / "big", args.jobs)
        little = run_code(tenth, work / "tenth", args.jobs)
        calls, within, ended, increasing = progress_check(tenth, work / "tenth")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    rate_big, rate_many = words / big.seconds, words / many.seconds
    print(f"\n`python bench/large.py --mb {args.mb:g} --jobs {args.jobs}`\n")
    print("| run | words | seconds | words/s | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|")
    print(f"| one file of {args.mb:g} MB | {words:,} | {big.seconds:.1f} | {rate_big:,.0f} | {big.peak_mb:,.0f} |")
    print(f"| {files} small files | {words:,} | {many.seconds:.1f} | {rate_many:,.0f} | {many.peak_mb:,.0f} |")
    print(
        f"| one file of {args.mb / 10:g} MB | {tenth_words:,} | {little.seconds:.1f} | "
        f"{tenth_words / little.seconds:,.0f} | {little.peak_mb:,.0f} |"
    )
    print(f"\nwords/s, one large file / many small: {rate_big / rate_many:.2f} (target >= 0.95)")
    print(
        f"peak RSS, {args.mb:g} MB file / {args.mb / 10:g} MB file: {big.peak_mb / little.peak_mb:.2f} "
        f"(+{big.peak_mb - little.peak_mb:,.0f} MB for {args.mb - args.mb / 10:g} MB more text)"
    )
    print(
        f"progress over the {args.mb / 10:g} MB file: {calls} calls, {within} within the file, "
        f"{'ended' if ended else 'did NOT end'} at the total, {'increasing' if increasing else 'NOT increasing'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
