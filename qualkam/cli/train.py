"""``qualkam train``: learn suggestions from people's codings, with honest held-out figures.

The work is in qualkam/learn.py; this wrapper parses options, shows progress on stderr and
prints the cross-validated figures on stdout. Codes skipped for too few examples are
listed on stderr and do not change the exit code (0): a rare code is expected, not a fault in
the input; ``qualkam code --suggest rules`` still covers it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from ..learn import DEFAULT_EPOCHS, GROUPING, TrainResult, train
from ..store import DEFAULT_PROJECT, Project
from .app import EXIT_OK, app
from .console import err, out


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _prf(figures: dict[str, Any] | None) -> list[str]:
    if figures is None:
        return ["—", "—", "—"]
    return [_num(figures.get("precision")), _num(figures.get("recall")), _num(figures.get("f1"))]


def metrics_table(result: TrainResult) -> Table:
    """Per code, per group and overall: rules vs model, precision / recall / F1, held out."""
    m = result.metrics
    table = Table(title=f"cross-validated by source · {m['folds']} folds · {result.segments} segments of "
                        f"{result.sources} sources", header_style="bold")
    for name, justify in (("code", "left"), ("group", "left"), ("pos", "right"), ("rules P", "right"),
                          ("R", "right"), ("F1", "right"), ("model P", "right"), ("R", "right"), ("F1", "right"),
                          ("thr", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for code, row in m["per_code"].items():
        table.add_row(escape(code), escape(row["group"]), str(row["positives"]), *_prf(row["rules"]),
                      *_prf(row["model"]), f"{row['threshold']:.2f}")
    table.add_section()
    for group, row in m["per_group"].items():
        for kind in ("micro", "macro"):
            rules = row["rules"][kind] if row["rules"] else None
            model = row["model"][kind] if row["model"] else None
            table.add_row(f"[bold]{escape(group)}[/] {kind}", f"{len(row['codes'])} codes", "", *_prf(rules),
                          *_prf(model), "")
    table.add_section()
    overall = m["overall"]
    for kind in ("micro", "macro"):
        rules = overall["rules"][kind] if overall["rules"] else None
        table.add_row(f"[bold]all codes {kind}[/]", "", "", *_prf(rules), *_prf(overall["model"][kind]), "")
    return table


@app.command("train")
def train_cli(
    source_layer: str = typer.Option("human", "--from", help="Whose codings to learn from: human (every person), "
                                     "consensus, or coder:NAME."),
    min_examples: int = typer.Option(5, "--min-examples", help="Skip codes with fewer positive segments than this."),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds, split by source."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same data and seed give the same model."),
    epochs: int = typer.Option(DEFAULT_EPOCHS, "--epochs", help="Passes over the training segments."),
    as_json: bool = typer.Option(False, "--json", help="Print the stored metrics as JSON on stdout."),
    project: Path = typer.Option(Path(DEFAULT_PROJECT), "--project", "-p", help="Project store file."),
) -> None:
    """Train a text classifier on people's codings; report held-out precision, recall and F1 vs the rules."""
    with Project.open(project) as store:
        result = train(store, layer=source_layer, min_examples=min_examples, folds=folds, seed=seed, epochs=epochs,
                       progress=lambda message: err.print(f"training: {message}", highlight=False))
    if result.skipped:
        listed = ", ".join(f"{code} ({n})" for code, n in result.skipped.items())
        err.print(f"note: {len(result.skipped)} code(s) skipped, fewer than {min_examples} positive segments: "
                  f"{escape(listed)}", soft_wrap=True)
    if result.retired:
        err.print(f"note: retired code(s) not trained: {escape(', '.join(result.retired))}", soft_wrap=True)
    if as_json:
        out.print_json(json.dumps({"model": result.model_id, **result.metrics}))
        raise typer.Exit(EXIT_OK)
    out.print(f"[bold]qualkam train[/] · from {escape(result.layer)} · model {result.model_id} · "
              f"{len(result.codes)} code(s) trained, {len(result.skipped)} skipped · {result.seconds:.1f} s",
              soft_wrap=True)
    if not result.metrics["rule_suggestions_on_these_segments"]:
        out.print("no rule suggestions are stored on these segments, so the rules column is empty "
                  "(run 'qualkam code DIR' to compare)", soft_wrap=True)
    out.print(metrics_table(result))
    out.print(f"groups: {GROUPING}. Model figures: each test fold scored with a calibration and threshold fitted "
              "on the other folds. Suggest with: qualkam code DIR --suggest model|both", soft_wrap=True)
    raise typer.Exit(EXIT_OK)
