"""Benchmark of one very large transcript (issue 14): bounded memory, progress within the
file, and the same words per second as many small files.

It writes, from the sample transcripts' turns (bench/corpus.py's pools), one interview of
``--mb`` megabytes (default 200) as a ``.txt`` file with YAML front matter, and a folder of
small interviews (``--small-words`` words each, default 5,000) built the same way with the
same total of words, and one of ``--mb / 10`` megabytes. Then it does what ``python -m
qualkam code`` does to each (code and store, then write the outputs) in a fresh process, and
prints, per input: seconds and words per second of the coding, seconds of the outputs, the
peak resident memory (RSS) once coded and at the end (the outputs load the whole project,
however it was coded: ``qualkam.render.outputs``), and the progress callback's calls (in
bytes; how many fell within a file). Then the ratio of words per second, large / small, and
of peak RSS once coded, large / tenth: memory must grow with the text held once, not with
the number of segments.

``python bench/large.py [--mb 200] [--jobs 1] [--keep DIR]`` (a 200 MB run takes about half
an hour on 2 cores; ``--mb 5`` a minute).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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


def make_inputs(folder: Path, mb: float, small_words: int, small_files: bool = True) -> tuple[Path, Path, int]:
    """``folder/large`` with one file of ``mb`` MB, ``folder/small`` with files of the same words."""
    pools = load_pools()
    large, small = folder / "large", folder / "small"
    large.mkdir(parents=True)
    small.mkdir(parents=True)
    words = write_interview(large / "interview.txt", pools, 7, size=int(mb * MB))
    left, index = words if small_files else 0, 0
    while left > 0:
        index += 1
        left -= write_interview(small / f"int-{index:05d}.txt", pools, 1000 + index, words=min(small_words, left))
    return large, small, words


@dataclass
class Measured:
    coding: float  # seconds to code and store (``code_folder`` without outputs)
    outputs: float  # seconds to write the outputs after it
    coding_mb: float  # peak RSS of the process once coded, before the outputs
    peak_mb: float  # peak RSS of the process at the end (the outputs load the whole project)
    workers_mb: float  # peak RSS of a worker process (0 with one job)
    calls: int  # progress calls
    within: int  # progress calls within a file (not at a file's end)
    ended: bool  # the last call said done == total
    increasing: bool


RUN_SCRIPT = """
import json, resource, sys, time
from qualkam.coding.run import code_folder
from qualkam.render.outputs import write_outputs
from qualkam.store.project import Project
folder, db, out, jobs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
seen, ends = [], set()
with Project.open(db, create=True) as project:
    started = time.perf_counter()
    code_folder(folder, None, project, out_dir=None, jobs=jobs, progress_unit="bytes",
                progress=lambda done, total, path: seen.append((done, total)))
    coded = time.perf_counter()
    coding_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if out != "-":
        write_outputs(project, out)
    ended = time.perf_counter()
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if jobs > 1 else 0
print(json.dumps({
    "coding": coded - started, "outputs": ended - coded, "coding_mb": coding_kb / 1024, "peak_mb": peak_kb / 1024,
    "workers_mb": workers_kb / 1024, "calls": len(seen), "within": len([d for d, t in seen if 0 < d < t]),
    "ended": seen[-1][0] == seen[-1][1], "increasing": all(a <= b for (a, _), (b, _) in zip(seen, seen[1:])),
}))
"""


def run_code(folder: Path, work: Path, jobs: int, outputs: bool = True) -> Measured:
    """What ``qualkam code FOLDER`` does (code, store, then the outputs), in a new process, timed
    and measured in two steps: the coding alone, then the outputs."""
    project, out = work / f"{folder.name}.db", work / f"{folder.name}-out"
    for leftover in (project, out):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        elif leftover.exists():
            leftover.unlink()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", RUN_SCRIPT, str(folder), str(project), str(out) if outputs else "-", str(jobs)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"coding {folder} failed ({done.returncode}):\n{done.stderr}")
    return Measured(**json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One very large transcript against many small files (issue 14).")
    parser.add_argument("--mb", type=float, default=200, help="size of the large file in MB (default 200)")
    parser.add_argument("--small-words", type=int, default=5000, help="words per small file (default 5,000)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for qualkam code (default 1)")
    parser.add_argument("--keep", type=Path, help="write the inputs and projects here and keep them")
    parser.add_argument("--no-small", action="store_true", help="skip the small files (memory and progress only)")
    parser.add_argument("--no-outputs", action="store_true", help="code and store only, no outputs")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="qualkam-large-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        large, small, words = make_inputs(work / "big", args.mb, args.small_words, not args.no_small)
        tenth, _, tenth_words = make_inputs(work / "tenth", args.mb / 10, args.small_words)
        shutil.rmtree(work / "tenth" / "small")
        files = len(list(small.iterdir()))
        print(
            f"inputs: one file of {args.mb:g} MB and {files} files of {args.small_words:,} words "
            f"({words:,} words each side); one of {args.mb / 10:g} MB ({tenth_words:,} words); "
            f"{time.perf_counter() - started:.0f} s"
        )
        outputs = not args.no_outputs
        big = run_code(large, work / "big", args.jobs, outputs)
        many = None if args.no_small else run_code(small, work / "big", args.jobs, outputs)
        little = run_code(tenth, work / "tenth", args.jobs, outputs)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    rate_big = words / big.coding
    print(f"\n`python bench/large.py --mb {args.mb:g} --jobs {args.jobs}`\n")
    print(
        "| input | words | coding s | words/s | outputs s | peak RSS coded (MB) | peak RSS with outputs (MB) "
        "| worker peak (MB) | progress calls (before the end) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, count, m in (
        (f"one file of {args.mb:g} MB", words, big),
        *([(f"{files} files of {args.small_words:,} words", words, many)] if many is not None else []),
        (f"one file of {args.mb / 10:g} MB", tenth_words, little),
    ):
        print(
            f"| {name} | {count:,} | {m.coding:.1f} | {count / m.coding:,.0f} | {m.outputs:.1f} | {m.coding_mb:,.0f} "
            f"| {m.peak_mb:,.0f} | {m.workers_mb:,.0f} | {m.calls:,} ({m.within:,}) |"
        )
    if many is not None:
        ratio = rate_big / (words / many.coding)
        print(f"\nwords/s coding, one large file / many small files: {ratio:.2f} (target: 1)")
    print(
        f"peak RSS once coded, {args.mb:g} MB file / {args.mb / 10:g} MB file: {big.coding_mb / little.coding_mb:.2f} "
        f"(+{big.coding_mb - little.coding_mb:,.0f} MB for {args.mb - args.mb / 10:g} MB more text)"
    )
    for name, m in ((f"{args.mb:g} MB", big), (f"{args.mb / 10:g} MB", little)):
        print(
            f"progress over the {name} file: {m.calls} calls, {m.within} within the file, "
            f"{'ended' if m.ended else 'did NOT end'} at the total, "
            f"{'increasing' if m.increasing else 'NOT increasing'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
