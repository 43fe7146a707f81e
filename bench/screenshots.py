"""Screenshots of the workspace's pages for docs/workspace.md and the README (issue 13).

Codes the sample transcripts with the default codebook into a fresh project, has two coders
(ana and ben) code part of it, serves it with ``qualkam.web.app.create_app`` on a free port of
127.0.0.1 and photographs each page in Debian's headless Chromium:
``python bench/screenshots.py [--out docs/images]``. Writes workspace-sources.png,
workspace-document.png, workspace-picker.png, workspace-codebook.png, workspace-excerpts.png,
workspace-matrix.png, workspace-compare.png, workspace-query.png, workspace-kwic.png and workspace-framework.png. Also
prints how long the document page took to be ready. Not a test: pictures for people.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SOURCE = "int-05-national-account-manager"
PAGES = {
    "sources": "/",
    "codebook": "/codebook",
    "excerpts": "/excerpts?code=creep_paper_trail",
    "matrix": "/matrix?by=phase",
    "compare": f"/compare/{SOURCE}?a=ana&b=ben",
    "query": "/query?query=bureaucratic_creep+SAME-SPEAKER+kam_importance",
    "kwic": "/kwic?term=plan&sort=left",
    "framework": "/framework?themes=attr:pole",
}

# Framework summaries ana writes for the picture (participants x the codes' pole attribute).
SUMMARIES = {
    ("Mark Ellery", "formal"): "Lives by the account plan and the monthly review; reporting is the job.",
    ("Mark Ellery", "post_bureaucratic"): "Admits the spreadsheets are kept for head office, not for the customer.",
    ("Priya Nair", "formal"): "Frames KAM as reporting lines and targets set from above.",
    ("Gary Monk", "post_bureaucratic"): "Trusts the buyer relationship more than the process.",
}


def build_project(folder: Path) -> Path:
    """The sample transcripts coded by the rules, then by ana and ben: each accepts some of the
    machine's suggestions and codes passages of their own choosing (spans within turns)."""
    from qualkam.analysis.framework import build_framework, set_summaries
    from qualkam.coding.run import code_folder
    from qualkam.coding.spans import code_span, decide_suggestion
    from qualkam.store.project import Project
    from qualkam.store.refi import sources
    from qualkam.store.segments import codings

    path = folder / "project.db"
    with Project.open(path, create=True) as project:
        code_folder(ROOT / "sample_transcripts", None, project, out_dir=None)
        suggestions = codings(project, "suggestions").sort_values(["source", "start", "coding"])
        for n, row in enumerate(suggestions.itertuples()):
            if row.source == SOURCE and n % 3 == 0:
                continue  # some stay waiting in the document shown
            if n % 4 != 3:
                decide_suggestion(project, int(row.coding), "ana", "accept")
            if n % 5 != 1:
                decide_suggestion(project, int(row.coding), "ben", "accept" if n % 7 else "reject")
        text = next(s["text"] for s in sources(project) if s["id"] == SOURCE)
        own = {
            "I spend more time writing about Allsport than I spend talking to Allsport": ("creep_paper_trail", "ana"),
            "Eleven hours of meetings": ("creep_paper_trail", "ana"),
            "the plan gets updated, the change log gets updated, the monthly review gets updated": (
                "creep_paper_trail",
                "ana",
            ),
            "So everyone keeps their own version of the truth": ("creep_paper_trail", "ben"),
            "Same numbers. Four places.": ("creep_paper_trail", "ben"),
        }
        for words, (code, coder) in own.items():
            start = text.find(words)
            if start >= 0:
                code_span(project, SOURCE, start, start + len(words), code, coder, via="screenshots")
        framework = build_framework(project, "case", "attr:pole")
        set_summaries(project, framework, dict(SUMMARIES), "ana")
    return path


def serve(path: Path, coder: str) -> tuple[str, str, Any, threading.Thread]:
    import uvicorn

    from qualkam.web.app import bind, create_app

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(32)
    app = create_app(path, coder=coder, token=token)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", token, server, thread


def chromium(profile: Path, width: int, height: int, logs: bool = False) -> Any:
    """Debian's headless Chromium through Selenium (browser builds cannot be downloaded here),
    with the flags that keep it off the closed network; ``logs``: keep the performance and
    console logs (what the browser tests read)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    if logs:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(driver: Any, script: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out: {script}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="folder for the PNGs")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=860)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = build_project(Path(tmp))
        base, token, server, thread = serve(path, "ana")
        driver = chromium(Path(tmp) / "profile", args.width, args.height)
        try:
            driver.get(f"{base}/?token={quote(token)}")
            for name, page in PAGES.items():
                driver.get(base + page)
                if name == "compare":
                    wait(driver, "const t = document.getElementById('compare-grid'); return t && t.dataset.ready;")
                time.sleep(0.3)
                driver.save_screenshot(str(args.out / f"workspace-{name}.png"))
                print(f"wrote workspace-{name}.png")

            driver.get(f"{base}/sources/{SOURCE}")
            wait(driver, "return document.getElementById('doc-text').dataset.ready;")
            ready = driver.execute_script("return window.qualkamDocument.readyMs;")
            # scroll to the coded passages, then open a coded span's popover
            driver.execute_script(
                "const m = document.querySelector('#doc-text mark.coding');"
                "window.scrollTo(0, m.closest('.segment').offsetTop - 150);"
            )
            time.sleep(0.3)
            driver.save_screenshot(str(args.out / "workspace-document.png"))
            print("wrote workspace-document.png")
            # select a phrase as a person would and open the code picker over it
            driver.execute_script(
                """
                const seg = Array.from(document.querySelectorAll('#doc-text .seg-text'))
                  .find(e => e.textContent.includes('cuts the depth on the whole autumn order'));
                window.scrollTo(0, seg.closest('.segment').offsetTop - 200);
                const walker = document.createTreeWalker(seg, NodeFilter.SHOW_TEXT);
                const words = 'cuts the depth on the whole autumn order by about thirty per cent';
                for (let n = walker.nextNode(); n; n = walker.nextNode()) {
                  const at = n.data.indexOf(words);
                  if (at >= 0) {
                    const r = document.createRange(); r.setStart(n, at); r.setEnd(n, at + words.length);
                    const s = window.getSelection(); s.removeAllRanges(); s.addRange(r); break;
                  }
                }
                """
            )
            from selenium.webdriver.common.action_chains import ActionChains

            ActionChains(driver).send_keys("c").perform()
            wait(driver, "return !document.getElementById('code-picker').hidden;")
            ActionChains(driver).send_keys("order").perform()
            time.sleep(0.3)
            driver.save_screenshot(str(args.out / "workspace-picker.png"))
            print("wrote workspace-picker.png")
            print(f"document page ready {ready:.0f} ms after navigation")
        finally:
            driver.quit()
            server.should_exit = True
            thread.join(timeout=5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
