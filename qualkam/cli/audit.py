"""``qualkam audit``: every change to codings, codebook versions and memos."""

from __future__ import annotations

from pathlib import Path

import typer

from qualkam.analysis.trail import ENTITIES, audit_frame, audit_summary
from qualkam.cli.app import app
from qualkam.cli.options import format_option
from qualkam.cli.tables import FORMATS, choose_format, emit
from qualkam.store.project import DEFAULT_PROJECT, Project


@app.command("audit")
def audit_cli(
    actor: str = typer.Option(None, "--actor", "--coder", help="Only changes by this person."),
    since: str = typer.Option(
        None,
        "--since",
        help="Only changes at or after this date or time: YYYY-MM-DD or "
        "YYYY-MM-DDTHH:MM[:SS][+HH:MM] (ISO 8601; UTC if no zone).",
    ),
    entity: str = typer.Option(None, "--entity", help=f"Only one of {', '.join(ENTITIES)}."),
    fmt: str | None = format_option(FORMATS, None, "table, csv or json. Default: table, or from the --out suffix."),
    out_file: Path = typer.Option(None, "--out", "-o", help="Write to this file."),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
) -> None:
    """Export the audit trail: who changed what, when, before and after."""
    fmt = choose_format(fmt, out_file, FORMATS)
    with Project.open(project) as store:
        frame = audit_frame(store, actor, since, entity)
    if fmt == "table" and out_file is None:
        frame = audit_summary(frame)
    emit(frame, fmt, out_file, title="audit trail", empty="no changes recorded")
