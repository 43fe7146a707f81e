"""Benchmark of ``qualkam report`` with a codebook of 2,000 codes (issue 14).

A project's codebook can be large (a thesaurus-like codebook, a merged team codebook): the
report must stay quick to write and a file a browser opens comfortably. This script builds,
deterministically, in a working folder:

- a corpus of about ``--words`` words (bench/corpus.py, the sample transcripts dealt into new
  sources of every type and phase);
- a codebook of ``--codes`` codes: a tree of groups, each with children, the KAM codebook's
  phases, phase rules and ``compare: [pole]``; every child has lemma patterns (words of the
  sample transcripts, from frequent to rare) so most codes match somewhere, a few match a lot;
- the project: ``qualkam code`` over the corpus with that codebook, then two coders who accept
  or reject a share of the suggestions (so the reliability section has data to show);

then it times ``python -m qualkam report`` as a new process (wall time, CPU time, peak RSS,
as bench/run.py measures ``qualkam code``) and prints the size of the HTML, and optionally
how long headless Chromium takes to load it (``--browser``).

``python bench/report.py [--codes 2000] [--words 100000] [--work DIR] [--browser]``
(with ``--work``, a second run reuses the coded project and only times the report).
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a clone without installing

from bench.corpus import SAMPLES, generate  # noqa: E402
from bench.run import MB, machine, run_cli  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
# Words too common to make a code of (they would match nearly every segment).
STOP = set(
    """that this with have they there were what would about their from been which when will
    just like know think because some more then them than into also well very really sort
    your only over other could should going things thing yeah does said what's it's don't
    that's they're we're there's i'm you're didn't doesn't the and for you was are but not
    his her its our all can had has how who why yes now off out too any get got one two see
    say let may way of to in on at by an as is it be or if so we he she do no up my me us i a
    s t re ve ll d m""".split()
)


def vocabulary() -> tuple[list[str], list[str]]:
    """Words (4 letters or more) and two-word phrases of the sample transcripts, each seen at
    least twice, most frequent first, without stop words."""
    words: collections.Counter[str] = collections.Counter()
    pairs: collections.Counter[str] = collections.Counter()
    for path in sorted(SAMPLES.rglob("*")):
        if path.suffix in {".txt", ".md"}:
            seen = re.findall(r"[a-z]+", path.read_text("utf-8", "replace").lower())
            words.update(w for w in seen if len(w) >= 4)
            pairs.update(f"{a} {b}" for a, b in zip(seen, seen[1:], strict=False) if a not in STOP and b not in STOP)
    return (
        [w for w, n in words.most_common() if w not in STOP and n >= 2],
        [p for p, n in pairs.most_common() if n >= 2],
    )


def codebook(codes: int, seed: int = 14) -> dict:
    """A codebook of ``codes`` codes: groups of 19 children (20 codes a group), KAM's phases.

    Each child matches a two-word phrase of the samples (a few dozen segments of a
    100,000-word corpus), every third also a rarer word, and every 50th a common word (a
    code that matches hundreds of segments), so code sizes range as in a real codebook."""
    rng = random.Random(seed)
    words, pairs = vocabulary()
    kam = yaml.safe_load((ROOT / "codebooks" / "kam.yaml").read_text("utf-8"))
    tree: list[dict] = []
    made = 0
    group_size = 20
    while made < codes:
        g = len(tree)
        group: dict[str, Any] = {
            "id": f"group_{g:03d}",
            "label": f"Group {g}: {words[g % len(words)]}",
            "definition": f"Generated group {g} of the issue-14 benchmark codebook.",
            "attributes": {"theme": f"theme_{g % 7}"},
            "children": [],
        }
        made += 1
        for c in range(min(group_size - 1, codes - made)):
            i = made + c
            phrase = pairs[20 + (i * 13) % (len(pairs) - 20)]
            lemmas = [phrase]
            if i % 3 == 0:
                lemmas.append(words[300 + rng.randrange(len(words) - 300)])
            if i % 50 == 0:
                lemmas.append(words[(i // 50) % 60])
            group["children"].append(
                {
                    "id": f"c{g:03d}_{c:02d}",
                    "label": f"{phrase.capitalize()} ({g}.{c})",
                    "definition": f"Talk of {' or '.join(lemmas)}: a generated code of the benchmark.",
                    "color": f"#{rng.randrange(0x1000000):06x}",
                    "attributes": {"pole": "formal" if i % 2 else "post_bureaucratic", "theme": f"theme_{g % 7}"},
                    "patterns": {"lemmas": lemmas},
                }
            )
        made += len(group["children"])
        tree.append(group)
    return {
        "name": f"Benchmark codebook of {codes} codes",
        "version": "1.0",
        "source_types": kam["source_types"],
        "phases": kam["phases"],
        "phase_rules": kam["phase_rules"],
        "compare": ["pole"],
        "codes": tree,
    }


def add_coders(db: Path, share: float = 0.05, seed: int = 14) -> int:
    """Two coders decide on a share of the suggestions (the same ones; they differ at times)."""
    from qualkam.analysis.excerpts import retrieve
    from qualkam.coding.decisions import decide
    from qualkam.store.project import Project

    rng = random.Random(seed)
    decided = 0
    with Project.open(db) as project:
        frame = retrieve(project, layer="suggestions", by_coder=True)
        picked = frame.sample(frac=share, random_state=seed)
        with project.transaction():
            for row in picked.itertuples():
                for coder in ("ana", "ben"):
                    action = "accept" if rng.random() < 0.8 else "reject"
                    decide(project, coder, int(row.segment), str(row.code), action)
                    decided += 1
    return decided


def build(work: Path, words: int, codes: int) -> Path:
    """The coded project in ``work`` (made once; reused when it is there)."""
    db = work / "project.db"
    if db.exists():
        return db
    corpus = work / "corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    corpus.mkdir(parents=True)
    info = generate(corpus, words)
    book = work / "codebook.yaml"
    book.write_text(yaml.safe_dump(codebook(codes), sort_keys=False, allow_unicode=True), "utf-8")
    started = time.perf_counter()
    coded = run_cli(["code", str(corpus), "-c", str(book), "-p", str(db) + ".part", "-o", str(work / "out"), "-q"])
    print(f"coded {info.words:,} words with {codes:,} codes in {coded.seconds:.1f} s", flush=True)
    decided = add_coders(Path(str(db) + ".part"))
    os.replace(str(db) + ".part", db)
    print(f"two coders: {decided:,} decisions ({time.perf_counter() - started:.1f} s in all)", flush=True)
    return db


def browser_load(page: Path) -> float | None:
    """Seconds headless Chromium takes to load and lay out ``page`` (None without Chromium)."""
    if not CHROMIUM.exists():
        return None
    profile = tempfile.mkdtemp(prefix="qualkam-chromium-")
    try:
        start = time.perf_counter()
        subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
             "--dump-dom", page.resolve().as_uri()],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600, check=False,
        )  # fmt: skip
        return time.perf_counter() - start
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=2000)
    parser.add_argument("--words", type=int, default=100_000)
    parser.add_argument("--work", type=Path, help="working folder, kept (default: a temporary one, removed after)")
    parser.add_argument("--browser", action="store_true", help="also time headless Chromium loading the page")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="qualkam-bench-report-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"qualkam report benchmark · {machine()}", flush=True)
    try:
        db = build(work, args.words, args.codes)
        page = work / "report.html"
        run = run_cli(["report", "-p", str(db), "-o", str(page)])
        size = page.stat().st_size
        print("| codes | words | report wall | CPU | peak RSS | HTML | files beside it |")
        print("|---|---|---|---|---|---|---|")
        beside = sorted(p.name for p in page.parent.glob("report*") if p != page)
        print(
            f"| {args.codes:,} | {args.words:,} | {run.seconds:.1f} s | {run.cpu_seconds:.1f} s | "
            f"{run.peak_rss / MB:,.0f} MB | {size / MB:.2f} MB | {', '.join(beside) or '-'} |"
        )
        if args.browser:
            seconds = browser_load(page)
            print(f"headless Chromium, load and dump the DOM: {seconds:.1f} s" if seconds else "no Chromium")
        print(f"target report < 10 s: {'met' if run.seconds < 10 else 'MISSED'}")
        print(f"target HTML < 5 MB: {'met' if size < 5 * MB else 'MISSED'}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
