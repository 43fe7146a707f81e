"""``qualkam review``: decide on suggestions one keystroke at a time, in context.

Keys: a accept · r reject · c add another code · d remove a code · m memo · s skip ·
b back · q quit · ? help. In a terminal one key is enough; from a pipe or a test, one
key per line. Every decision is saved at once, in its own transaction.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from ..decisions import Action, add_memo, decide
from ..errors import QualkamError
from ..review import Filters, Item, ItemView, build_queue, resume_index, save_progress, view
from ..store import DEFAULT_PROJECT, Project
from .app import app
from .console import err, out

HELP = "a accept · r reject · c add code · d remove code · m memo · s skip · b back · q quit · ? help"


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


def _render(v: ItemView, index: int, total: int) -> Panel:
    body = Text()
    if v.before:
        body.append(f"… {v.before[:300]}\n\n", style="dim")
    who = f"{v.speaker} ({v.role})" if v.speaker and v.role else (v.speaker or "")
    if who:
        body.append(f"{who}: ", style="bold")
    text = Text(v.text)
    current = next((s for s in v.suggestions if s["code"] == v.item.code_id), None)
    for ev in (current or {}).get("evidence", []):
        if "start" in ev:  # a model suggestion's evidence is a similar segment elsewhere, not words here
            text.stylize("bold black on yellow", ev["start"] - v.start, ev["end"] - v.start)
    body.append_text(text)
    if v.after:
        body.append(f"\n\n… {v.after[:300]}", style="dim")
    body.append("\n\n")
    for s in v.suggestions:
        marker = "▶ " if s["code"] == v.item.code_id else "  "
        decided = v.decisions.get(s["code"], "")
        words = ", ".join(e["text"] if "start" in e else f"like {e.get('source')} #{e.get('segment')}"
                          for e in s["evidence"])
        body.append(f"{marker}{s['code']} — {v.labels.get(s['code'], '')} ({s['score']:.2f}"
                    f"{' model' if s.get('origin') == 'model' else ''}) [{words}] {decided}\n")
        if marker.strip() and s.get("origin") == "model":
            for e in s["evidence"][:2]:  # what a person already coded this way, to judge by
                body.append(f"      similar ({e.get('similarity', 0):.2f}), {e.get('source')}: {e.get('text', '')}\n",
                            style="dim")
    for code, status in v.decisions.items():
        if code not in {s["code"] for s in v.suggestions}:
            body.append(f"  {code} — {v.labels.get(code, '')} (by hand) {status}\n")
    title = f"{index + 1}/{total} · {v.source} · {v.source_type or '?'} · {v.phase or 'no phase'}"
    if v.time_start:
        title += f" · {v.time_start}"
    return Panel(body, title=escape(title), subtitle=escape(HELP), expand=False)


@app.command("review")
def review_cli(
    coder: str = typer.Option(..., "--coder", help="Your name: every decision is recorded under it."),
    code: str = typer.Option(None, "--code", help="Only suggestions of this code (and its children)."),
    source: str = typer.Option(None, "--source", help="Only this source."),
    phase: str = typer.Option(None, "--phase", help="Only sources of this phase."),
    status: str = typer.Option("suggested", "--status", help="suggested (still to decide), accepted, rejected or all."),
    order: str = typer.Option("reading", "--order", help="reading (source by source) or uncertain (the model's "
                              "least sure suggestions first, rules after)."),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
) -> None:
    """Review suggestions segment by segment; resumes where you stopped."""
    filters = Filters(code=code, source=source, phase=phase, status=status, order=order)
    with Project.open(project) as store:
        queue = build_queue(store, coder, filters)
        if not queue:
            err.print("nothing to review with these filters")
            raise typer.Exit(0)
        resumed = resume_index(store, coder, filters, queue)
        index = resumed or 0
        if resumed is not None:
            err.print(f"resuming at item {index + 1} of {len(queue)}")
        history: list[int] = []
        decided = 0
        while 0 <= index < len(queue):
            item = queue[index]
            v = view(store, coder, item)
            out.print(_render(v, index, len(queue)))
            key = _key()
            try:
                if key == "q":
                    break
                if key == "?":
                    out.print(escape(HELP))
                    continue
                if key == "b":
                    index = history.pop() if history else index
                    continue
                if key in ("a", "r"):
                    if item.code_id is None:
                        out.print("no suggestion here to accept or reject; use c to add a code")
                        continue
                    decide(store, coder, item.segment_id, item.code_id, Action.accept if key == "a" else Action.reject)
                    decided += 1
                elif key == "c":
                    decide(store, coder, item.segment_id, _ask("code to add: "), Action.add)
                    decided += 1
                    continue  # stay on the segment: more codes may follow
                elif key == "d":
                    decide(store, coder, item.segment_id, _ask("code to remove: "), Action.remove)
                    decided += 1
                    continue
                elif key == "m":
                    add_memo(store, coder, "segment", str(item.segment_id), _ask("memo: "))
                    continue
                elif key != "s":
                    out.print(f"unknown key {escape(repr(key))}; {escape(HELP)}")
                    continue
            except QualkamError as exc:  # a typo in a code id must not end the session
                err.print(f"[red]{escape(str(exc))}[/]")
                continue
            save_progress(store, coder, filters, item)
            history.append(index)
            index += 1
        err.print(f"{decided} decision(s) saved for {escape(coder)}; {max(len(queue) - index, 0)} item(s) left in this queue")
