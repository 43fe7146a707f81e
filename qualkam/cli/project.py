"""``qualkam project clone|merge``: blind parallel coding in separate project files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from qualkam.cli.app import EXIT_OK, EXIT_PROBLEMS, QualkamGroup, app
from qualkam.cli.console import err, out
from qualkam.cli.options import Prefer, choice, value_of
from qualkam.coding.blind import check_coder_name, clone_for, merge_from
from qualkam.store.project import DEFAULT_PROJECT, Project

project_app = typer.Typer(
    cls=QualkamGroup, help="Clone a project for a coder, merge coders' projects back.", no_args_is_help=True
)
app.add_typer(project_app, name="project")

MasterProject = Annotated[Path, typer.Option("--project", "-p", help="The master project.")]


@project_app.command("clone")
def clone_cli(
    coder: Annotated[str, typer.Option("--for", help="The coder the copy is for.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="The copy (default: qualkam-NAME.db beside the project).")
    ] = None,
    project: MasterProject = Path(DEFAULT_PROJECT),
) -> None:
    """Copy the project for one coder, without anybody else's codings, memos or audit lines."""
    target = out_file or project.with_name(f"{project.stem}-{check_coder_name(coder)}.db")
    with Project.open(project) as store:
        made = clone_for(store, coder, target)
    out.print(escape(f"{made}: a copy of {project} for {coder}; code it with --project {made}"), soft_wrap=True)


@project_app.command("merge")
def merge_cli(
    other: Annotated[Path, typer.Argument(help="A coder's project file to bring in.")],
    coder: Annotated[
        str | None, typer.Option("--coder", help="Only this coder's codings (default: every person's).")
    ] = None,
    prefer: Annotated[
        Prefer | None,
        choice(
            Prefer,
            "--prefer",
            help="Settle conflicts (one coder decided a segment and "
            "code both ways): mine keeps this project's decision, theirs takes the other's.",
        ),
    ] = None,
    project: MasterProject = Path(DEFAULT_PROJECT),
) -> None:
    """Bring another project's codings and memos in; nothing already here changes, unless
    --prefer theirs settles a conflict the other project's way."""
    with Project.open(project) as store:
        report = merge_from(store, other, coder, value_of(prefer))
    for line in report.problems:
        err.print(f"[yellow]not merged:[/] {escape(line)}", soft_wrap=True, markup=True, highlight=False)
    for line in report.settled:
        err.print(f"settled: {escape(line)}", soft_wrap=True, highlight=False)
    out.print(
        f"merged {other} into {project}: {report.new} new coding(s), {report.unchanged} already here, "
        f"{len(report.conflicts)} conflict(s){f', {len(report.settled)} settled' if report.settled else ''}, "
        f"{report.memos} memo(s) · coders: {', '.join(report.coders) or 'none'}",
        soft_wrap=True,
        markup=False,
    )
    raise typer.Exit(EXIT_PROBLEMS if report.problems else EXIT_OK)
