"""``qualkam train``: learn suggestions from people's codings, with honest held-out figures.

The work is in qualkam/coding/learn/; this wrapper parses options, shows progress on stderr and
prints the cross-validated figures on stdout. Codes skipped for too few examples are
listed on stderr and do not change the exit code (0): a rare code is expected, not a fault in
the input; ``qualkam code --suggest rules`` still covers it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from qualkam.cli.app import EXIT_OK, app
from qualkam.cli.console import err, out
from qualkam.cli.options import JsonFormat, ProjectFile, choice
from qualkam.coding.learn import DEFAULT_EPOCHS, MIN_PRECISION, Curve, TrainResult, learning_curve, train
from qualkam.coding.learn.prior import CODEBOOK, PRIOR_K, ZERO_SHOT_FLOOR, train_zero_shot
from qualkam.render.number import DASH, number
from qualkam.store.project import DEFAULT_PROJECT, Project


def _prf(figures: dict[str, Any] | None) -> list[str]:
    if figures is None:
        return [DASH, DASH, DASH]
    return [number(figures.get(name), places=2) for name in ("precision", "recall", "f1")]


def _columns(table: Table, first: str) -> None:
    table.add_column(first, no_wrap=True)
    for name in ("rules\nP", "\nR", "\nF1", "model\nP", "\nR", "\nF1"):
        table.add_column(name, justify="right", min_width=6)


def code_table(result: TrainResult) -> Table:
    """Per code, grouped: held-out precision, recall and F1 of the rules and of the model."""
    m = result.metrics
    table = Table(
        title=f"held out · {m['folds']} folds by source · {result.segments} segments, {result.sources} sources",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
        header_style="bold",
    )
    _columns(table, "code (positives) · threshold")
    for group, row in m["per_group"].items():
        table.add_row(f"[bold]{escape(group)}[/]")
        for code in row["codes"]:
            figures = m["per_code"][code]
            table.add_row(
                f"  {escape(code)} ({figures['positives']}) · {figures['threshold']:.2f}",
                *_prf(figures["rules"]),
                *_prf(figures["model"]),
            )
    return table


def group_table(result: TrainResult) -> Table:
    """Per code group and over all codes: micro (pooled counts) and macro (mean of codes)."""
    m = result.metrics
    table = Table(title="per group", box=box.SIMPLE_HEAD, padding=(0, 0), header_style="bold")
    _columns(table, "group · average")
    rows = [(group, row["rules"], row["model"]) for group, row in m["per_group"].items()]
    rows.append(("all codes", m["overall"]["rules"], m["overall"]["model"]))
    for name, rules, model in rows:
        for kind in ("micro", "macro"):
            table.add_row(
                f"{'[bold]' if name == 'all codes' else ''}{escape(name)} · {kind}"
                f"{'[/]' if name == 'all codes' else ''}",
                *_prf(rules[kind] if rules else None),
                *_prf(model[kind] if model else None),
            )
    return table


def machine_table(model_id: int, layer: str, figures: dict[str, dict[str, Any]]) -> Table:
    """The machine as a coder: per person and code, Cohen's kappa and Krippendorff's alpha of the
    model's held-out suggestions against the person's codings; ! where kappa is near chance."""
    table = Table(
        title=f"the machine (model {model_id}, from {layer}, held out) against each person",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        header_style="bold",
    )
    for name, justify in (("person", "left"), ("code", "left"), ("person's", "right"), ("machine's", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("κ", justify="right")
    table.add_column("α", justify="right")
    for person, codes in figures.items():
        for code, row in codes.items():
            flag = " !" if row["near_chance"] else ""
            table.add_row(
                escape(person),
                escape(code),
                str(row["person"]),
                str(row["machine"]),
                number(row["kappa"], places=2) + flag,
                number(row["alpha"], places=2),
            )
    return table


MACHINE_NOTE = (
    "person's / machine's: segments each coded with the code, on the sources the person has seen; "
    "! = κ below 0.2, near chance: there the machine's suggestions tell little. The machine is never "
    "one of the coders in people's agreement."
)


def curve_table(curve: Curve) -> Table:
    """The learning curve: per step, how much the model learnt from and its held-out figures."""
    table = Table(
        title=f"learning curve · held out · {curve.folds} folds by source · {len(curve.codes)} code(s)",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        header_style="bold",
    )
    for name in ("training sources", "segments", "coded", "micro P", "R", "F1", "macro F1"):
        table.add_column(name, justify="right")
    for point in curve.points:
        table.add_row(
            f"{point.share:.0%} · {point.sources:.1f}",
            f"{point.segments:.0f}",
            f"{point.coded:.0f}",
            *_prf(point.micro),
            number(point.macro.get("f1"), places=2),
        )
    if curve.rules is not None:
        table.add_row(
            "the rules", "", "", *_prf(curve.rules["micro"]), number(curve.rules["macro"].get("f1"), places=2)
        )
    return table


def _zero_shot(path: Path, floor: float, as_json: bool) -> None:
    """``--from codebook``: store the model from the codebook alone and say what it will do."""
    with Project.open(path) as store:
        result = train_zero_shot(store, floor)
    if as_json:
        out.print_json(json.dumps({"model": result.model_id, **asdict(result)}))
        raise typer.Exit(EXIT_OK)
    out.print(
        f"[bold]qualkam train[/] · from the codebook alone · model {result.model_id} · {len(result.codes)} code(s) "
        f"from {sum(result.texts.values())} codebook texts · {result.segments} segments · {result.seconds:.1f} s",
        soft_wrap=True,
    )
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), header_style="bold")
    table.add_column("code")
    table.add_column("texts (label, definition, include, examples)", justify="right")
    for code, n in result.texts.items():
        table.add_row(escape(code), str(n))
    out.print(table)
    if result.without_text:
        err.print(
            f"note: {len(result.without_text)} code(s) have no text to match and are not suggested: "
            f"{escape(', '.join(result.without_text))}",
            soft_wrap=True,
        )
    out.print(
        f"No held-out figures: nobody's codings were read. Rule: {escape(result.rule)}. Each suggestion shows "
        "the codebook texts it matched. Once people have coded, 'qualkam train --from human' measures and "
        "calibrates. Next: qualkam code DIR --suggest model|both",
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_OK)


def _curve_steps(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"{text!r}: give shares such as 0.25,0.5,0.75,1", param_hint="--steps") from None


@app.command("train")
def train_cli(
    layer: Annotated[
        str,
        typer.Option(
            "--from",
            help="Whose codings to learn from: human (every person, the consensus coder included), "
            "consensus, or coder:NAME; codebook: no codings, the codebook's definitions, rules and examples alone.",
        ),
    ] = "human",
    min_examples: Annotated[
        int, typer.Option("--min-examples", help="Skip codes with fewer positive segments than this.")
    ] = 5,
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds, split by source.")] = 5,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed: the same data and seed give the same model.")
    ] = 0,
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over the training segments.")] = DEFAULT_EPOCHS,
    fmt: Annotated[
        JsonFormat, choice(JsonFormat, "--format", "-f", help="table, or json: the stored metrics on stdout.")
    ] = JsonFormat.table,
    as_json: Annotated[
        bool, typer.Option("--json", hidden=True, help="The same as --format json (kept for old scripts).")
    ] = False,
    min_precision: Annotated[
        float,
        typer.Option(
            "--min-precision",
            min=0.0,
            max=1.0,
            help="Suggest a code only at a score where its held-out precision is at least this.",
        ),
    ] = MIN_PRECISION,
    curve: Annotated[
        bool,
        typer.Option(
            "--curve",
            help="Print the learning curve (held-out figures against the coded segments learnt from); stores no model.",
        ),
    ] = False,
    steps: Annotated[
        str, typer.Option("--steps", help="With --curve: shares of each fold's training sources.")
    ] = "0.25,0.5,0.75,1",
    codebook_weight: Annotated[
        float,
        typer.Option(
            "--codebook-weight",
            min=0.0,
            help="The codebook's texts join people's codings: each weighs K/(K+n) segments for a code coded "
            "n times, so it fades as people code; 0: people's codings only.",
        ),
    ] = PRIOR_K,
    floor: Annotated[
        float,
        typer.Option(
            "--floor",
            min=0.0,
            max=1.0,
            help="With --from codebook: suggest a segment's best-matching code only when its similarity "
            "to the codebook text reaches this.",
        ),
    ] = ZERO_SHOT_FLOOR,
    embeddings: Annotated[
        bool,
        typer.Option(
            "--embeddings",
            help='Add a classifier on offline sentence embeddings (needs pip install "qualkam\\[embeddings]"); '
            "suggesting with the model then needs them too.",
        ),
    ] = False,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Train a text classifier on people's codings; report held-out precision, recall and F1 vs the rules."""
    if layer == CODEBOOK and not curve:
        _zero_shot(project, floor, as_json or fmt is JsonFormat.json)

    def progress(message: str) -> None:
        err.print(f"training: {escape(message)}", highlight=False)

    # What both the curve and a training run are given.
    settings: dict[str, Any] = {
        "layer": layer,
        "min_examples": min_examples,
        "folds": folds,
        "seed": seed,
        "epochs": epochs,
        "progress": progress,
        "min_precision": min_precision,
        "prior_k": codebook_weight or None,
        "embeddings": embeddings,
    }
    if curve:
        with Project.open(project) as store:
            found = learning_curve(store, steps=_curve_steps(steps), **settings)
        if as_json or fmt is JsonFormat.json:
            out.print_json(json.dumps(asdict(found)))
            raise typer.Exit(EXIT_OK)
        out.print(curve_table(found))
        out.print(
            "Each step fits the model on that share of every fold's training sources and scores the same "
            "held-out sources; when F1 still rises at 100%, coding more sources should help.",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_OK)
    with Project.open(project) as store:
        result = train(store, **settings)
    if result.skipped:
        listed = ", ".join(f"{code} ({n})" for code, n in result.skipped.items())
        err.print(
            f"note: {len(result.skipped)} code(s) skipped, fewer than {min_examples} positive segments: "
            f"{escape(listed)}",
            soft_wrap=True,
        )
    if result.metrics.get("not_suggested"):
        listed = ", ".join(result.metrics["not_suggested"])
        err.print(
            f"note: {len(result.metrics['not_suggested'])} code(s) will not be suggested by the model: no score "
            f"reaches a held-out precision of {min_precision:g}: {escape(listed)}",
            soft_wrap=True,
        )
    if result.retired:
        err.print(f"note: retired code(s) not trained: {escape(', '.join(result.retired))}", soft_wrap=True)
    if as_json or fmt is JsonFormat.json:
        out.print_json(json.dumps({"model": result.model_id, **result.metrics}))
        raise typer.Exit(EXIT_OK)
    out.print(
        f"[bold]qualkam train[/] · from {escape(result.layer)} · model {result.model_id} · "
        f"{len(result.codes)} code(s) trained, {len(result.skipped)} skipped · {result.seconds:.1f} s",
        soft_wrap=True,
    )
    if not result.metrics["rule_suggestions_on_these_segments"]:
        out.print(
            "no rule suggestions are stored on these segments, so the rules column is empty "
            "(run 'qualkam code DIR' to compare)",
            soft_wrap=True,
        )
    out.print(code_table(result))
    out.print(group_table(result))
    if result.metrics.get("machine"):
        out.print(machine_table(result.model_id, result.layer, result.metrics["machine"]))
        out.print(MACHINE_NOTE, style="dim", soft_wrap=True)
    out.print(
        f"groups: {escape(str(result.metrics.get('grouping')))}. The model's figures score each test fold with a "
        "calibration and threshold fitted on the other folds only. Next: qualkam code DIR --suggest model|both",
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_OK)
