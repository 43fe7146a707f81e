"""``qualkam audit``: every change to codings, codebook versions and memos."""

from __future__ import annotations

from pathlib import Path

import typer

from ..store import DEFAULT_PROJECT, Project
from ..trail import audit_frame, audit_summary
from .app import app
from .tables import emit


@app.command("audit")
def audit_cli(
    actor: str = typer.Option(None, "--actor", "--coder", help="Only changes by this person."),
    since: str = typer.Option(None, "--since", help="Only changes at or after this time (ISO, e.g. 2026-11-01)."),
    entity: str = typer.Option(None, "--entity", help="Only coding, codebook, code, source, segment or project."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
    out_file: Path = typer.Option(None, "--out", "-o", help="Write to this file."),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
) -> None:
    """Export the audit trail: who changed what, when, before and after."""
    with Project.open(project) as store:
        frame = audit_frame(store, actor, since, entity)
    if fmt == "table" and out_file is None:
        frame = audit_summary(frame)
    emit(frame, fmt, out_file, title="audit trail", empty="no changes recorded")
