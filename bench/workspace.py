"""Benchmark of the coding workspace (issue 13, "Figures to measure"): a real ``qualkam serve``
server (uvicorn, on a free loopback port, in this process) over a generated project.

The project: one long interview of ``--words`` words (30,000 by default; turns of two speakers,
with emoji and accents, sentences that carry the KAM codebook's phrases so the rules make
suggestions), plus three short sources, coded with the built-in KAM codebook. Then it measures

- ``GET /api/sources/{id}`` of the long interview (what the document page loads): the first
  request and the median of ``--repeats``, and the size of the answer;
- a coding round trip, median over ``--round-trips``: ``POST /api/codings`` alone (what the
  page waits for before it says "saved") and POST then ``GET /api/sources/{id}`` of a short
  source;
- a load test: ``--coders`` threads, each its own HTTP client and coder, writing codings as
  fast as the server answers for ``--seconds``; then every coding the server acknowledged
  (201) is looked up in the store: ``lost`` must be 0.

Not a test (no timed assert): ``python bench/workspace.py`` prints the figures; exit 1 only when
a coding was lost or a request failed. Timings are wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without installing

import httpx2 as httpx  # noqa: E402

HEADER = "qualkam workspace benchmark"
TOKEN = "bench-token"

PHRASES = [
    "the account plan",
    "our sales target for the quarter",
    "we had to follow the procedure",
    "the steering group meeting",
    "we trust each other",
    "a gut feeling about the customer",
    "the key account manager",
    "the reporting line to the US",
    "knowledge sharing across units",
    "customer satisfaction scores",
]
FILLER = (
    "well I think that is how it worked most of the time and then we would talk it through "
    "with the team before anything was decided so people knew where they stood"
).split()
SPICE = ["café", "déjà vu", "naïve", "😀", "👍🏽", "Zürich", "São Paulo", "🇫🇷"]


def transcript(words: int, seed: int = 13) -> str:
    """An interview of about ``words`` words: turns of I and Sarah Collins, 40 to 160 words each."""
    rng = random.Random(seed)
    lines = ["---", "id: long-interview", "type: interview", "date: 2012-05-04", "participants:"]
    lines += ["  I: Researcher", "  Sarah Collins: {role: Sales Director}", "---"]
    count = 0
    turn = 0
    while count < words:
        size = rng.randint(40, 160)
        out: list[str] = []
        while len(out) < size:
            out += rng.sample(FILLER, rng.randint(6, 14))
            if rng.random() < 0.5:
                out += rng.choice(PHRASES).split()
            if rng.random() < 0.15:
                out.append(rng.choice(SPICE))
            out[-1] += "."
        speaker = "I" if turn % 2 == 0 else "Sarah Collins"
        lines.append(f"{speaker}: {' '.join(out)}")
        lines.append("")
        count += len(out)
        turn += 1
    return "\n".join(lines)


def make_project(work: Path, words: int) -> Path:
    from qualkam.coding.codebook import load_codebook
    from qualkam.coding.run import code_folder
    from qualkam.store.project import Project

    src = work / "sources"
    src.mkdir(parents=True, exist_ok=True)
    (src / "long-interview.md").write_text(transcript(words), encoding="utf-8")
    for i in range(3):
        (src / f"short-{i}.md").write_text(
            f"---\nid: short-{i}\ntype: meeting\n---\nChair: We follow the procedure, item {i}. 😀\n"
            "Ana: The account plan is late; a gut feeling says the sales target is too high.\n",
            encoding="utf-8",
        )
    path = work / "bench.db"
    with Project.open(path, create=True) as project:
        code_folder(src, load_codebook("kam"), project, out_dir=None, jobs=1)
    return path


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--round-trips", type=int, default=50)
    parser.add_argument("--coders", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--work", type=Path, default=None, help="folder for the project (default: a temporary one)")
    args = parser.parse_args(argv)

    from qualkam.analysis.excerpts import retrieve
    from qualkam.store.project import Project
    from qualkam.web.app import ServerThread, create_app

    work = args.work or Path(tempfile.mkdtemp(prefix="qualkam-bench-"))
    began = time.perf_counter()
    path = make_project(work, args.words)
    built = time.perf_counter() - began
    rows: list[tuple[str, str]] = []
    problems: list[str] = []
    with ServerThread(create_app(path, token=TOKEN)) as url:
        client = httpx.Client(base_url=url, headers={"X-Qualkam-Token": TOKEN}, timeout=60)
        # 1. the long document
        times = []
        size = 0
        doc: dict = {}
        for _ in range(max(1, args.repeats) + 1):
            t0 = time.perf_counter()
            answer = client.get("/api/sources/long-interview?coder=bench")
            times.append(time.perf_counter() - t0)
            size = len(answer.content)
            doc = answer.json()
        text = doc["text"]
        words = len(text.split())
        rows.append(
            (
                "long source: words (segments, suggestions)",
                f"{words:,} ({len(doc['segments']):,}, {len(doc['suggestions']):,})",
            )
        )
        rows.append(("GET /api/sources/{id}, first request, ms", f"{times[0] * 1000:.1f}"))
        rows.append((f"GET /api/sources/{{id}}, median of {len(times) - 1}, ms", f"{median_ms(times[1:]):.1f}"))
        rows.append(("answer size, KB", f"{size / 1024:,.0f}"))
        # 2. round trips
        rng = random.Random(5)
        posts, trips = [], []
        short = client.get("/api/sources/short-0").json()["text"]
        for i in range(args.round_trips):
            start = rng.randrange(0, len(text) - 60)
            body = {
                "source": "long-interview",
                "start": start,
                "end": start + rng.randint(5, 50),
                "code": "tactical_selling",
                "coder": "bench",
            }
            t0 = time.perf_counter()
            answer = client.post("/api/codings", json=body)
            posts.append(time.perf_counter() - t0)
            if answer.status_code not in (200, 201):
                if "holds no segment" not in answer.text:
                    problems.append(f"round trip: {answer.status_code} {answer.text[:200]}")
                continue
            t0 = time.perf_counter()
            s = rng.randrange(0, len(short) - 20)
            client.post(
                "/api/codings",
                json={"source": "short-0", "start": s, "end": s + 10, "code": "tactical_selling", "coder": f"bench{i}"},
            )
            client.get("/api/sources/short-0?coder=bench")
            trips.append(time.perf_counter() - t0)
        rows.append((f"POST /api/codings, median of {len(posts)}, ms", f"{median_ms(posts):.1f}"))
        rows.append((f"POST then GET (a short source), median of {len(trips)}, ms", f"{median_ms(trips):.1f}"))
        # 3. load test
        acknowledged: dict[str, list[tuple[int, int, int, str]]] = {}
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()
        stop = time.monotonic() + args.seconds
        codes = ["tactical_selling", "cross_functional_team", "bureaucratic_creep"]

        def coder(name: str, seed: int) -> None:
            mine: list[tuple[int, int, int, str]] = []
            waits: list[float] = []
            local = random.Random(seed)
            with httpx.Client(base_url=url, headers={"X-Qualkam-Token": TOKEN}, timeout=60) as own:
                while time.monotonic() < stop:
                    start = local.randrange(0, len(text) - 80)
                    end = start + local.randint(3, 80)
                    code = local.choice(codes)
                    t0 = time.perf_counter()
                    answer = own.post(
                        "/api/codings",
                        json={"source": "long-interview", "start": start, "end": end, "code": code, "coder": name},
                    )
                    waits.append(time.perf_counter() - t0)
                    if answer.status_code == 201:
                        mine.append((answer.json()["id"], start, end, code))
                    elif answer.status_code == 200 or "holds no segment" in answer.text:
                        continue  # the same span again, or only the space between turns
                    else:
                        with lock:
                            failures.append(f"{name}: {answer.status_code} {answer.text[:200]}")
            with lock:
                acknowledged[name] = mine
                latencies.extend(waits)

        names = [f"coder{i + 1}" for i in range(args.coders)]
        threads = [threading.Thread(target=coder, args=(n, i)) for i, n in enumerate(names)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        client.close()
    with Project.open(path) as project:
        stored = retrieve(project, coders=names, by_coder=True)
    have = {
        (int(r["coding_id"]), r["coder"], int(r["start"]), int(r["end"]), r["code"]) for r in stored.to_dict("records")
    }
    wanted = {(cid, n, s, e, c) for n, rows_ in acknowledged.items() for cid, s, e, c in rows_}
    lost = len(wanted - have)
    total = len(wanted)
    rows.append((f"load: {args.coders} coders writing for {args.seconds:g} s, codings acknowledged", f"{total:,}"))
    rows.append(("load: writes per second (all coders)", f"{len(latencies) / elapsed:,.0f}"))
    rows.append(
        (
            "load: write latency median / 95th percentile, ms",
            f"{median_ms(latencies):.1f} / {statistics.quantiles(latencies, n=20)[-1] * 1000:.1f}"
            if len(latencies) > 1
            else "-",
        )
    )
    rows.append(("load: failed requests", f"{len(failures)}"))
    rows.append(("load: lost (acknowledged but not in the store)", f"{lost}"))
    problems += failures
    width = max(len(r[0]) for r in rows)
    print(f"{HEADER} (project built in {built:.1f} s at {path})")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    for problem in problems[:5]:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if lost or problems else 0


if __name__ == "__main__":
    sys.exit(main())
