"""``qualkam memo add|list``: memos on the project, a code, a source or a segment."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from ..decisions import add_memo
from ..store import DEFAULT_PROJECT, Project
from ..trail import memos_frame, parse_target
from .app import app
from .console import err
from .tables import emit

memo_app = typer.Typer(help="Write and list memos.", no_args_is_help=True)
app.add_typer(memo_app, name="memo")


@memo_app.command("add")
def memo_add_cli(
    text: str = typer.Argument(..., help="The memo."),
    coder: str = typer.Option(..., "--coder", help="Who writes it."),
    on: str = typer.Option("project", "--on", help="project, code:ID, source:ID or segment:N."),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
) -> None:
    """Write a memo; it is kept in the audit trail."""
    kind, ident = parse_target(on)
    with Project.open(project) as store:
        memo_id = add_memo(store, coder, kind or "project", ident, text)
    err.print(f"memo {memo_id} saved on {escape(on)}")


@memo_app.command("list")
def memo_list_cli(
    on: str = typer.Option(None, "--on", help="Only memos on project, code:ID, source:ID or segment:N."),
    coder: str = typer.Option(None, "--coder", help="Only this coder's memos."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
    out_file: Path = typer.Option(None, "--out", "-o", help="Write to this file."),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
) -> None:
    """List (or export) memos with what they are about."""
    with Project.open(project) as store:
        frame = memos_frame(store, on, coder)
    emit(frame, fmt, out_file, title="memos", empty="no memos")
