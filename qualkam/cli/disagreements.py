"""``qualkam disagreements``: where and how coders differ, before they reconcile."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from qualkam.analysis.disagreements import (
    FORMATS,
    DisagreementReport,
    coder_column,
    confusion_view,
    disagreements,
    prevalence_view,
    render,
    summary,
    unit_view,
)
from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import (
    DisagreementFormat,
    DisagreementUnit,
    Phases,
    ProjectFile,
    Sources,
    Speakers,
    choice,
    listed,
    listed_codes,
    value_of,
)
from qualkam.cli.tables import choose_format, write_text
from qualkam.render.number import number
from qualkam.store.project import DEFAULT_PROJECT, Project

TEXT_CHARS = 200  # the terminal shows the start of a unit; md, html and csv have all of it


def _numbers(frame: pd.DataFrame, title: str, index: bool = False) -> Table:
    table = Table(title=escape(title), header_style="bold")
    if index:
        table.add_column(escape(frame.index.name or ""), no_wrap=True, overflow="ellipsis", max_width=44)
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        table.add_column(
            escape(str(column)),
            justify="right" if numeric else "left",
            no_wrap=not numeric,
            overflow="fold" if numeric else "ellipsis",
            max_width=None if numeric else 44,
        )
    for name, row in frame.iterrows():
        table.add_row(*([escape(str(name))] if index else []), *[escape(number(v)) for v in row])
    return table


def _units_table(report: DisagreementReport) -> Table:
    table = Table(
        title=f"Units where the coders differ ({report.differ})", header_style="bold", show_lines=True, expand=True
    )
    table.add_column("where · text", overflow="fold", ratio=1, min_width=30)
    for coder in report.coders:
        table.add_column(escape(coder), overflow="fold", max_width=26)
    for row in unit_view(report).to_dict("records"):
        where = f"{row['source']} · {report.unit} {row['unit']}" + (f" · {row['speaker']}" if row["speaker"] else "")
        text = " ".join(str(row["text"]).split())
        text = text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"
        # One code a line: long code ids fit a narrow column.
        given = [escape(row[coder_column(c)].replace("; ", "\n")) for c in report.coders]
        table.add_row(f"[dim]{escape(where)}[/]\n{escape(text)}", *given)
    return table


def print_report(report: DisagreementReport) -> None:
    """All four parts as rich tables on stdout."""
    if report.units.empty:
        out.print("The coders gave the same codes to every compared unit.")
    else:
        out.print(_units_table(report))
    out.print(_numbers(confusion_view(report), "Confusion per code (units both coders have seen)"))
    out.print(_numbers(report.agreement, "Percent agreement", index=True))
    if report.kappa is not None:
        out.print(_numbers(report.kappa, "Cohen's kappa", index=True))
    out.print(_numbers(prevalence_view(report), "Prevalence: share of seen units given each code", index=True))


@app.command("disagreements")
def disagreements_cli(
    codes: Annotated[
        list[str] | None,
        typer.Option(
            "--code",
            "-k",
            help="Only this code (its descendants included) or attr:KEY=VALUE; repeat for more.",
        ),
    ] = None,
    coders: Annotated[
        list[str] | None,
        typer.Option(
            "--coder",
            "--coders",
            help="A coder to compare (repeat: --coder ana --coder ben). Default: every coder but consensus.",
        ),
    ] = None,
    unit: Annotated[
        DisagreementUnit, choice(DisagreementUnit, "--unit", help="segment (default) or sentence.")
    ] = DisagreementUnit.segment,
    fmt: Annotated[
        DisagreementFormat | None,
        choice(
            DisagreementFormat,
            "--format",
            "-f",
            help="table, md, csv (the unit list) or html. Default: table, or from the --out suffix.",
        ),
    ] = None,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file (atomically).")] = None,
    sources: Sources = None,
    speakers: Speakers = None,
    phases: Phases = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Where coders differ: each unit they coded differently (with the text and what each gave),
    a confusion table per code, a coder x coder agreement matrix, and each coder's prevalence.

    Only units every listed coder has seen are compared (a coder has seen a source when they
    made a decision in it); the others are counted as skipped. md and html hold all four
    parts; csv is the unit list, one column of codes per coder.
    """
    chosen = choose_format(value_of(fmt), out_file, FORMATS)
    with Project.open(project) as store:
        report = disagreements(
            store,
            listed(coders) or None,
            listed_codes(codes) or None,
            unit.value,
            sources=sources or (),
            speakers=speakers or (),
            phases=phases or (),
        )
    err.print(escape(summary(report)), soft_wrap=True)
    if chosen == "table":
        print_report(report)
        return
    write_text(render(report, chosen), out_file)
