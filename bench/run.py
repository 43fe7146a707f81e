"""Benchmark of ``qualkam code`` at archive scale (issues 7 and 14): speed against spaCy, processes,
incremental re-runs, memory, matrices, and the reliability engine.

For each corpus size (``--words``, default 100,000 and 1,000,000) it generates a corpus
deterministically (bench/corpus.py: turns of the sample transcripts shuffled into new
interviews, meetings, field notes, e-mails and documents, new speakers and dates, every
format, several hundred files at 1M words) and measures, in one run on one machine:

- spaCy's pipeline alone (issue 14): blank English, sentencizer, spaCy's lookup lemmatizer,
  ``nlp.pipe`` over the same source texts in this process, nothing of qualkam's; qualkam's
  ratios to it are in CPU time (the machine is shared);
- baseline (issue 7): ``nlp.pipe`` over the same source texts with qualkam's pipeline and
  spaCy's plain matchers for the codebook (as qualkam matched before issue 14), in this
  process (pipeline loaded, texts in memory);
- qualkam in this process: ``code_folder`` with one job, pipeline loaded (the fair
  comparison with the baseline: reading files, segmenting, matching, storing, exports);
- qualkam end to end: ``python -m qualkam code`` as a new process (start-up included), cold
  with ``--jobs 1`` and with the default jobs (every core), warm (a re-run with nothing
  changed), and the peak resident memory (RSS) of each process;
- whether the one-job and many-job stores and CSVs are identical;
- at the largest size, building every matrix and writing the CSVs from the coded store.

Then it runs bench/reliability.py. Prints a Markdown table (paste into bench/RESULTS.md) and
whether each target is met. Not a test: ``python bench/run.py`` (about 5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a clone without installing

from bench.corpus import generate  # noqa: E402
from qualkam.analysis.matrix import build_matrix  # noqa: E402
from qualkam.coding.codebook import load_codebook  # noqa: E402
from qualkam.coding.nlp import load_pipeline  # noqa: E402
from qualkam.coding.run import code_folder  # noqa: E402
from qualkam.coding.suggest import plain_matchers  # noqa: E402
from qualkam.parallel import available_cores  # noqa: E402
from qualkam.render.outputs import write_csv, write_outputs  # noqa: E402
from qualkam.sources.ingest import PreparedSource, discover, prepare  # noqa: E402
from qualkam.store.project import Project  # noqa: E402

MB = 1024 * 1024
# Every matrix `qualkam matrix` offers over codes, besides the two `qualkam code` writes.
MATRICES = [("role", "code"), ("unit", "code"), ("speaker", "code"), ("code", "code"), ("phase", "attr:pole")]


@dataclass
class Run:
    """One ``qualkam code`` process: wall time, peak RSS, exit code."""

    seconds: float
    cpu_seconds: float  # user + system: unlike wall time, not inflated by other load on the machine
    peak_rss: int
    exit_code: int


def run_cli(args: list[str]) -> Run:
    """Run ``python -m qualkam ARGS`` and measure it from outside (os.wait4 gives its rusage)."""
    start = time.perf_counter()
    # As installed: bytecode written once and reused (PYTHONDONTWRITEBYTECODE, set on some machines,
    # would make every start compile qualkam's modules again, which is not what a user's start costs).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    process = subprocess.Popen(
        [sys.executable, "-m", "qualkam", *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode() if process.stderr else ""
    if process.returncode not in (0, 1):  # 1: problems reported; the benchmark still counts
        raise SystemExit(f"qualkam {' '.join(args)} failed ({process.returncode}):\n{errors}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, process.returncode)


def source_texts(folder: Path) -> list[str]:
    """The texts qualkam codes (each source's stored text)."""
    files, _ = discover(folder)
    return [s.raw.text for s in prepare(folder, files, load_codebook("kam")) if isinstance(s, PreparedSource)]


def baseline(folder: Path) -> tuple[float, float, int]:
    """The issue 7 baseline: qualkam's pipeline over the texts, with spaCy's plain matchers for
    the codebook applied to every doc, as qualkam matched before issue 14 (``plain_matchers``)."""
    texts = source_texts(folder)
    words = sum(len(t.split()) for t in texts)
    nlp = load_pipeline(None)
    matchers = plain_matchers(load_codebook("kam"), nlp)
    start, cpu = time.perf_counter(), time.process_time()
    for doc in nlp.pipe(texts):
        for matcher in matchers:
            matcher(doc)
    return time.perf_counter() - start, time.process_time() - cpu, words


def pipeline_alone(folder: Path) -> tuple[float, float]:
    """spaCy's pipeline alone (issue 14): blank English, the sentencizer and spaCy's own lookup
    lemmatizer, ``nlp.pipe`` over the same texts in this process; nothing of qualkam's."""
    import spacy

    texts = source_texts(folder)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in nlp.pipe(texts):
        pass
    return time.perf_counter() - start, time.process_time() - cpu


def in_process(folder: Path, work: Path) -> tuple[float, float, float]:
    """qualkam's library call, one job, pipeline already loaded (as the baseline has it):
    seconds for the first run, for a re-run with nothing changed, and the first run's CPU seconds."""
    times = []
    with Project.open(work / "inproc.db", create=True) as project:
        for _ in range(2):
            start, cpu = time.perf_counter(), time.process_time()
            code_folder(folder, load_codebook("kam"), project, out_dir=work / "inproc-out", jobs=1)
            times.append((time.perf_counter() - start, time.process_time() - cpu))
    return times[0][0], times[1][0], times[0][1]


def same_results(work: Path) -> bool:
    """The one-job and many-job runs wrote the same rows and the same CSVs."""
    dumps = []
    for name in ("one", "many"):
        with Project.open(work / f"{name}.db") as project:
            rows = [
                tuple(r)
                for r in project.conn.execute(
                    'SELECT s.id, s.source_id, s.start, s."end", s.speaker, s.lemmas, c.code_id, c.score, c.evidence '
                    "FROM segments s LEFT JOIN codings c ON c.segment_id = s.id ORDER BY s.id, c.id"
                ).fetchall()
            ]
        csvs = {p.name: p.read_bytes() for p in sorted((work / f"{name}-out").glob("*.csv"))}
        dumps.append((rows, csvs))
    return dumps[0] == dumps[1]


def all_matrices(db: Path, out: Path) -> tuple[float, int]:
    """Every matrix and the excerpts, built and written as CSV, from a fresh connection."""
    start = time.perf_counter()
    with Project.open(db) as project:
        written = write_outputs(project, out)
        for rows, cols in MATRICES:
            name = f"matrix_{rows}_{cols.replace(':', '_')}.csv"
            written.append(write_csv(build_matrix(project, rows=rows, cols=cols), out / name, index=True))
    return time.perf_counter() - start, len(written)


def measure(words: int, work: Path, jobs: int) -> dict[str, float | int | bool]:
    """Every figure for one corpus size."""
    corpus = work / "corpus"
    start = time.perf_counter()
    info = generate(corpus, words)
    generated = time.perf_counter() - start
    alone_seconds, alone_cpu = pipeline_alone(corpus)
    base_seconds, base_cpu, text_words = baseline(corpus)
    inproc, inproc_warm, inproc_cpu = in_process(corpus, work)
    common = ["code", str(corpus), "-q", "--codebook", "kam"]
    one = run_cli([*common, "-p", str(work / "one.db"), "-o", str(work / "one-out"), "--jobs", "1"])
    # Warm: the median of three re-runs with nothing changed (each a fraction of a second, so one is noisy).
    warm = sorted(
        (run_cli([*common, "-p", str(work / "one.db"), "-o", str(work / "one-out"), "--jobs", "1"]) for _ in range(3)),
        key=lambda r: r.seconds,
    )[1]
    many = run_cli([*common, "-p", str(work / "many.db"), "-o", str(work / "many-out"), "--jobs", str(jobs)])
    return {
        "words": text_words,
        "files": info.files,
        "generated": generated,
        "alone_wps": text_words / alone_seconds,
        "alone_cpu": alone_cpu,
        "base_wps": text_words / base_seconds,
        "base_cpu": base_cpu,
        "inproc_cpu": inproc_cpu,
        "cold_cpu": one.cpu_seconds,
        "inproc_wps": text_words / inproc,
        "inproc_s": inproc,
        "inproc_warm_s": inproc_warm,
        "cold_wps": text_words / one.seconds,
        "cold_s": one.seconds,
        "cold_rss": one.peak_rss,
        "warm_s": warm.seconds,
        "warm_cpu": warm.cpu_seconds,
        "many_wps": text_words / many.seconds,
        "many_s": many.seconds,
        "many_rss": many.peak_rss,
        "identical": same_results(work),
        "exit": max(one.exit_code, warm.exit_code),
    }


def machine() -> str:
    import spacy

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {available_cores()} cores available, Python {platform.python_version()}, "
        f"spaCy {spacy.__version__}, {platform.system()} {platform.release()}"
    )


def table(results: dict[int, dict], jobs: int) -> list[str]:
    sizes = sorted(results)
    head = (
        "| figure | " + " | ".join(f"{results[n]['words']:,} words ({results[n]['files']} files)" for n in sizes) + " |"
    )
    lines = [head, "|---|" + "---|" * len(sizes)]

    def row(label: str, fmt) -> None:
        lines.append(f"| {label} | " + " | ".join(fmt(results[n]) for n in sizes) + " |")

    row(
        "spaCy's pipeline alone (blank English, sentencizer, lookup lemmatizer), words/s",
        lambda r: f"{r['alone_wps']:,.0f}",
    )
    row("  qualkam code in process / pipeline alone, CPU time", lambda r: f"{r['alone_cpu'] / r['inproc_cpu']:.2f}")
    row(
        "  qualkam code end to end, --jobs 1 / pipeline alone, CPU time (target >= 0.70)",
        lambda r: f"{r['alone_cpu'] / r['cold_cpu']:.2f}",
    )
    row("spaCy nlp.pipe + the same matchers (baseline), words/s", lambda r: f"{r['base_wps']:,.0f}")
    row("qualkam code in process, 1 job, words/s", lambda r: f"{r['inproc_wps']:,.0f}")
    row("  ratio to baseline (target >= 0.70)", lambda r: f"{r['inproc_wps'] / r['base_wps']:.2f}")
    row("qualkam code end to end, cold, --jobs 1, words/s", lambda r: f"{r['cold_wps']:,.0f} ({r['cold_s']:.1f} s)")
    row("  ratio to baseline", lambda r: f"{r['cold_wps'] / r['base_wps']:.2f}")
    row("  ratio to baseline in CPU time (start-up included)", lambda r: f"{r['base_cpu'] / r['cold_cpu']:.2f}")
    row(
        f"qualkam code end to end, cold, --jobs {jobs}, words/s",
        lambda r: f"{r['many_wps']:,.0f} ({r['many_s']:.1f} s)",
    )
    row(f"  speed-up of --jobs {jobs} over --jobs 1", lambda r: f"{r['cold_s'] / r['many_s']:.2f}x")
    row(f"  store and CSVs identical, --jobs 1 vs {jobs}", lambda r: "yes" if r["identical"] else "NO")
    row("qualkam code end to end, warm re-run (nothing changed)", lambda r: f"{r['warm_s']:.2f} s")
    row("  warm / cold (target < 5%)", lambda r: f"{r['warm_s'] / r['cold_s']:.1%}")
    row("  warm / cold in CPU time", lambda r: f"{r['warm_cpu'] / r['cold_cpu']:.1%}")
    row("qualkam code in process, warm re-run", lambda r: f"{r['inproc_warm_s']:.2f} s")
    row("  warm / cold in process", lambda r: f"{r['inproc_warm_s'] / r['inproc_s']:.1%}")
    row("peak RSS, --jobs 1", lambda r: f"{r['cold_rss'] / MB:,.0f} MB")
    row(f"peak RSS, --jobs {jobs} (largest process)", lambda r: f"{r['many_rss'] / MB:,.0f} MB")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", default="100000,1000000", help="corpus sizes, comma-separated")
    parser.add_argument("--jobs", type=int, default=available_cores(), help="jobs for the many-process run")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one, removed after)")
    parser.add_argument("--reliability", default="", help="arguments for bench/reliability.py ('skip': do not run)")
    args = parser.parse_args(argv)
    sizes = [int(w.replace("_", "")) for w in args.words.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="qualkam-bench-"))
    print(f"qualkam archive-scale benchmark · {machine()}", flush=True)
    results: dict[int, dict] = {}
    try:
        for n in sizes:
            folder = work / f"w{n}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            print(f"measuring {n:,} words ...", flush=True)
            results[n] = measure(n, folder, args.jobs)
        print()
        print("\n".join(table(results, args.jobs)))
        small, large = min(sizes), max(sizes)
        seconds, count = all_matrices(work / f"w{large}" / "one.db", work / f"w{large}" / "matrices")
        print(
            f"\nevery matrix and the excerpts ({count} CSV files) from the {results[large]['words']:,}-word "
            f"store: {seconds:.2f} s (target < 3 s)"
        )
        every = results.values()
        verdicts = {
            f"cold end to end >= 0.70 of spaCy's pipeline alone (CPU time) at {large:,} words": results[large][
                "alone_cpu"
            ]
            / results[large]["cold_cpu"]
            >= 0.70,
            "cold in process >= 0.70 of the baseline, every size": all(
                r["inproc_wps"] / r["base_wps"] >= 0.70 for r in every
            ),
            f"cold end to end >= 0.70 of the baseline at {large:,} words": results[large]["cold_wps"]
            / results[large]["base_wps"]
            >= 0.70,
            f"--jobs {args.jobs} faster than --jobs 1 with the same results, every size": all(
                r["identical"] and r["many_s"] < r["cold_s"] for r in every
            ),
            "warm re-run < 5% of cold in process, every size": all(
                r["inproc_warm_s"] / r["inproc_s"] < 0.05 for r in every
            ),
            f"warm re-run < 5% of cold end to end at {large:,} words": results[large]["warm_s"]
            / results[large]["cold_s"]
            < 0.05,
            "warm re-run < 5% of cold end to end, every size (process start-up included)": all(
                r["warm_s"] / r["cold_s"] < 0.05 for r in every
            ),
            "matrices and CSVs < 3 s": seconds < 3,
        }
        if large != small:
            extra = (results[large]["cold_rss"] - results[small]["cold_rss"]) / MB
            print(f"peak RSS at {large:,} words minus at {small:,}: {extra:,.0f} MB (target <= 300 MB)")
            verdicts["peak RSS growth <= 300 MB"] = extra <= 300
        for name, met in verdicts.items():
            print(f"target {name}: {'met' if met else 'MISSED'}")
        if args.reliability != "skip":
            print(flush=True)
            subprocess.run(
                [sys.executable, str(ROOT / "bench" / "reliability.py"), *args.reliability.split()], check=False
            )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
