"""``qualkam report``: the whole project in one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qualkam.cli.app import app
from qualkam.cli.console import err
from qualkam.cli.options import LAYER_NAMES, ProjectFile
from qualkam.render.files import write_text
from qualkam.render.report import build_report
from qualkam.store.project import DEFAULT_PROJECT, Project


@app.command("report")
def report_cli(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write (atomically).")] = Path(
        "qualkam-out/report.html"
    ),
    layer: Annotated[
        str, typer.Option("--from", help=f"Codings to report: {LAYER_NAMES} (rejected ones too).")
    ] = "auto",
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Write one self-contained HTML report: summary, heatmaps, the balance of
    each code attribute the codebook compares (compare:), triangulation, excerpts.

    Everything is inside the file (inline CSS and SVG, no scripts, nothing fetched), so it
    opens offline and can be archived or sent as it is.
    """
    with Project.open(project) as store:
        page = build_report(store, layer=layer)
    write_text(page, out_file)
    err.print(f"wrote {out_file} ({len(page.encode('utf-8')) // 1024} KB)", highlight=False)
