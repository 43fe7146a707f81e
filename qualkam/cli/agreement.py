"""``qualkam agreement``: every agreement coefficient for a long CSV of ratings, as a table,
CSV or one JSON object."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from qualkam.agreement import (
    COEFFICIENTS,
    AgreementResult,
    BootstrapResult,
    bootstrap,
    coefficients,
    interpret_alpha,
    interpret_kappa,
    long_to_ratings,
    read_long,
)
from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import Level, Minimum, Replicates, Seed, TableFormat, choice, listed
from qualkam.render.cells import frame_csv
from qualkam.render.files import json_text
from qualkam.render.number import missing, number

LABELS = {
    "percent_agreement": "percent agreement",
    "cohen_kappa": "Cohen's kappa",
    "scott_pi": "Scott's pi",
    "fleiss_kappa": "Fleiss' kappa",
    "brennan_prediger": "Brennan & Prediger",
    "gwet_ac1": "Gwet's AC1",
    "krippendorff_alpha": "Krippendorff's alpha",
}


@app.command("agreement")
def agreement_cli(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with one row per unit x coder (values may be numbers or labels; empty or NA = missing)."
        ),
    ],
    unit: Annotated[str, typer.Option("--unit", help="Column naming the unit (segment, item, case).")] = "unit",
    coder: Annotated[str, typer.Option("--coder", help="Column naming the coder.")] = "coder",
    value: Annotated[str, typer.Option("--value", help="Column with the value the coder gave the unit.")] = "value",
    level: Annotated[
        Level,
        choice(
            Level,
            "--level",
            help="Level of measurement for Krippendorff's alpha; the kappa family is always nominal.",
        ),
    ] = Level.nominal,
    categories: Annotated[
        list[str] | None,
        typer.Option(
            "--category",
            "--categories",
            help="A possible category; repeat for every one, lowest to highest for ordinal labels "
            "(the old comma form a,b,c works too); default: the values seen.",
        ),
    ] = None,
    replicates: Replicates = 0,
    seed: Seed = 0,
    minimum: Minimum = 0.667,
    fmt: Annotated[
        TableFormat, choice(TableFormat, "--format", "-f", help="table, csv, or json (one object) on stdout.")
    ] = TableFormat.table,
) -> None:
    """Agreement between coders on one variable: percent agreement, Cohen's kappa, Scott's pi,
    Fleiss' kappa, Brennan & Prediger, Gwet's AC1 and Krippendorff's alpha (docs/agreement.md)."""
    frame = read_long(file, unit=unit, coder=coder, value=value, level=level.value)
    ratings = long_to_ratings(frame)
    given = listed(categories) or None
    result = coefficients(ratings, level=level.value, categories=given)
    boot = None
    if replicates:
        boot = bootstrap(
            ratings, level=level.value, replicates=replicates, seed=seed, minimum=minimum, categories=given
        )
    if fmt is TableFormat.json:
        record = result.as_dict()
        if boot is not None:
            record["bootstrap"] = boot.as_dict()
        typer.echo(json_text(record, indent=2), nl=False)
        return
    rows = _rows(result, boot)
    if fmt is TableFormat.csv:
        typer.echo(frame_csv(rows), nl=False)
        return
    out.print(_table(rows, result, file))
    _status(result, boot)


def _interpretation(name: str, value: float | None) -> str:
    if value is None:
        return ""
    if name == "percent_agreement":
        return "not chance-corrected"
    return interpret_alpha(value) if name == "krippendorff_alpha" else interpret_kappa(value)


def _rows(result: AgreementResult, boot: BootstrapResult | None) -> pd.DataFrame:
    """One row per coefficient: value, interpretation, the bootstrap interval, and why it is missing."""
    rows = []
    for name in COEFFICIENTS:
        value = getattr(result, name)
        row = {"coefficient": name, "value": value, "interpretation": _interpretation(name, value)}
        if boot is not None:
            low = high = None
            if name == "krippendorff_alpha":
                low, high = boot.alpha_low, boot.alpha_high
            elif name == boot.kappa_name:
                low, high = boot.kappa_low, boot.kappa_high
            row["ci_low"], row["ci_high"] = low, high
        row["note"] = result.notes.get(name, "")
        rows.append(row)
    return pd.DataFrame(rows)


def _table(rows: pd.DataFrame, result: AgreementResult, file: Path) -> Table:
    """Each coefficient with its interpretation beside it; where there is no value, the reason."""
    title = f"agreement · {file.name} · {result.n_units} units · {result.n_coders} coders · {result.level}"
    table = Table(title=escape(title), header_style="bold")
    table.add_column("coefficient", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    if "ci_low" in rows:
        table.add_column("95% interval", justify="right", no_wrap=True)
    table.add_column("interpretation", overflow="fold")
    for row in rows.to_dict("records"):
        cells = [LABELS[row["coefficient"]], number(row["value"])]
        if "ci_low" in row:
            cells.append("" if missing(row["ci_low"]) else f"{number(row['ci_low'])} – {number(row['ci_high'])}")
        cells.append(escape(row["interpretation"]) if row["interpretation"] else f"[dim]{escape(row['note'])}[/]")
        table.add_row(*cells)
    return table


def _status(result: AgreementResult, boot: BootstrapResult | None) -> None:
    """What the numbers rest on, on stderr: pairable units, the level, the paradox, the bootstrap."""
    lines = [
        f"{result.n_pairable} of {result.n_units} units have values from two coders or more "
        f"({result.n_values} pairable values); categories: {', '.join(map(str, result.categories[:12]))}"
        f"{' ...' if len(result.categories) > 12 else ''}"
    ]
    if result.level != "nominal":
        lines.append(
            f"alpha uses the {result.level} level; the kappa family, AC1 and percent agreement compare "
            "the values as nominal categories"
        )
    if result.paradox:
        lines.append(f"warning: {result.paradox}")
    if boot is not None:
        if boot.p_alpha_below_minimum is not None:
            lines.append(
                f"bootstrap: {boot.replicates} replicates, seed {boot.seed}; alpha by Hayes & Krippendorff "
                f"(2007), {boot.draws} pairs a replicate; {LABELS.get(boot.kappa_name or '', 'kappa')} "
                "by resampling units; "
                f"p(alpha < {boot.minimum:g}) = {boot.p_alpha_below_minimum:.4f}"
            )
        lines += [f"bootstrap: {why}" for why in boot.notes.values()]
    for line in lines:
        err.print(escape(line), soft_wrap=True)
