"""``qualkam reconcile``: turn two or more coders' codings into a consensus coder.

Agreements go to the consensus coder at once; each disagreement is decided in a terminal
loop (one keystroke; from a pipe or a test, one key per line) or through a sheet.
Keys: 1/a keep the first coder's codes · 2/b the second's (digits 1..n with more coders) ·
u both · n neither · o other (type code ids) · s skip · q quit · ? help; then a reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from qualkam.analysis.disagreements import NO_CODE, code_list
from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import listed, listed_codes
from qualkam.coding.reconcile import (
    DEFAULT_CONSENSUS,
    Choice,
    Disagreement,
    Plan,
    apply_agreements,
    apply_sheet,
    decide_disagreement,
    known_codes,
    other_choice,
    plan_reconcile,
    read_sheet,
    write_sheet,
)
from qualkam.errors import QualkamError
from qualkam.store.project import DEFAULT_PROJECT, Project

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
    body = Text()
    if item.speaker:
        body.append(f"{item.speaker}: ", style="bold")
    text = item.text.strip()
    body.append(text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…")
    body.append("\n\n")
    for number, (coder, given) in enumerate(zip(plan.coders, item.sets), start=1):
        body.append(f"{number} {coder}: ", style="bold")
        shown = code_list(given, plan.codes)
        body.append((shown or NO_CODE) + "\n", style="" if shown else "dim")
    title = f"{index + 1}/{total} · {item.source} · segment {item.segment_id}"
    return Panel(body, title=escape(title), subtitle=escape(keys_help(plan.coders)))


def _choice(key: str, plan: Plan, known: list[str]) -> Choice | None:
    """The choice a key stands for (None: not a choice key). ``o`` asks for the codes."""
    coders = plan.coders
    if key.isdigit() and 1 <= int(key) <= len(coders):
        return Choice("coder", coder=coders[int(key) - 1])
    if key in ("a", "b"):
        return Choice("coder", coder=coders["ab".index(key)])
    if key == "u":
        return Choice("both")
    if key == "n":
        return Choice("neither")
    if key == "o":
        return other_choice(_ask("codes (ids separated by ;): "), known)
    return None


def run_loop(store: Project, plan: Plan, decider: str) -> tuple[int, int]:
    """Ask about each pending disagreement; every decision is saved at once. Returns (decided, skipped)."""
    items = list(plan.pending)
    known = known_codes(store)
    decided = skipped = 0
    for index, item in enumerate(items):
        out.print(_panel(plan, item, index, len(items)))
        while True:
            key = _key()
            if key == "q":
                return decided, skipped
            if key == "s":
                skipped += 1
                break
            if key == "?":
                out.print(escape(keys_help(plan.coders)))
                continue
            try:  # a typo in a code id must not end the session
                choice = _choice(key, plan, known)
                if choice is None:
                    out.print(f"unknown key {escape(repr(key))}; {escape(keys_help(plan.coders))}")
                    continue
                reason = _ask("reason (Enter for none): ")
                result = decide_disagreement(store, plan, item, choice, decider, reason)
            except QualkamError as exc:
                err.print(f"[red]{escape(str(exc))}[/]")
                continue
            out.print(f"→ {escape(plan.consensus)}: {escape(code_list(result, plan.codes) or NO_CODE)}")
            decided += 1
            break
    return decided, skipped


@app.command("reconcile")
def reconcile_cli(
    coders: list[str] = typer.Option(
        ...,
        "--coder",
        "--coders",
        help="A coder to reconcile (repeat: --coder ana --coder ben; the old --coders ana,ben works too).",
    ),
    consensus: str = typer.Option(
        DEFAULT_CONSENSUS, "--as", help="Name of the consensus coder (a layer like any coder)."
    ),
    decider: str = typer.Option(..., "--decider", help="Who decides: recorded as the actor of every consensus coding."),
    code: list[str] | None = typer.Option(
        None, "--code", "-k", help="Only this code (its descendants included) or attr:KEY=VALUE; repeat for more."
    ),
    sheet_out: Path | None = typer.Option(
        None, "--sheet-out", help="Write the disagreements to decide to FILE.csv or FILE.xlsx instead of asking."
    ),
    sheet_in: Path | None = typer.Option(
        None, "--sheet-in", help="Apply the decisions of a filled-in sheet (all rows or none)."
    ),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
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
    if sheet_out is not None and sheet_in is not None:
        raise QualkamError("--sheet-out writes a sheet, --sheet-in reads a filled one; give one of them")
    names = listed(coders)
    with Project.open(project) as store:
        plan = plan_reconcile(store, names, consensus, listed_codes(code) or None)
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
        decided, skipped = run_loop(store, plan, decider)
        err.print(
            escape(
                f"{decided} decision(s) saved for {consensus} by {decider}; {skipped} skipped; "
                f"{len(plan.pending)} left to decide"
            ),
            soft_wrap=True,
        )
