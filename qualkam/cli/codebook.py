"""``qualkam codebook validate|show``: check a codebook whole, or draw its tree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.tree import Tree

from qualkam.cli.app import EXIT_OK, EXIT_PROBLEMS, QualkamGroup, app
from qualkam.cli.console import err, out
from qualkam.cli.options import JsonFormat, ProjectFile, choice
from qualkam.coding.codebook import DEFAULT_CODEBOOK, Code, Codebook, load_codebook
from qualkam.coding.migrate import Migration, migrate_codebook
from qualkam.errors import QualkamError
from qualkam.render.files import json_text
from qualkam.store.project import DEFAULT_PROJECT, Project

codebook_app = typer.Typer(cls=QualkamGroup, help="Check and show codebooks.", no_args_is_help=True)
app.add_typer(codebook_app, name="codebook")


@codebook_app.command("validate")
def validate_cli(
    path: Annotated[str, typer.Argument(help="Codebook YAML path, or 'kam'.")],
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as failures (exit code 1).")] = False,
) -> None:
    """Check a codebook and list every problem with its file, line and field."""
    book = load_codebook(path)
    for warning in book.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    leaves = [c for c in book.codes.values() if not book.children(c.id)]
    patterns = sum(len(c.patterns.lemmas) + len(c.patterns.tokens) for c in book.codes.values())
    out.print(
        f"{escape(path)}: valid · {len(book.codes)} codes ({len(leaves)} leaves), {len(book.phases)} phases, "
        f"{len(book.phase_rules)} phase rules, {patterns} patterns",
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_PROBLEMS if strict and book.warnings else EXIT_OK)


def _node(book: Codebook, code: Code) -> str:
    pats = len(code.patterns.lemmas) + len(code.patterns.tokens)
    swatch = f"[{code.color}]■[/] " if code.color else ""
    extra = " ".join(f"{k}={v}" for k, v in code.attributes.items() if k != "dimension")
    return f"{swatch}[bold]{escape(code.label)}[/] [cyan]{code.id}[/] {escape(extra)} [dim]{pats} patterns[/]".rstrip()


@codebook_app.command("show")
def show_cli(
    path: Annotated[
        str | None, typer.Argument(help="Codebook YAML path, or 'kam' (default: the project's codebook).")
    ] = None,
    project: Annotated[
        Path,
        typer.Option("--project", "-p", help="Project store file whose codebook to show when no PATH is given."),
    ] = Path(DEFAULT_PROJECT),
) -> None:
    """Draw the codebook as a tree: phases, compared attributes, then codes with their attributes.
    Without PATH, the codebook of the project (--project)."""
    if path is None:
        with Project.open(project) as store:
            book = store.codebook()
        if book is None:
            raise QualkamError(
                f"{project} has no codebook yet; code a folder first (qualkam code DIR --codebook "
                "PATH), or name a codebook to show: qualkam codebook show kam"
            )
        err.print(f"{escape(book.describe())} of {escape(str(project))}", soft_wrap=True, highlight=False)
    else:
        book = load_codebook(path)
    tree = Tree(f"[bold]{escape(book.name)}[/] {escape(book.version)}")
    if book.phases:
        phases = tree.add("[bold]phases[/]")
        for phase in book.phases:
            phases.add(f"{escape(phase.label)} [cyan]{phase.id}[/]")
    if book.compare:
        tree.add(f"[bold]compare:[/] {escape(', '.join(c.attribute for c in book.compare))}")

    children: dict[str | None, list[Code]] = {}
    for code in book.codes.values():
        children.setdefault(code.parent, []).append(code)
    top = tree.add("[bold]codes[/]")
    stack: list[tuple[Tree, Code]] = [(top, c) for c in reversed(children.get(None, []))]
    while stack:  # iterative: a deep tree cannot exhaust Python's recursion
        branch, code = stack.pop()
        node = branch.add(_node(book, code))
        stack.extend((node, child) for child in reversed(children.get(code.id, [])))
    out.print(tree)


@codebook_app.command("migrate")
def migrate_cli(
    path: Annotated[str, typer.Argument(help="The new codebook version (YAML path, or 'kam').")],
    coder: Annotated[str, typer.Option("--coder", help="Who makes the change (recorded in the audit trail).")],
    rename: Annotated[
        list[str] | None, typer.Option("--rename", help="OLD=NEW: move every coding of OLD to NEW (repeatable).")
    ] = None,
    merge: Annotated[
        list[str] | None, typer.Option("--merge", help="A,B=C: codings of A and B become C (repeatable).")
    ] = None,
    split: Annotated[
        list[str] | None,
        typer.Option("--split", help="OLD=N1,N2: keep OLD's codings on OLD for re-coding (repeatable)."),
    ] = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Move to a new codebook version, keeping every coding attached; one transaction."""
    book = load_codebook(path)
    migration = Migration.parse(rename or [], merge or [], split or [])
    with Project.open(project) as store:
        report = migrate_codebook(store, book, migration, coder)
    out.print(
        f"codebook {escape(book.name)} {escape(book.version)} is current · {report.moved} coding(s) moved, "
        f"{report.collapsed} merged into an existing one",
        soft_wrap=True,
    )
    for old, count in report.to_recode.items():
        out.print(
            f"{count} coding(s) of split code {escape(repr(old))} to re-code: "
            f"qualkam review --coder NAME --code {escape(old)} --status accepted",
            soft_wrap=True,
        )


_LINT_HEADINGS = {
    "no_patterns": "leaves without patterns",
    "shared_pattern": "lemma phrases shared by several codes",
    "unmatched_pattern": "patterns that match nothing in the project",
    "no_parent_cooccurrence": "children coded without their parent",
}


@codebook_app.command("lint")
def lint_cli(
    path: Annotated[
        str | None,
        typer.Argument(
            help=f"Codebook YAML path, or 'kam' (default: the project's codebook, else {DEFAULT_CODEBOOK})."
        ),
    ] = None,
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            "-p",
            help=f"Project store file (default: {DEFAULT_PROJECT} if it exists; "
            "without one only the static checks run).",
        ),
    ] = None,
    fmt: Annotated[JsonFormat, choice(JsonFormat, "--format", "-f", help="table or json.")] = JsonFormat.table,
    show: Annotated[
        int, typer.Option("--show", help="Findings listed per check in the table (0: all; JSON has all).")
    ] = 10,
) -> None:
    """Find what validation cannot: leaves without patterns, patterns shared by codes or matching
    nothing in the project, children coded without their parent. Exit code 1 when lint finds something."""

    from qualkam.coding.lint import KINDS, lint

    if project is None and Path(DEFAULT_PROJECT).is_file():
        project = Path(DEFAULT_PROJECT)
    store = Project.open(project) if project is not None else None
    try:
        found = store.codebook() if path is None and store is not None else None
        book = found if found is not None else load_codebook(path or DEFAULT_CODEBOOK)
        report = lint(book, store)
    finally:
        if store is not None:
            store.close()
    if fmt is JsonFormat.json:
        out.file.write(json_text(report.as_dict()))
    else:
        against = f"against {report.project} ({report.segments} segments)" if report.project else "static checks only"
        out.print(f"[bold]{escape(book.path)}[/] · {len(book.codes)} codes · {against}", soft_wrap=True)
        for kind in KINDS:
            if kind not in report.checks:
                continue
            found_here = [f for f in report.findings if f.kind == kind]
            out.print(f"[bold]{_LINT_HEADINGS[kind]}[/] ({len(found_here)})", soft_wrap=True)
            listed = found_here if show <= 0 else found_here[:show]
            for finding in listed:
                out.print(f"  {escape(finding.where)}: {escape(finding.message)}", soft_wrap=True, highlight=False)
                if finding.pattern and finding.pattern.startswith("tokens:") and finding.detail:
                    shown = finding.detail if len(finding.detail) <= 96 else finding.detail[:95] + "…"
                    out.print(f"    [dim]{escape(shown)}[/]", soft_wrap=True, highlight=False)
            if len(listed) < len(found_here):
                out.print(
                    f"  … {len(found_here) - len(listed)} more (--show 0 lists them all; --format json)", soft_wrap=True
                )
        counts = ", ".join(f"{n} {_LINT_HEADINGS[kind]}" for kind, n in report.counts().items() if n)
        out.print(
            f"{len(report.findings)} finding(s)" + (f": {counts}" if counts else " in the checks that ran"),
            soft_wrap=True,
        )
    for note in report.notes:
        err.print(f"note: {escape(note)}", soft_wrap=True)
    raise typer.Exit(EXIT_PROBLEMS if report.findings else EXIT_OK)


@codebook_app.command("suggest-patterns")
def suggest_patterns_cli(
    code: Annotated[str, typer.Argument(help="The code to find patterns for.")],
    layer: Annotated[
        str, typer.Option("--from", help="Whose codings to learn from: human, consensus or coder:NAME.")
    ] = "human",
    top: Annotated[int, typer.Option("--top", min=1, help="Candidates to list.")] = 15,
    min_coded: Annotated[
        int, typer.Option("--min-coded", min=1, help="Coded segments a candidate must match at least.")
    ] = 2,
    min_precision: Annotated[
        float, typer.Option("--min-precision", min=0.0, max=1.0, help="Precision a candidate must have at least.")
    ] = 0.5,
    fmt: Annotated[JsonFormat, choice(JsonFormat, "--format", "-f", help="table or json.")] = JsonFormat.table,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Lemma phrases and token patterns mined from people's codings of CODE, each with its
    precision and recall on the project, and a patterns block to paste into the codebook."""
    from rich import box
    from rich.table import Table

    from qualkam.coding.mine import suggest_patterns, yaml_snippet

    with Project.open(project) as store:
        found, positives, scored = suggest_patterns(store, code, layer, top, min_coded, min_precision)
    if fmt is JsonFormat.json:
        out.file.write(
            json_text(
                {
                    "code": code,
                    "from": layer,
                    "coded": positives,
                    "segments": scored,
                    "candidates": [c.as_dict() for c in found],
                }
            )
        )
        raise typer.Exit(EXIT_OK)
    table = Table(
        title=f"patterns for {escape(code)} · {positives} coded segment(s) by {escape(layer)} among {scored}",
        box=box.SIMPLE_HEAD,
        header_style="bold",
    )
    for name, justify in (("kind", "left"), ("pattern", "left"), ("matches", "right"), ("coded", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for name in ("precision", "recall", "F1"):
        table.add_column(name, justify="right")
    for c in found:
        shown = " ".join(c.words) if c.kind == "lemmas" else f"{c.words[0]} … {c.words[1]}"
        table.add_row(
            c.kind + (" (in codebook)" if c.in_codebook else ""),
            escape(shown),
            str(c.matched),
            str(c.coded),
            f"{c.precision:.2f}",
            f"{c.recall:.2f}",
            f"{c.f1:.2f}",
        )
    out.print(table)
    snippet = yaml_snippet(found)
    if snippet:
        out.print("to paste under the code in the codebook (check each against your definition first):")
        out.print(escape(snippet), highlight=False, soft_wrap=True)
    else:
        out.print(
            f"no candidate matches {min_coded} or more coded segments at a precision of {min_precision:g}; "
            "code more, or lower --min-precision",
            soft_wrap=True,
        )
    raise typer.Exit(EXIT_OK)


@codebook_app.command("history")
def history_cli(
    fmt: Annotated[JsonFormat, choice(JsonFormat, "--format", "-f", help="table or json.")] = JsonFormat.table,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Every codebook version the project stored: its number, name, version, hash, when and from
    where it was loaded, its codes and the codings made under it (people's, suggestions)."""
    from rich import box
    from rich.table import Table

    from qualkam.coding.history import BEFORE_HISTORY, history
    from qualkam.store.history import codings_before_history

    with Project.open(project) as store:
        rows = history(store)
        people, suggestions = codings_before_history(store)
    if fmt is JsonFormat.json:
        out.file.write(
            json_text({"versions": rows, "before_history": {"people_codings": people, "suggestions": suggestions}})
        )
        raise typer.Exit(EXIT_OK)
    if not rows:
        out.print(f"{escape(str(project))} has no codebook yet", soft_wrap=True)
        raise typer.Exit(EXIT_OK)
    table = Table(title=f"codebook versions of {escape(project.name)}", box=box.SIMPLE_HEAD, header_style="bold")
    for name, justify in (
        ("#", "right"),
        ("codebook", "left"),
        ("hash", "left"),
        ("loaded", "left"),
        ("codes", "right"),
        ("people", "right"),
        ("suggested", "right"),
    ):
        table.add_column(name, justify=justify, no_wrap=name != "codebook")  # type: ignore[arg-type]
    for row in rows:
        table.add_row(
            f"{row['number']}{' *' if row['current'] else ''}",
            escape(f"{row['name']} {row['version']}"),
            row["hash"][:8],
            row["loaded_at"][:10],
            "?" if row["codes"] is None else str(row["codes"]),
            str(row["people_codings"]),
            str(row["suggestions"]),
        )
    if people or suggestions:
        table.add_row("-", f"({BEFORE_HISTORY})", "", "", "", str(people), str(suggestions))
    out.print(table)
    for row in rows:
        again = (
            f"; made current again {row['loads'] - 1} time(s), last {row['last_loaded_at']}" if row["loads"] > 1 else ""
        )
        out.print(
            f"{row['number']}: loaded {row['loaded_at']} from {escape(row['loaded_from'] or '-')}{again}",
            soft_wrap=True,
            highlight=False,
        )
    out.print("* the current version; people: people's codings made under it; suggested: suggestions", highlight=False)
    raise typer.Exit(EXIT_OK)


def _shown(value: object, width: int = 70) -> str:
    text = value if isinstance(value, str) else json_text(value).strip().replace("\n", " ")
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _delta(before: object, after: object) -> str:
    """A field's change in one line: list items added (+) and removed (-), a mapping key by key
    (patterns, attributes), else before → after."""
    if isinstance(before, list) and isinstance(after, list):
        gone = [x for x in before if x not in after]
        new = [x for x in after if x not in before]
        return "; ".join([f"+ {_shown(x)}" for x in new] + [f"- {_shown(x)}" for x in gone]) or "reordered"
    if isinstance(before, dict) and isinstance(after, dict):
        keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
        return "; ".join(
            f"{k}: {_delta(before.get(k, []), after.get(k, []))}"
            if isinstance(before.get(k, []), list) and isinstance(after.get(k, []), list)
            else f"{k}: {_shown(before.get(k, '-'))} → {_shown(after.get(k, '-'))}"
            for k in keys
        )
    return f"{_shown(before)} → {_shown(after)}"


@codebook_app.command("diff")
def diff_cli(
    first: Annotated[
        str, typer.Argument(help="A version: its number (see 'codebook history'), current, previous or a hash prefix.")
    ],
    second: Annotated[str, typer.Argument(help="The version to compare it with.")] = "current",
    fmt: Annotated[JsonFormat, choice(JsonFormat, "--format", "-f", help="table or json.")] = JsonFormat.table,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """What changed from codebook version FIRST to SECOND: codes added, removed, renamed (as a
    migration recorded, else 'possibly renamed' when alike), split, and each field changed:
    label, definition, include/exclude rules, examples, patterns, attributes."""
    from qualkam.coding.history import codebook_diff

    with Project.open(project) as store:
        found = codebook_diff(store, first, second)
    if fmt is JsonFormat.json:
        out.file.write(json_text(found))
        raise typer.Exit(EXIT_OK)
    one, two = found["from"], found["to"]
    out.print(
        f"[bold]version {one['number']}[/] {escape(one['name'])} {escape(one['version'])} ({one['hash'][:12]}) → "
        f"[bold]version {two['number']}[/] {escape(two['name'])} {escape(two['version'])} ({two['hash'][:12]})",
        soft_wrap=True,
        highlight=False,
    )
    anything = False
    for key, heading in (("added", "codes added"), ("removed", "codes removed")):
        if found[key]:
            anything = True
            out.print(f"[bold]{heading}[/] ({len(found[key])}): {escape(', '.join(found[key]))}", soft_wrap=True)
    if found["renamed"]:
        anything = True
        out.print(f"[bold]codes renamed[/] ({len(found['renamed'])})", soft_wrap=True)
        for r in found["renamed"]:
            how = r["how"] + (f", similarity {r['similarity']:.2f}" if r["similarity"] is not None else "")
            how += "" if r["how"] == "possibly renamed" else ", recorded by a migration"
            out.print(f"  {escape(r['old'])} → {escape(r['new'])} ({how})", soft_wrap=True, highlight=False)
    if found["split"]:
        anything = True
        out.print(f"[bold]codes split[/] ({len(found['split'])})", soft_wrap=True)
        for old, news in found["split"].items():
            out.print(f"  {escape(old)} → {escape(', '.join(news))}", soft_wrap=True, highlight=False)
    if found["changed"]:
        anything = True
        out.print(f"[bold]fields changed[/] ({len(found['changed'])})", soft_wrap=True)
        for c in found["changed"]:
            what = _delta(c["before"], c["after"])
            out.print(f"  {escape(c['code'])}.{c['field']}: {escape(what)}", soft_wrap=True, highlight=False)
    for key, heading in (("phases_added", "phases added"), ("phases_removed", "phases removed")):
        if found[key]:
            anything = True
            out.print(f"[bold]{heading}[/]: {escape(', '.join(found[key]))}", soft_wrap=True)
    if not anything:
        out.print("no difference in codes or phases", soft_wrap=True)
    raise typer.Exit(EXIT_OK)
