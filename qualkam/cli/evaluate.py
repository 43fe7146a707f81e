"""``qualkam evaluate``: precision, recall and F1 of the suggestions against people's codings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import ProjectFile, Suggest, TableFormat, choice, listed, value_of
from qualkam.cli.tables import choose_format, write_text
from qualkam.coding.evaluate import AGAINST_HELP, SUGGEST, EvaluationReport, evaluate
from qualkam.errors import QualkamError
from qualkam.render.cells import frame_csv
from qualkam.render.files import json_text
from qualkam.render.number import missing, number
from qualkam.store.project import DEFAULT_PROJECT, Project

FORMATS = ("table", "json", "csv")
TEXT_CHARS = 90  # the terminal shows the start of a segment; json and csv have all of it


def _short(value: object, limit: int = TEXT_CHARS) -> str:
    text = "" if missing(value) else " ".join(str(value).split())
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _per_code(report: EvaluationReport) -> Table:
    overall = report.overall
    table = Table(
        title=escape(
            f"suggestions ({report.suggest}) against {report.against} · {overall['sources']} source(s) "
            f"seen, {overall['segments']} segments"
        ),
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("code", no_wrap=True, overflow="ellipsis", min_width=12, max_width=44)
    for name in ("ref", "sugg", "TP", "FP", "FN", "P", "R", "F1"):
        table.add_column(name, justify="right", no_wrap=True)
    for row in report.per_code.itertuples(index=False):
        table.add_row(
            escape(row.code),
            str(row.reference),
            str(row.suggested),
            str(row.tp),
            str(row.fp),
            str(row.fn),
            number(row.precision),
            number(row.recall),
            number(row.f1),
        )
    return table


def _rules(report: EvaluationReport, show: int) -> Table | None:
    frame = report.per_rule
    if frame.empty:
        return None
    # Over-firing first: the rules that cost most precision are the ones to look at.
    frame = frame.sort_values(["fp", "tp"], ascending=[False, True], kind="stable").head(show)
    table = Table(
        title=f"rules by false positives (top {len(frame)} of {len(report.per_rule)})",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("code", no_wrap=True, overflow="ellipsis", max_width=40)
    table.add_column("rule", overflow="fold")
    for name in ("TP", "FP", "P"):
        table.add_column(name, justify="right", no_wrap=True)
    for row in frame.itertuples(index=False):
        table.add_row(escape(row.code), escape(row.rule), str(row.tp), str(row.fp), number(row.precision))
    return table


def _flat(text: str) -> str:
    return " ".join(text.split())


def _context(row: Any, before: int = 40, after: int = 50) -> str:
    """The words around the first piece of evidence, highlighted: why the rule fired, in place."""
    text, spans = str(row.text), getattr(row, "spans", None) or []
    for span in spans:
        a, b = span[0] - row.start, span[1] - row.start
        if 0 <= a < b <= len(text):
            head, tail = text[max(0, a - before) : a], text[b : b + after]
            if a > before and " " in head:  # start on a whole word
                head = head[head.index(" ") + 1 :]
            if b + after < len(text) and " " in tail.strip():
                tail = tail[: tail.rstrip().rindex(" ")]
            return (
                ("…" if a > before else "")
                + escape(_flat(head) + (" " if head[-1:].isspace() else ""))
                + f"[bold reverse]{escape(_flat(text[a:b]))}[/]"
                + escape((" " if tail[:1].isspace() else "") + _flat(tail))
                + ("…" if b + after < len(text) else "")
            )
    return _short(text)


def _spread(frame: pd.DataFrame, by_score: bool) -> pd.DataFrame:
    """Round-robin over codes, the code with most errors first: a short list then shows the
    breadth of what goes wrong instead of one code's errors. Within a code, the most
    confident suggestion first (false positives) or document order (false negatives)."""
    code_order = {c: i for i, c in enumerate(dict.fromkeys(frame["code"]))}
    if by_score:
        frame = frame.sort_values("score", ascending=False, kind="stable", na_position="last")
    counts = frame["code"].map(frame["code"].value_counts())
    keyed = frame.assign(_round=frame.groupby("code").cumcount(), _count=-counts, _code=frame["code"].map(code_order))
    return keyed.sort_values(["_round", "_count", "_code"], kind="stable").drop(columns=["_round", "_count", "_code"])


def _errors(frame: pd.DataFrame, title: str, show: int, evidence: bool) -> Table | None:
    if frame.empty:
        return None
    shown = _spread(frame, evidence).head(show)
    table = Table(
        title=f"{title} ({len(shown)} of {len(frame)})",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_lines=True,
    )
    longest = max(len(c) for c in shown["code"])
    table.add_column("code · where", overflow="fold", min_width=min(36, longest), max_width=36)
    if evidence:
        table.add_column("evidence \\[rule]", overflow="fold", max_width=28)
    table.add_column("text", overflow="fold")
    for row in shown.itertuples(index=False):
        cells = [f"{escape(row.code)}\n[dim]{escape(row.source)} · segment {row.segment}[/]"]
        if evidence:
            cells.append(f"{_short(row.evidence, 60)} [dim]\\[{escape(row.rules)}][/]")
        table.add_row(*cells, _context(row) if evidence else _short(row.text))
    return table


@app.command("evaluate")
def evaluate_cli(
    against: Annotated[str, typer.Option("--against", help=f"The reference layer: {AGAINST_HELP}.")] = "human",
    suggest: Annotated[
        Suggest, choice(Suggest, "--suggest", help=f"Which suggestions to score: {', '.join(SUGGEST)}.")
    ] = Suggest.rules,
    codes: Annotated[
        list[str] | None,
        typer.Option(
            "--code",
            "--codes",
            help="A code id (repeat for more; default: every code with a reference coding or a suggestion).",
        ),
    ] = None,
    show: Annotated[
        int,
        typer.Option("--show", min=0, help="How many rules, false positives and false negatives the table view lists."),
    ] = 10,
    fmt: Annotated[
        TableFormat | None,
        choice(
            TableFormat,
            "--format",
            "-f",
            help="table, json (everything) or csv (the per-code table). Default: table, or from the --out suffix.",
        ),
    ] = None,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write json or csv to this file.")] = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Precision, recall and F1 of the suggestions per code, on the sources the reference has seen,
    with the false positives (which rule over-fires) and false negatives (what the patterns miss)."""
    chosen_format = choose_format(value_of(fmt), out_file, FORMATS) if (fmt or out_file) else "table"
    chosen = listed(codes) or None
    if codes and not chosen:
        raise QualkamError("--code is empty; give a code id (repeat --code for more)")
    with Project.open(project) as store:
        report = evaluate(store, against, suggest.value, chosen)
    if chosen_format == "table" and out_file is None:
        out.print(_per_code(report))
        micro, macro = report.overall["micro"], report.overall["macro"]
        out.print(
            f"micro: P {number(micro['precision'])} · R {number(micro['recall'])} · F1 {number(micro['f1'])} "
            f"(TP {micro['tp']}, FP {micro['fp']}, FN {micro['fn']})   macro over {macro['codes']} code(s): "
            f"P {number(macro['precision'])} · R {number(macro['recall'])} · F1 {number(macro['f1'])}",
            soft_wrap=True,
        )
        tables = (
            (
                _rules(report, show),
                _errors(report.false_positives, "false positives: suggested, not in the reference", show, True),
                _errors(report.false_negatives, "false negatives: in the reference, not suggested", show, False),
            )
            if show
            else ()
        )
        for table in tables:
            if table is not None:
                out.print(table)
        for note in report.notes:
            err.print(f"note: {escape(note)}", soft_wrap=True)
        return
    write_text(json_text(report.as_dict()) if chosen_format == "json" else frame_csv(report.per_code), out_file)
