"""How fast the Document page opens a 30,000-word transcript, and how long a coding's round trip
takes (issue 13: under a second, under 100 ms on this machine). A benchmark, not a test.

Builds one long interview from the sample transcripts' turns (with emoji and accents), codes it
with the default codebook (machine suggestions), adds a few hundred people's codings, serves
it and opens ``/sources/<id>`` in Debian's headless Chromium N times: the page says when it is
ready (``window.qualkamDocument.readyMs``, from the start of navigation: HTML, scripts, the
document's JSON and the rendering). Then it codes N selections with the keyboard (``c``, the
code's name, Enter) and reads each write's round trip (``lastWriteMs``: request, store, the
segment drawn again). ``python bench/document_open.py [-n 5] [--words 30000]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from screenshots import chromium, serve, wait  # noqa: E402  (this folder's own helpers)

SOURCE = "long-interview"


def long_transcript(words: int, seed: int = 7) -> str:
    """An interview of about ``words`` words: the sample interviews' answers, shuffled."""
    turns = []
    for path in sorted((HERE.parent / "sample_transcripts" / "interviews").glob("*.md")):
        body = path.read_text(encoding="utf-8").split("---", 2)[-1]
        turns += [line.split(": ", 1)[1] for line in body.splitlines() if ": " in line and len(line) > 60]
    rng = random.Random(seed)
    out, count, n = [], 0, 0
    extras = [" 😀", " — très bien", " 🎉", " (Zoë's café)", ""]
    while count < words:
        text = rng.choice(turns) + rng.choice(extras)
        speaker = "Researcher" if n % 2 == 0 else "Zoë Brontë"
        out.append(f"{speaker}: {text}")
        count += len(text.split())
        n += 1
    header = (
        "---\nid: long-interview\ntype: interview\ndate: 2012-07-18\ntitle: A long interview\n"
        "participants:\n  Researcher: {role: Researcher}\n  Zoë Brontë: {role: Key Account Manager}\n---\n"
    )
    return header + "\n\n".join(out) + "\n"


def build(folder: Path, words: int) -> tuple[Path, int]:
    from qualkam.coding.run import code_folder
    from qualkam.coding.spans import code_span
    from qualkam.store.project import Project
    from qualkam.store.segments import segments

    (folder / "src").mkdir()
    (folder / "src" / "long.md").write_text(long_transcript(words), encoding="utf-8")
    path = folder / "project.db"
    rng = random.Random(11)
    with Project.open(path, create=True) as project:
        code_folder(folder / "src", None, project, out_dir=None)
        frame = segments(project)
        codes = ["creep_paper_trail", "social_ordering_formal", "tactical_selling", "cross_functional_team"]
        for row in frame.sample(min(300, len(frame)), random_state=3).itertuples():
            start = int(row.start) + rng.randrange(0, max(1, (int(row.end) - int(row.start)) // 2))
            end = min(int(row.end), start + rng.randrange(10, 120))
            code_span(project, SOURCE, start, end, rng.choice(codes), rng.choice(["ana", "ben"]), via="bench")
        total = sum(len(t.split()) for t in frame["text"])
    return path, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=5, help="page loads and codings to time (default 5)")
    parser.add_argument("--words", type=int, default=30000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, words = build(Path(tmp), args.words)
        base, token, server, thread = serve(path, "ana")
        driver = chromium(Path(tmp) / "profile", 1280, 900)
        try:
            driver.get(f"{base}/?token={token}")
            ready, script, fetched = [], [], []
            for _ in range(args.n + 1):  # the first warms the caches
                driver.get(f"{base}/sources/{SOURCE}")
                wait(driver, "return document.getElementById('doc-text').dataset.ready;")
                ready.append(driver.execute_script("return window.qualkamDocument.readyMs;"))
                script.append(driver.execute_script("return window.qualkamDocument.scriptMs;"))
                fetched.append(driver.execute_script("return window.qualkamDocument.fetchedMs;"))
            segments = driver.execute_script("return document.querySelectorAll('#doc-text .segment').length;")
            from selenium.webdriver.common.action_chains import ActionChains

            trips = []
            for i in range(args.n):
                driver.execute_script(
                    """
                    const seg = document.querySelectorAll('#doc-text .seg-text')[arguments[0]];
                    const node = document.createTreeWalker(seg, NodeFilter.SHOW_TEXT).nextNode();
                    const r = document.createRange(); r.setStart(node, 0); r.setEnd(node, Math.min(20, node.length));
                    const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
                    seg.scrollIntoView({block: 'center'});
                    """,
                    10 + 7 * i,
                )
                before = driver.execute_script("return window.qualkamDocument.writes;")
                ActionChains(driver).send_keys("c").perform()
                wait(driver, "return !document.getElementById('code-picker').hidden;")
                ActionChains(driver).send_keys("tactical").perform()
                ActionChains(driver).send_keys("\ue007").perform()  # Enter
                wait(driver, f"return window.qualkamDocument.writes > {before} && !window.qualkamDocument.busy;")
                trips.append(driver.execute_script("return window.qualkamDocument.lastWriteMs;"))
        finally:
            driver.quit()
            server.should_exit = True
            thread.join(timeout=5)
    warm = ready[1:]
    print(f"transcript: {words:,} words in {segments} segments, 300 people's codings")
    runs = ", ".join(f"{r:.0f}" for r in warm)
    print(f"ready after navigation: median {statistics.median(warm):.0f} ms (runs: {runs})")
    print(
        f"  of which the page's script: median {statistics.median(script[1:]):.0f} ms "
        f"(the API's answers {statistics.median(fetched[1:]):.0f} ms, then the rendering)"
    )
    trip = statistics.median(trips)
    print(f"coding round trip (POST, store, re-render): median {trip:.0f} ms, max {max(trips):.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
