"""``qualkam codebook validate|show``: check a codebook whole, or draw its tree."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.tree import Tree

from pathlib import Path

from ..codebook import Code, Codebook, load_codebook
from ..migrate import Migration, migrate_codebook
from ..store import DEFAULT_PROJECT, Project
from .app import EXIT_OK, EXIT_PROBLEMS, app
from .console import err, out

codebook_app = typer.Typer(help="Check and show codebooks.", no_args_is_help=True)
app.add_typer(codebook_app, name="codebook")


@codebook_app.command("validate")
def validate_cli(
    path: str = typer.Argument(..., help="Codebook YAML path, or 'kam'."),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as failures (exit code 1)."),
) -> None:
    """Check a codebook and list every problem with its file, line and field."""
    book = load_codebook(path)
    for warning in book.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    leaves = [c for c in book.codes.values() if not book.children(c.id)]
    patterns = sum(len(c.patterns.lemmas) + len(c.patterns.tokens) for c in book.codes.values())
    out.print(f"{path}: valid · {len(book.codes)} codes ({len(leaves)} leaves), {len(book.phases)} phases, "
              f"{len(book.phase_rules)} phase rules, {patterns} patterns", soft_wrap=True)
    raise typer.Exit(EXIT_PROBLEMS if strict and book.warnings else EXIT_OK)


def _node(book: Codebook, code: Code) -> str:
    pats = len(code.patterns.lemmas) + len(code.patterns.tokens)
    swatch = f"[{code.color}]■[/] " if code.color else ""
    extra = " ".join(f"{k}={v}" for k, v in code.attributes.items() if k != "dimension")
    return f"{swatch}[bold]{escape(code.label)}[/] [cyan]{code.id}[/] {escape(extra)} [dim]{pats} patterns[/]".rstrip()


@codebook_app.command("show")
def show_cli(path: str = typer.Argument(..., help="Codebook YAML path, or 'kam'.")) -> None:
    """Draw the codebook as a tree: phases, then codes with their attributes."""
    book = load_codebook(path)
    tree = Tree(f"[bold]{escape(book.name)}[/] {escape(book.version)}")
    if book.phases:
        phases = tree.add("[bold]phases[/]")
        for phase in book.phases:
            phases.add(f"{escape(phase.label)} [cyan]{phase.id}[/]")

    def grow(branch: Tree, parent: str | None) -> None:
        for code in book.children(parent):
            grow(branch.add(_node(book, code)), code.id)

    grow(tree.add("[bold]codes[/]"), None)
    out.print(tree)


@codebook_app.command("migrate")
def migrate_cli(
    path: str = typer.Argument(..., help="The new codebook version (YAML path, or 'kam')."),
    coder: str = typer.Option(..., "--coder", help="Who makes the change (recorded in the audit trail)."),
    rename: list[str] = typer.Option([], "--rename", help="OLD=NEW: move every coding of OLD to NEW (repeatable)."),
    merge: list[str] = typer.Option([], "--merge", help="A,B=C: codings of A and B become C (repeatable)."),
    split: list[str] = typer.Option([], "--split", help="OLD=N1,N2: keep OLD's codings on OLD for re-coding (repeatable)."),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
) -> None:
    """Move to a new codebook version, keeping every coding attached; one transaction."""
    book = load_codebook(path)
    migration = Migration.parse(rename, merge, split)
    with Project.open(project) as store:
        report = migrate_codebook(store, book, migration, coder)
    out.print(f"codebook {book.name} {book.version} is current · {report.moved} coding(s) moved, "
              f"{report.collapsed} merged into an existing one", soft_wrap=True)
    for old, count in report.to_recode.items():
        out.print(f"{count} coding(s) of split code {old!r} to re-code: qualkam review --coder NAME --code {old} "
                  "--status accepted", soft_wrap=True)
