"""``qualkam reconcile``: turn two or more coders' codings into a consensus coder.

Agreements go to the consensus coder at once; each disagreement is decided in a terminal
loop (one keystroke; from a pipe or a test, one key per line) or through a sheet.
Keys: 1/a keep the first coder's codes · 2/b the second's (digits 1..n with more coders) ·
u both · n neither · o other (type code ids) · s skip · q quit · ? help; then a reason.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import Codes, ProjectFile, listed, listed_codes
from qualkam.coding.reconcile import DEFAULT_CONSENSUS
from qualkam.store.project import DEFAULT_PROJECT, Project

if TYPE_CHECKING:
    from qualkam.coding.reconcile import Disagreement, Plan, ReconcileSession

TEXT_CHARS = 1500  # a very long turn is cut on screen; the sheet has all of it


def _key() -> str:
    """One keystroke from a terminal, or the first character of a line from a pipe."""
    if sys.stdin.isatty():
        return typer.getchar().lower()
    line = sys.stdin.readline()
    if not line:
        return "q"  # end of input: stop; every decision so far is saved
    return (line.strip()[:1] or " ").lower()


def _ask(prompt: str) -> str:
    out.print(prompt, end="", markup=False)
    line = input() if sys.stdin.isatty() else sys.stdin.readline()
    return line.strip()


def keys_help(coders: list[str]) -> str:
    if len(coders) == 2:
        keep = f"1/a keep {coders[0]} · 2/b keep {coders[1]}"
    else:
        keep = f"1..{len(coders)} keep that coder's codes"
    return f"{keep} · u both · n neither · o other · s skip · q quit · ? help"


def _panel(plan: Plan, item: Disagreement, index: int, total: int) -> Panel:
    from qualkam.analysis.disagreements import NO_CODE, code_list

    body = Text()
    if item.speaker:
        body.append(f"{item.speaker}: ", style="bold")
    text = item.text.strip()
    body.append(text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…")
    body.append("\n\n")
    for number, (coder, given) in enumerate(zip(plan.coders, item.sets, strict=True), start=1):
        body.append(f"{number} {coder}: ", style="bold")
        shown = code_list(given, plan.codes)
        body.append((shown or NO_CODE) + "\n", style="" if shown else "dim")
    title = f"{index + 1}/{total} · {item.source} · segment {item.segment_id}"
    return Panel(body, title=escape(title), subtitle=escape(keys_help(plan.coders)))


def run_loop(session: ReconcileSession) -> None:
    """Ask about each pending disagreement; every decision is saved at once."""
    from qualkam.analysis.disagreements import NO_CODE, code_list
    from qualkam.coding.reconcile import OTHER_KEY, QUIT_KEY, SKIP_KEY
    from qualkam.errors import QualkamError

    plan = session.plan
    while (item := session.current) is not None:
        out.print(_panel(plan, item, session.index, session.total))
        while True:
            key = _key()
            if key == QUIT_KEY:
                session.quit()
                return
            if key == SKIP_KEY:
                session.skip()
                break
            if key == "?":
                out.print(escape(keys_help(plan.coders)))
                continue
            try:  # a typo in a code id must not end the session
                codes = _ask("codes (ids separated by ;): ") if key == OTHER_KEY else None
                choice = session.choice(key, codes)
                if choice is None:
                    out.print(f"unknown key {escape(repr(key))}; {escape(keys_help(plan.coders))}")
                    continue
                reason = _ask("reason (Enter for none): ")
                result = session.decide(choice, reason)
            except QualkamError as exc:
                err.print(f"[red]{escape(str(exc))}[/]")
                continue
            out.print(f"→ {escape(plan.consensus)}: {escape(code_list(result, plan.codes) or NO_CODE)}")
            break


@app.command("reconcile")
def reconcile_cli(
    *,  # keyword-only: the options keep their order in --help, required or not
    coders: Annotated[
        list[str],
        typer.Option(
            "--coder",
            "--coders",
            help="A coder to reconcile (repeat: --coder ana --coder ben; the old --coders ana,ben works too).",
        ),
    ],
    consensus: Annotated[
        str, typer.Option("--as", help="Name of the consensus coder (a layer like any coder).")
    ] = DEFAULT_CONSENSUS,
    decider: Annotated[
        str, typer.Option("--decider", help="Who decides: recorded as the actor of every consensus coding.")
    ],
    codes: Codes = None,
    sheet_out: Annotated[
        Path | None,
        typer.Option(
            "--sheet-out", help="Write the disagreements to decide to FILE.csv or FILE.xlsx instead of asking."
        ),
    ] = None,
    sheet_in: Annotated[
        Path | None,
        typer.Option("--sheet-in", help="Apply the decisions of a filled-in sheet (all rows or none)."),
    ] = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Reconcile coders segment by segment into a consensus coder; resumes where you stopped.

    Where every coder gave a segment the same codes, the consensus coder gets them at once.
    Each disagreement is decided in the terminal (keep one coder's codes, both, neither or
    other codes, then a reason), or in a sheet: --sheet-out writes one row per disagreement
    with each coder's codes and empty [bold]decision[/] and [bold]reason[/] columns; fill
    decision with a coder's name, both, neither or code ids, and read it back with --sheet-in.
    Bad rows are listed with their row numbers and nothing is applied (exit code 2).
    Segments already decided for the consensus coder are not asked again. The consensus is
    then a layer like any other: qualkam matrix --from consensus (or --from coder:NAME).
    """
    from qualkam.coding.reconcile import (
        ReconcileSession,
        apply_agreements,
        apply_sheet,
        plan_reconcile,
        read_sheet,
        write_sheet,
    )
    from qualkam.errors import QualkamError

    if sheet_out is not None and sheet_in is not None:
        raise QualkamError(
            "{sheet_out} writes a sheet, {sheet_in} reads a filled one; give one of them",
            arguments=("sheet_out", "sheet_in"),
        )
    names = listed(coders)
    with Project.open(project) as store:
        plan = plan_reconcile(store, names, consensus, listed_codes(codes) or None)
        agreed_new = len(plan.agreements)
        applied = apply_agreements(store, plan, decider)
        who = ", ".join(plan.coders)
        err.print(
            escape(
                f"agreements: {plan.agreed} segment(s) where {who} gave the same codes; "
                f"{agreed_new} newly given to {consensus} ({applied.codings} coding(s))"
            ),
            soft_wrap=True,
        )
        err.print(
            escape(
                f"disagreements: {len(plan.pending) + len(plan.decided)} · {len(plan.decided)} already "
                f"decided · {len(plan.pending)} to decide · {plan.missing} segment(s) skipped "
                "(not seen by every coder)"
            ),
            soft_wrap=True,
        )
        if sheet_out is not None:
            if not plan.pending:
                err.print("nothing left to decide; no sheet written")
                return
            write_sheet(plan, sheet_out)
            err.print(
                escape(
                    f"wrote {sheet_out}: {len(plan.pending)} disagreement(s); fill 'decision' with "
                    f"{', '.join(plan.coders)}, both, neither or code ids (and a reason), then run "
                    f"again with --sheet-in {sheet_out}"
                ),
                soft_wrap=True,
            )
            return
        if sheet_in is not None:
            decisions, undecided = read_sheet(store, plan, sheet_in)
            done = apply_sheet(store, plan, decisions, decider)
            err.print(
                escape(
                    f"applied {sheet_in}: {len(decisions)} decision(s) by {decider} ({done.codings} "
                    f"coding(s) written, {done.unchanged} unchanged) · {undecided} row(s) undecided · "
                    f"{len(plan.pending)} disagreement(s) left"
                ),
                soft_wrap=True,
            )
            return
        if not plan.pending:
            err.print("nothing left to decide")
            return
        session = ReconcileSession(store, plan, decider)
        run_loop(session)
        err.print(
            escape(
                f"{session.decided} decision(s) saved for {consensus} by {decider}; {session.skipped} skipped; "
                f"{session.left} left to decide"
            ),
            soft_wrap=True,
        )
