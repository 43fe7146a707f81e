"""``qualkam train``, ``code --suggest`` and ``review --order`` from the command line, and a
smoke run of bench/train.py on small sizes."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from qualkam.cli import app
from qualkam.coding.learn import latest_thresholds
from qualkam.store.project import Project
from qualkam.store.segments import codings

from .conftest import ROOT, said
from .test_learn import build_project, logit


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train-cli")
    build_project(root)
    return root


@pytest.fixture
def db(base: Path, tmp_path: Path) -> Path:
    target = tmp_path / "project.db"
    shutil.copy(base / "project.db", target)
    return target


def _train(runner: CliRunner, db: Path, *extra: str):
    return runner.invoke(
        app, ["train", "--from", "coder:ana", "--folds", "3", "--epochs", "2", "--project", str(db), *extra]
    )


def test_train_prints_held_out_figures_and_lists_skipped_codes(runner: CliRunner, db: Path) -> None:
    result = _train(runner, db)
    assert result.exit_code == 0, result.output
    assert "qualkam train · from coder:ana · model 1 · 2 code(s) trained, 1 skipped" in result.output
    assert "held out · 3 folds by source · 48 segments, 6 sources" in result.output
    for words in ("budget (18) ·", "trust (18) ·", "formal · micro", "post_bureaucratic · macro", "all codes · micro"):
        assert words in result.output
    assert "1 code(s) skipped, fewer than 5 positive segments: rare (2)" in result.output
    again = _train(runner, db, "--format", "json")
    metrics = json.loads(again.stdout)
    assert again.exit_code == 0 and metrics["model"] == 2 and set(metrics["per_code"]) == {"budget", "trust"}


def test_train_errors_are_clear(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--from", "coder:nobody", "--project", str(db)])
    # The core names its argument (layer); the CLI's error boundary words it as the flag, --from.
    assert result.exit_code == 2 and re.search(
        r"unknown coder 'nobody' in (--from|layer); choose from: ana", result.output
    )
    result = runner.invoke(app, ["train", "--min-examples", "0", "--project", str(db)])
    assert result.exit_code == 2 and re.search(r"(--min-examples|min_examples) must be at least 1", result.output)
    result = runner.invoke(app, ["train", "--project", str(tmp_path / "missing.db")])
    assert result.exit_code == 2 and "no qualkam project" in result.output


def _options(name: str) -> dict[str, str]:
    """The command's parameter names and their first flag."""
    group = typer.main.get_command(app)
    command = group.get_command(typer.Context(group), name)
    assert command is not None
    return {str(p.name): p.opts[0] for p in command.params}


def test_cli_parameters_are_named_as_the_core_arguments() -> None:
    """So the error boundary can word a core error's argument as the flag (issue 12)."""
    assert {"layer": "--from", "min_examples": "--min-examples", "folds": "--folds", "epochs": "--epochs"}.items() <= (
        _options("train").items()
    )
    assert {"against": "--against", "suggest": "--suggest", "codes": "--code"}.items() <= _options("evaluate").items()


def test_code_suggest_model_without_a_model_exits_2(runner: CliRunner, base: Path, db: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "code",
            str(base / "src"),
            "-c",
            str(base / "book.yaml"),
            "--project",
            str(db),
            "--out",
            str(tmp_path / "out"),
            "--suggest",
            "model",
        ],
    )
    assert result.exit_code == 2
    assert "run qualkam train first" in result.output


def test_code_suggest_both_then_review_least_sure_first(
    runner: CliRunner, base: Path, db: Path, tmp_path: Path
) -> None:
    assert _train(runner, db).exit_code == 0
    result = runner.invoke(
        app,
        [
            "code",
            str(base / "src"),
            "-c",
            str(base / "book.yaml"),
            "--project",
            str(db),
            "--out",
            str(tmp_path / "out"),
            "--suggest",
            "both",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "suggestions: both (model 1)" in result.output
    excerpts = (tmp_path / "out" / "excerpts.csv").read_text(encoding="utf-8")
    assert ",model,suggested," in excerpts and "[model:similar: segment " in excerpts
    with Project.open(db) as project:
        thresholds = latest_thresholds(project)
        suggested = codings(project, "suggestions")
        least = min(
            suggested[suggested["origin"] == "model"].sort_values("coding").to_dict("records"),
            key=lambda r: abs(logit(r["score"]) - logit(thresholds[r["code"]])),
        )
    review = runner.invoke(app, ["review", "--coder", "zoe", "--order", "uncertain", "--project", str(db)], input="q\n")
    assert review.exit_code == 0, review.output
    first = review.output.split("╰")[0]
    assert "1/" in first and f"· {least['source']} ·" in first
    assert f"▶ {least['code']} — " in first and f"({least['score']:.2f} model)" in first
    assert "similar (" in first, "the similar segments a person coded are shown"
    reading = runner.invoke(app, ["review", "--coder", "zoe", "--project", str(db)], input="q\n")
    assert "· int-1 ·" in reading.output.split("╰")[0], "the default order is unchanged: reading order"
    bad = runner.invoke(app, ["review", "--coder", "zoe", "--order", "random", "--project", str(db)], input="q\n")
    assert bad.exit_code == 2  # a usage error, in Typer's box
    assert "'--order': unknown order 'random'; choose from: reading, uncertain" in said(bad.output)


def test_bench_script_runs_on_small_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_train", ROOT / "bench" / "train.py")
    bench = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(bench)
    code = bench.main(
        ["--coded", "150", "--codes", "6", "--words", "3000", "--folds", "2", "--epochs", "1", "--repeats", "1"]
    )
    output = capsys.readouterr().out
    assert code in (0, 1), "1 only when a speed or time target is missed, which small sizes may do"
    assert "qualkam train benchmark: 150 coded segments, 6 codes" in output
    assert "cross-validated micro F1: rules / model" in output and "speed with the model / rules alone" in output
