"""``qualkam review``: decide on suggestions one keystroke at a time, in context.

Keys: a accept · r reject · c add another code · d remove a code · m memo · s skip ·
b back · q quit · ? help; n / p page through a segment too long for the screen. In a terminal
one key is enough; from a pipe or a test, one key per line. Every decision is saved at once,
in its own transaction. The session itself (``qualkam.coding.review.ReviewSession``) is in
the core; this module reads keys and draws the screen.
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
from qualkam.cli.options import (
    Coder,
    CodeTree,
    Order,
    Phases,
    ProjectFile,
    ReviewStatus,
    Sources,
    Speakers,
    choice,
    listed_codes,
)
from qualkam.store.project import DEFAULT_PROJECT, Project

if TYPE_CHECKING:
    from qualkam.coding.review import ItemView

HELP = "a accept · r reject · c add code · d remove code · m memo · s skip · b back · q quit · ? help"
SHORT_HELP = "a accept r reject c add d remove m memo s skip b back q quit ?"  # fits 80 columns


def _key() -> str:
    """One keystroke from a terminal, or the first character of a line from a pipe."""
    if sys.stdin.isatty():
        return typer.getchar().lower()
    line = sys.stdin.readline()
    if not line:
        return "q"  # end of input: stop, everything decided so far is saved
    return (line.strip()[:1] or " ").lower()


def _ask(prompt: str) -> str:
    out.print(prompt, end="")
    line = sys.stdin.readline() if not sys.stdin.isatty() else input()
    return line.strip()


def _wrapped(text: Text, width: int) -> list[Text]:
    """``text`` as the lines a terminal of ``width`` columns shows."""
    return list(text.wrap(out, max(width, 20)))


def _page_size(height: int, fixed: int) -> int:
    # The panel's two borders, the line the key is typed on, and a page line.
    return max(height - 2 - 1 - 1 - fixed, 3)


def _render(
    v: ItemView, index: int, total: int, page: int = 0, width: int | None = None, height: int | None = None
) -> tuple[Panel, int]:
    """The panel for one item, fitted to the terminal (80x24 at least): the title (where, which
    item) and the suggestions always show; a segment too long for the rest is cut into pages
    (``n`` next page, ``p`` previous). Returns the panel and the number of pages."""
    width = width or out.size.width
    height = height or out.size.height
    inner = max(width - 4, 20)  # borders and padding
    context = Text()
    if v.before:
        context.append(f"… {v.before[:300]}\n\n", style="dim")
    who = f"{v.speaker} ({v.role})" if v.speaker and v.role else (v.speaker or "")
    if who:
        context.append(f"{who}: ", style="bold")
    text = Text(v.text)
    current = next((s for s in v.suggestions if s["code"] == v.item.code_id), None)
    for ev in (current or {}).get("evidence", []):
        if "start" in ev:  # a model suggestion's evidence is a similar segment elsewhere, not words here
            text.stylize("bold black on yellow", ev["start"] - v.start, ev["end"] - v.start)
    context.append_text(text)
    if v.after:
        context.append(f"\n\n… {v.after[:300]}", style="dim")
    listing = Text()
    for s in v.suggestions:
        marker = "▶ " if s["code"] == v.item.code_id else "  "
        decided = v.decisions.get(s["code"], "")
        words = ", ".join(
            e["text"] if "start" in e else f"like {e.get('source')} #{e.get('segment')}" for e in s["evidence"]
        )
        listing.append(
            f"{marker}{s['code']} — {v.labels.get(s['code'], '')} ({s['score']:.2f}"
            f"{' model' if s.get('origin') == 'model' else ''}) [{words}] {decided}\n"
        )
        if marker.strip() and s.get("origin") == "model":
            for e in s["evidence"][:2]:  # what a person already coded this way, to judge by
                listing.append(
                    f"      similar ({e.get('similarity', 0):.2f}), {e.get('source')}: {e.get('text', '')}\n",
                    style="dim",
                )
    for code, status in v.decisions.items():
        if code not in {s["code"] for s in v.suggestions}:
            listing.append(f"  {code} — {v.labels.get(code, '')} (by hand) {status}\n")
    listing.rstrip()
    bottom = _wrapped(listing, inner) if listing.plain else []
    most = max((height - 4) // 3, 3)  # the suggestions take at most a third of the screen
    if len(bottom) > most:
        current_line = next((i for i, line in enumerate(bottom) if line.plain.startswith("▶")), 0)
        first = min(max(current_line - most // 2, 0), len(bottom) - most + 1)
        hidden = len(bottom) - (most - 1)
        bottom = bottom[first : first + most - 1] + [Text(f"  … {hidden} more line(s) of suggestions", style="dim")]
    lines = _wrapped(context, inner)
    size = _page_size(height, len(bottom) + 1)
    pages = max((len(lines) + size - 1) // size, 1)
    page = min(max(page, 0), pages - 1)
    shown = lines[page * size : (page + 1) * size]
    body = Text("\n").join(shown)
    if pages > 1:
        body.append(f"\n— page {page + 1} of {pages}: n next page, p previous —", style="bold cyan")
    body.append("\n\n")
    body.append_text(Text("\n").join(bottom))
    title = f"{index + 1}/{total} · {v.source} · {v.source_type or '?'} · {v.phase or 'no phase'}"
    if v.time_start:
        title += f" · {v.time_start}"
    help_line = HELP if width >= len(HELP) + 6 else SHORT_HELP
    return Panel(body, title=escape(title), subtitle=escape(help_line), width=min(width, max(inner + 4, 24))), pages


@app.command("review")
def review_cli(
    coder: Coder,
    codes: CodeTree = None,
    sources: Sources = None,
    phases: Phases = None,
    speakers: Speakers = None,
    status: Annotated[
        ReviewStatus,
        choice(ReviewStatus, "--status", help="suggested (still to decide), accepted, rejected or all."),
    ] = ReviewStatus.suggested,
    order: Annotated[
        Order,
        choice(
            Order,
            "--order",
            help="reading (source by source) or uncertain (the model's least sure suggestions first, rules after).",
        ),
    ] = Order.reading,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Review suggestions segment by segment; resumes where you stopped."""
    from qualkam.coding.review import ACTIONS, ASKS, Filters, ReviewSession
    from qualkam.errors import QualkamError

    filters = Filters(
        codes=listed_codes(codes) or None,
        sources=sources or None,
        phases=phases or None,
        status=status.value,
        order=order.value,
        speakers=speakers or None,
    )
    with Project.open(project) as store:
        session = ReviewSession(store, coder, filters)
        if not session.total:
            err.print("nothing to review with these filters")
            raise typer.Exit(0)
        if session.resumed:
            err.print(f"resuming at item {session.index + 1} of {session.total}")
        page, shown_index = 0, -1
        while not session.finished:
            if session.index != shown_index:
                page, shown_index = 0, session.index
            panel, pages = _render(session.view(), session.index, session.total, page)
            out.print(panel)
            key = _key()
            if key in ("n", "p"):  # page through a long segment; the header stays
                page = (page + (1 if key == "n" else -1)) % pages
                continue
            if key == "?":
                out.print(escape(HELP))
                continue
            action = ACTIONS.get(key)
            if action is None:
                out.print(f"unknown key {escape(repr(key))}; {escape(HELP)}")
                continue
            try:
                note = session.act(action, _ask(ASKS[action]) if action in ASKS else None)
            except QualkamError as exc:  # a typo in a code id must not end the session
                err.print(f"[red]{escape(str(exc))}[/]")
                continue
            if note:
                out.print(note)
        err.print(f"{session.decided} decision(s) saved for {escape(coder)}; {session.left} item(s) left in this queue")
