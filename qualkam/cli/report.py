"""``qualkam report``: the whole project in one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

import typer

from qualkam.cli.app import app
from qualkam.cli.console import err
from qualkam.render.outputs import atomic_open
from qualkam.render.report import build_report
from qualkam.store.project import DEFAULT_PROJECT, Project


@app.command("report")
def report_cli(
    out_file: Path = typer.Option(
        Path("qualkam-out/report.html"), "--out", "-o", help="The HTML file to write (atomically)."
    ),
    layer: str = typer.Option(
        "auto",
        "--from",
        help="Codings to report: auto, suggestions, human, consensus, coder:NAME or all (rejected ones too).",
    ),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
) -> None:
    """Write one self-contained HTML report: summary, heatmaps, the balance of
    each code attribute the codebook compares (compare:), triangulation, excerpts.

    Everything is inside the file (inline CSS and SVG, no scripts, nothing fetched), so it
    opens offline and can be archived or sent as it is.
    """
    with Project.open(project) as store:
        page = build_report(store, layer=layer)
    with atomic_open(out_file) as handle:
        handle.write(page)
    err.print(f"wrote {out_file} ({len(page.encode('utf-8')) // 1024} KB)", highlight=False)
