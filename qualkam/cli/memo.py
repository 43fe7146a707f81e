"""``qualkam memo add|list|edit|delete``: memos on the project, a code, a source or a segment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from qualkam.analysis.trail import memos_frame, parse_target
from qualkam.cli.app import QualkamGroup, app
from qualkam.cli.console import err
from qualkam.cli.options import ProjectFile, TableFormatOption, value_of
from qualkam.cli.tables import FORMATS, choose_format, emit
from qualkam.store.memos import add_memo, change_memo
from qualkam.store.project import DEFAULT_PROJECT, Project

MemoId = Annotated[str, typer.Argument(metavar="ID", help="The memo's id from 'qualkam memo list' (N or coding:N).")]

memo_app = typer.Typer(cls=QualkamGroup, help="Write, list, edit and delete memos.", no_args_is_help=True)
app.add_typer(memo_app, name="memo")


@memo_app.command("add")
def memo_add_cli(
    text: Annotated[str, typer.Argument(help="The memo.")],
    coder: Annotated[str, typer.Option("--coder", help="Who writes it.")],
    on: Annotated[str, typer.Option("--on", help="project, code:ID, source:ID or segment:N.")] = "project",
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Write a memo; it is kept in the audit trail."""
    kind, ident = parse_target(on)
    with Project.open(project) as store:
        memo_id = add_memo(store, coder, kind or "project", ident, text)
    err.print(f"memo {memo_id} saved on {escape(on)}")


@memo_app.command("list")
def memo_list_cli(
    on: Annotated[
        str | None, typer.Option("--on", help="Only memos on project, code:ID, source:ID or segment:N.")
    ] = None,
    coder: Annotated[str | None, typer.Option("--coder", help="Only this coder's memos.")] = None,
    fmt: TableFormatOption = None,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.")] = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """List (or export) memos with what they are about, memos written on codings too (id coding:N)."""
    chosen = choose_format(value_of(fmt), out_file, FORMATS)
    with Project.open(project) as store:
        frame = memos_frame(store, on, coder)
    emit(frame, chosen, out_file, title="memos", empty="no memos")


@memo_app.command("edit")
def memo_edit_cli(
    memo_id: MemoId,
    text: Annotated[str, typer.Argument(help="The new text.")],
    coder: Annotated[str | None, typer.Option("--coder", help="Who edits it (default: who wrote it).")] = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Replace a memo's text; the old and new text go in the audit trail."""
    with Project.open(project) as store:
        change_memo(store, memo_id, coder, text)
    err.print(f"memo {escape(memo_id)} edited")


@memo_app.command("delete")
def memo_delete_cli(
    memo_id: MemoId,
    coder: Annotated[str | None, typer.Option("--coder", help="Who deletes it (default: who wrote it).")] = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Delete a memo; its text stays in the audit trail."""
    with Project.open(project) as store:
        change_memo(store, memo_id, coder, None)
    err.print(f"memo {escape(memo_id)} deleted")
