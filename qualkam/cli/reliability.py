"""``qualkam reliability``: agreement between coders per code and overall, with interpretations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import JustifyMethod
from rich.markup import escape
from rich.table import Table

from qualkam.agreement.reliability import ReliabilityReport, reliability
from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import (
    Coders,
    Distance,
    Level,
    Minimum,
    Phases,
    ProjectFile,
    ReliabilityUnit,
    Replicates,
    Seed,
    Sources,
    Speakers,
    TableFormat,
    choice,
    listed,
    value_of,
)
from qualkam.cli.tables import choose_format, write_text
from qualkam.coding.learn.machine import newest_machine_agreement
from qualkam.render.cells import frame_csv
from qualkam.render.files import json_text
from qualkam.render.number import DASH, number
from qualkam.store.project import DEFAULT_PROJECT, Project

# Landis & Koch's bands, shortened to fit a terminal table (the JSON keeps the full words).
_BANDS = {"almost perfect": "near-perfect", "substantial": "substant."}


def _words(value: object) -> str:
    """An interpretation, whole ("not computed", never "not"), or a dash when there is none."""
    return str(value) if value is not None else DASH


def _table(report: ReliabilityReport) -> Table:
    records = report.records()  # the values of the JSON, None where missing (issue 11)
    # collapse_padding: two spaces between columns, not three, so the verdicts fit 100 columns
    table = Table(
        title=escape(f"agreement · {', '.join(report.coders)} · unit: {report.unit}"),
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    if report.unit == "character":
        for name in ("code", "unitized α", ""):
            table.add_column(name)
        for row in records:
            table.add_row(
                escape(str(row["code"])), number(row["krippendorff_alpha"]), _words(row["alpha_interpretation"])
            )
        return table
    kappa = "cohen_kappa" if len(report.coders) == 2 else "fleiss_kappa"
    # The kappa-paradox flag is written inside the kappa cell ("0.400 !"), so a narrow
    # terminal that cuts the right-hand columns never hides it.
    columns: list[tuple[str, JustifyMethod]] = [
        ("code", "left"),
        ("units", "right"),
        ("prev.", "right"),
        ("differ", "right"),
        ("% agr.", "right"),
        ("κ" if kappa == "cohen_kappa" else "Fleiss κ", "right"),
        ("κ band", "left"),
        ("AC1", "right"),
        ("α", "right"),
        ("α verdict", "left"),
    ]
    rows = []
    for row in records:
        alpha_words = _words(row["alpha_interpretation"])
        rows.append(
            [
                escape(str(row["code"])),
                str(row["n_pairable"]),
                number(row["prevalence"], 2),
                str(row["n_disagree"]),
                number(row["percent_agreement"]),
                number(row[kappa]) + (" !" if row["paradox_warning"] is not None else "  "),
                _BANDS.get(row["kappa_interpretation"], _words(row["kappa_interpretation"])),
                number(row["gwet_ac1"]),
                number(row["krippendorff_alpha"]),
                # "tentative conclusions only" is cut to its first word to fit; "not computed" stays whole
                alpha_words if alpha_words == "not computed" else alpha_words.split()[0],
            ]
        )
    # Figures never shrink; only the code column gives way (cut with an ellipsis).
    widths = [max([len(name)] + [len(r[i]) for r in rows] + [1]) for i, (name, _) in enumerate(columns)]
    room = out.width - sum(widths[1:]) - 2 * len(widths) - 1
    for index, (name, justify) in enumerate(columns):
        if index == 0:
            table.add_column(name, no_wrap=True, overflow="ellipsis", width=max(12, min(widths[0], room)))
        else:
            table.add_column(name, justify=justify, no_wrap=True, min_width=widths[index])
    for cells in rows:
        table.add_row(*cells)
    return table


def _bootstrap_table(report: ReliabilityReport, minimum: float, replicates: int, seed: int) -> Table:
    """Intervals in a table of their own, so the main table still fits a terminal."""
    table = Table(
        title=f"bootstrap · {replicates} replicates · seed {seed}",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for name in ("code", "α 95% CI", f"P(α < {minimum:g})", "κ 95% CI"):
        table.add_column(name, justify="left" if name == "code" else "right")
    for row in report.records():
        table.add_row(
            escape(str(row["code"])),
            f"{number(row['alpha_low'])} – {number(row['alpha_high'])}",
            number(row["p_alpha_below_minimum"]),
            f"{number(row['kappa_low'])} – {number(row['kappa_high'])}",
        )
    return table


@app.command("reliability")
def reliability_cli(
    coders: Coders = None,
    codes: Annotated[
        list[str] | None,
        typer.Option("--code", "--codes", help="A code id (repeat for more; default: every code a coder accepted)."),
    ] = None,
    unit: Annotated[
        ReliabilityUnit,
        choice(
            ReliabilityUnit,
            "--unit",
            help="segment, sentence, or character (unitized alpha on the coders' spans).",
        ),
    ] = ReliabilityUnit.segment,
    level: Annotated[
        Level,
        choice(
            Level,
            "--level",
            help="Presence/absence of a code is nominal (binary), so alpha is the same at every level; "
            "see 'qualkam agreement' for rated data.",
        ),
    ] = Level.nominal,
    replicates: Replicates = 0,
    seed: Seed = 0,
    minimum: Minimum = 0.667,
    distance: Annotated[
        Distance, choice(Distance, "--distance", help="Overall alpha over code sets: masi or jaccard.")
    ] = Distance.masi,
    fmt: Annotated[
        TableFormat | None,
        choice(TableFormat, "--format", "-f", help="table, json or csv. Default: table, or from the --out suffix."),
    ] = None,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write json or csv to this file.")] = None,
    sources: Sources = None,
    speakers: Speakers = None,
    phases: Phases = None,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Agreement per code and overall: percent agreement, kappas, AC1, Krippendorff's alpha."""
    chosen = choose_format(value_of(fmt), out_file, ("table", "json", "csv")) if (fmt or out_file) else "table"
    with Project.open(project) as store:
        report = reliability(
            store,
            listed(coders) or None,
            listed(codes) or None,
            unit.value,
            replicates,
            seed,
            minimum,
            distance.value,
            sources=sources or (),
            speakers=speakers or (),
            phases=phases or (),
        )
        machine = newest_machine_agreement(store) if not (coders or codes or sources or speakers or phases) else None
    if level is not Level.nominal:
        report.notes.append(f"--level {level.value}: presence/absence is binary, so alpha is the same at every level")
    if chosen == "table" and out_file is None:
        out.print(_table(report))
        if replicates and "alpha_low" in report.per_code.columns:
            out.print(_bootstrap_table(report, minimum, replicates, seed))
        overall = report.overall
        if "krippendorff_alpha_sets" in overall:
            out.print(
                f"overall: Krippendorff's alpha over the set of codes per unit ({overall['distance'].upper()}) "
                f"= {number(overall['krippendorff_alpha_sets'])} ({overall['interpretation'] or DASH}), "
                f"{overall['n_units']} units, {overall['n_codes']} codes",
                soft_wrap=True,
            )
        else:
            out.print(
                f"overall: unitized alpha, any code vs none = {number(overall['unitized_alpha_binary'])}; "
                f"joint over codes = {number(overall['unitized_alpha_joint'])}",
                soft_wrap=True,
            )
        out.print(
            "α: ≥ .800 reliable, ≥ .667 tentative conclusions only (Krippendorff 2004); κ bands after "
            "Landis & Koch (1977); ! beside κ = so rare (or common) a code that κ is unstable (the kappa "
            "paradox): read AC1 and α",
            style="dim",
            soft_wrap=True,
        )
        if machine is not None:
            from qualkam.cli.train import MACHINE_NOTE, machine_table

            out.print(machine_table(*machine))
            out.print(MACHINE_NOTE, style="dim", soft_wrap=True)
        for note in report.notes:
            err.print(f"note: {escape(note)}", soft_wrap=True)
        return
    if chosen == "json":
        found = report.as_dict()
        if machine is not None:  # apart from people's figures, never one of their coders
            found["machine"] = {"model": machine[0], "from": machine[1], "per_person": machine[2]}
        write_text(json_text(found), out_file)
        return
    write_text(frame_csv(report.per_code), out_file)
