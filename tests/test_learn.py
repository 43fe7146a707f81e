"""Learned suggestions (issue 6): training data, folds by source, calibration, storage, use.

A tiny project, written here: six interviews whose turns talk plainly about budgets, about
trust, or about the weather; one person (ana) codes them; a seventh interview nobody has
read. Training is kept small (three folds, two epochs) so the module runs in seconds.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qualkam.coding.codebook import load_codebook
from qualkam.coding.decisions import Action, decide
from qualkam.coding.evaluate import evaluate
from qualkam.coding.learn import (
    DEFAULT_THRESHOLD,
    NoModelError,
    assign_folds,
    best_threshold,
    calibrate,
    cross_validate,
    latest_thresholds,
    load_model,
    platt,
    train,
    training_set,
)
from qualkam.coding.review import Filters, build_queue
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.render.outputs import excerpts_frame
from qualkam.store.audit import audit_table
from qualkam.store.models import StoredModel, model_rows, stored_model
from qualkam.store.project import Project
from qualkam.store.review import model_scores
from qualkam.store.segments import codings, segments
from qualkam.store.sources import counts

from .conftest import ROOT, write

CODEBOOK = """\
name: Learn test codebook
version: "1"
compare: [pole]
codes:
  - id: talk
    label: Workplace talk
    children:
      - id: budget
        label: Budget talk
        attributes: {pole: formal}
        patterns:
          lemmas: [budget]
      - id: trust
        label: Trust talk
        attributes: {pole: post_bureaucratic}
        patterns:
          lemmas: [gut feeling]
  - id: rare
    label: A rare code
"""

WORDS = {
    "budget": ["budget", "spreadsheet", "forecast", "invoice", "cost", "quarterly", "figures", "margin"],
    "trust": ["trust", "friendly", "relationship", "rapport", "honest", "gut", "feeling", "loyal"],
    None: ["weather", "lunch", "parking", "holiday", "train", "coffee", "weekend", "garden"],
}
FILLER = "we said that it was in the office and then they had a chat about it".split()
KINDS = ["budget", "trust", None, "budget", "trust", None, "budget", "trust"]
SOURCES = [f"int-{n}" for n in range(1, 8)]  # int-7 is never read by anyone


def _turn(rng: random.Random, kind: str | None) -> str:
    words = rng.sample(FILLER, 8) + rng.sample(WORDS[kind], 3)
    rng.shuffle(words)
    return " ".join(words).capitalize() + "."


def build_project(root: Path) -> Path:
    """Code the folder with the rules, then let ana code int-1..int-6 (not int-7)."""
    rng = random.Random(7)
    for source in SOURCES:
        turns = "\n\n".join(f"{'Ann' if i % 2 else 'Bob'}: {_turn(rng, kind)}" for i, kind in enumerate(KINDS))
        write(root / "src" / f"{source}.md", f"---\nid: {source}\ntype: interview\n---\n{turns}\n")
    (root / "book.yaml").write_text(CODEBOOK, encoding="utf-8")
    db = root / "project.db"
    with Project.open(db, create=True) as project:
        code_folder(root / "src", load_codebook(root / "book.yaml"), project, out_dir=None)
        segments = _segments(project)
        suggested = codings(project, "suggestions")
        for seg in segments:
            if seg["source_id"] == "int-7":
                continue
            kind = KINDS[seg["position"]]
            if kind:
                decide(project, "ana", seg["id"], kind, Action.add)
            else:
                for code in suggested.loc[suggested["segment"] == seg["id"], "code"]:
                    decide(project, "ana", seg["id"], code, Action.reject)
        for seg in segments[:2]:  # two examples only: too few to learn
            decide(project, "ana", seg["id"], "rare", Action.add)
    return db


def _model(project: Project, model_id: int) -> StoredModel:
    stored = stored_model(project, model_id)
    assert stored is not None, f"no model {model_id}"
    return stored


def _segments(project: Project) -> list[dict[str, Any]]:
    """Every segment's id, source and position, in source and reading order."""
    frame = segments(project)
    return [{"id": int(r.segment), "source_id": r.source, "position": int(r.position)} for r in frame.itertuples()]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("learn")
    build_project(root)
    return root


@pytest.fixture(scope="module")
def trained(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The base project with one model (trained once for the module)."""
    db = tmp_path_factory.mktemp("trained") / "project.db"
    shutil.copy(base / "project.db", db)
    with Project.open(db) as project:
        train(project, layer="coder:ana", folds=3, epochs=2)
    return db


@pytest.fixture
def copy(tmp_path: Path):
    """A writable copy of a module-level project."""

    def make(source: Path) -> Path:
        target = tmp_path / "project.db"
        shutil.copy(source, target)
        return target

    return make


def test_training_set_counts_seen_sources_only_and_skips_rare_codes(base: Path) -> None:
    with Project.open(base / "project.db") as project:
        data = training_set(project, "coder:ana", min_examples=5)
    assert set(data.segments["source"]) == set(SOURCES[:6]), "int-7 was never read: not a negative"
    assert len(data.segments) == 6 * len(KINDS)
    assert data.codes == ["budget", "trust"]
    assert data.skipped == {"rare": 2}
    budget = data.labels[:, 0].astype(bool)
    kinds = [KINDS[p] for p in data.segments["position"]]
    assert budget.tolist() == [k == "budget" for k in kinds], "uncoded and rejected segments are negatives"


def test_unknown_layer_or_coder_is_a_clear_error(base: Path) -> None:
    with Project.open(base / "project.db") as project:
        with pytest.raises(QualkamError, match="unknown layer 'people' in layer; choose from: human, consensus, coder"):
            training_set(project, "people")
        with pytest.raises(QualkamError, match="unknown coder 'bob' in layer; choose from: ana"):
            training_set(project, "coder:bob")
        with pytest.raises(QualkamError, match="no code has 50 or more positive segments"):
            training_set(project, "coder:ana", min_examples=50)


def test_library_errors_name_arguments_not_flags(base: Path) -> None:
    """A notebook user calling train(min_examples=0) is told about min_examples, not about a
    command-line flag they do not have (issue 12); the CLI words the same error as its flag."""
    with Project.open(base / "project.db") as project:
        for kwargs, argument, message in [
            ({"min_examples": 0}, "min_examples", "min_examples must be at least 1"),
            ({"epochs": 0}, "epochs", "epochs must be at least 1"),
            ({"folds": 1}, "folds", "folds must be at least 2"),
            ({"min_examples": 50}, "min_examples", "code more segments, or lower min_examples"),
            ({"layer": "coder:bob"}, "layer", "unknown coder 'bob' in layer; choose from: ana"),
            ({"layer": "auto"}, "layer", "unknown layer 'auto' in layer; choose from: human, consensus, coder:NAME"),
        ]:
            with pytest.raises(QualkamError) as caught:
                train(project, **{"layer": "coder:ana", **kwargs})
            assert message in str(caught.value) and caught.value.argument == argument
            assert "--" not in str(caught.value)
        with pytest.raises(QualkamError) as caught:
            training_set(project, "coder:ana", min_examples=0)
        assert caught.value.worded("--min-examples") == "--min-examples must be at least 1", "as the CLI shows it"


def _layer_codings(project: Project, layer: str) -> set[tuple[int, str]]:
    """The (segment, code) pairs of ``layer``, read as matrix and excerpts read them."""
    frame = codings(project, layer)
    return {(int(s), str(c)) for s, c in zip(frame["segment"], frame["code"], strict=True)}


def test_training_layer_holds_the_codings_of_the_shared_layer(base: Path, copy) -> None:
    """Issue 12: one layer, one set of codings. The positives train learns from are the
    codings Layer.sql gives, on the sources the layer has seen; ``human`` includes the
    consensus coder, as everywhere else."""
    db = copy(base / "project.db")
    with Project.open(db) as project:
        segments = _segments(project)
        for seg in segments:
            kind = KINDS[seg["position"]]
            if seg["source_id"] == "int-2" and kind:
                decide(project, "ben", seg["id"], "budget", Action.add)
            if seg["source_id"] == "int-3" and seg["position"] == 2:
                decide(project, "consensus", seg["id"], "trust", Action.add)
        for layer in ("coder:ana", "coder:ben", "consensus", "human"):
            data = training_set(project, layer, min_examples=1)
            seen = set(data.segments["source"])
            learned = {
                (int(seg), code)
                for i, seg in enumerate(data.segments["segment"])
                for j, code in enumerate(data.codes)
                if data.labels[i, j]
            }
            source_of = {r["id"]: r["source_id"] for r in segments}
            expected = {(s, c) for s, c in _layer_codings(project, layer) if source_of[s] in seen and c in data.codes}
            assert learned == expected, layer
        human = training_set(project, "human", min_examples=1)
        assert human.coders == ["ana", "ben", "consensus"]
        assert human.positives["trust"] == training_set(project, "coder:ana").positives["trust"] + 1


def test_train_and_evaluate_agree_on_the_same_predictions(trained: Path) -> None:
    """One precision/recall/F1 (qualkam.coding.metrics): the rule suggestions train compares
    on its segments get the same per-code and macro figures from evaluate."""
    with Project.open(trained) as project:
        metrics = _model(project, 1).metrics
        report = evaluate(project, "coder:ana", "rules", codes=["budget", "trust"])
    for code in ("budget", "trust"):
        row = report.per_code.set_index("code").loc[code]
        figures = metrics["per_code"][code]["rules"]
        assert (row["tp"], row["fp"], row["fn"]) == (figures["tp"], figures["fp"], figures["fn"])
    trained_macro, evaluated_macro = metrics["overall"]["rules"]["macro"], report.overall["macro"]
    assert trained_macro == evaluated_macro
    assert trained_macro["f1"] == pytest.approx(
        (metrics["per_code"]["budget"]["rules"]["f1"] + metrics["per_code"]["trust"]["rules"]["f1"]) / 2
    )
    assert metrics["overall"]["rules"]["micro"] == report.overall["micro"]


@pytest.mark.slow
def test_importing_learn_is_light_and_loading_a_model_needs_no_cli(trained: Path) -> None:
    script = f"""
import sys
import qualkam.coding.learn as learn
from qualkam.coding.learn import DEFAULT_EPOCHS, latest_thresholds, training_set
assert "sklearn" not in sys.modules, "scikit-learn on import"
assert "qualkam.coding.learn.classifiers" not in sys.modules, "the classifiers (spaCy pipeline) on import"
from qualkam.store.project import Project
with Project.open({str(trained)!r}) as project:
    model = learn.load_model(project)
    assert model.scores(["budget spreadsheet forecast"]).shape == (1, 2)
assert not [m for m in sys.modules if m.startswith("qualkam.cli")], "the CLI was imported"
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_assign_folds_keeps_each_source_whole_and_balanced() -> None:
    rng = random.Random(1)
    sizes = {f"s{i}": rng.randint(1, 40) for i in range(23)}
    fold_of = assign_folds(sizes, folds=5, seed=3)
    assert set(fold_of) == set(sizes) and set(fold_of.values()) == set(range(5))
    loads = [sum(n for s, n in sizes.items() if fold_of[s] == f) for f in range(5)]
    assert max(loads) - min(loads) <= max(sizes.values()), "greedy balance: within one source of each other"
    assert assign_folds(sizes, 5, 3) == fold_of, "same seed, same folds"
    assert assign_folds({"a": 3, "b": 4}, folds=5) in ({"a": 0, "b": 1}, {"a": 1, "b": 0}), "capped at the sources"
    with pytest.raises(QualkamError, match="at least 2 sources"):
        assign_folds({"a": 3})


def test_no_source_crosses_folds_in_cross_validation(base: Path) -> None:
    """The proof asked for: every segment of a source is tested in the same fold, and that
    fold's model was trained on the other sources only."""
    with Project.open(base / "project.db") as project:
        data = training_set(project, "coder:ana")
    fold_of = assign_folds(data.segments.groupby("source").size().to_dict(), folds=3, seed=0)
    oof, held_out, fold = cross_validate(data, fold_of, seed=0, epochs=1)
    by_source = {s: set(fold[(data.segments["source"] == s).to_numpy()]) for s in fold_of}
    assert all(len(f) == 1 for f in by_source.values()), "a source in two folds"
    assert {s: f.pop() for s, f in by_source.items()} == fold_of
    for f in range(3):
        test = set(data.segments.loc[fold == f, "source"])
        training = set(data.segments.loc[fold != f, "source"])
        assert test and training and not test & training
    assert oof.shape == (len(data.segments), 2, 3) and held_out.shape == (len(data.segments), 2)


def test_best_threshold_and_calibration() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    assert best_threshold(scores, np.array([1, 1, 0, 0, 0])) == 0.8
    assert best_threshold(scores, np.array([0, 0, 0, 0, 0])) == DEFAULT_THRESHOLD, "nothing to tune on"
    assert best_threshold(np.array([0.5, 0.5, 0.1]), np.array([1, 0, 0])) == 0.5, "a cut never splits a tie"
    features = np.array([[-3.0, -2.0], [-2.5, -1.0], [1.0, 2.0], [2.0, 3.0], [-1.0, 0.5], [0.5, -0.5]])
    truth = np.array([0, 0, 1, 1, 0, 1])
    weights, intercept = platt(features, truth)
    p = calibrate(features, weights, intercept)
    assert ((0 <= p) & (p <= 1)).all() and p[3] > p[0]
    assert platt(features, np.zeros(6)) == ([1.0, 0.0], 0.0), "one class: left as it is"


def test_train_stores_a_versioned_model_with_honest_metrics(trained: Path, copy) -> None:
    db = copy(trained)
    with Project.open(db) as project:
        stored = _model(project, 1)
        metrics, data, settings = stored.metrics, stored.data, stored.settings
        assert stored.layer == "coder:ana" and stored.codes == ["budget", "trust"]
        assert stored.model[:1], "the pipeline's bytes"
        assert settings["architecture"] == "spacy.TextCatBOW.v3" and settings["folds"] == 3
        assert data["positives"] == {"budget": 18, "trust": 18} and data["skipped"] == {"rare": 2}
        assert sorted(data["sources"]) == SOURCES[:6] and data["segments"] == 48
        assert set(data["fold_of_source"]) == set(SOURCES[:6])
        per_code = metrics["per_code"]
        assert {c: v["group"] for c, v in per_code.items()} == {"budget": "formal", "trust": "post_bureaucratic"}
        for figures in per_code.values():
            assert set(figures["model"]) == set(figures["rules"]) == {"precision", "recall", "f1", "tp", "fp", "fn"}
            assert figures["model"]["tp"] + figures["model"]["fn"] == figures["positives"] == 18
        assert per_code["budget"]["rules"]["fp"] == 0, "the rule 'budget' only fires on budget talk"
        assert set(metrics["per_group"]) == {"formal", "post_bureaucratic"}
        assert set(metrics["overall"]["model"]) == {"micro", "macro"}
        assert metrics["overall"]["model"]["micro"]["f1"] > 0.8, "plain vocabulary is learnt"
        assert set(latest_thresholds(project)) == {"budget", "trust"}
        train(project, layer="coder:ana", folds=3, epochs=1, seed=1)
        ids = sorted(r["id"] for r in model_rows(project))
        assert ids == [1, 2], "each train adds a version"
        assert load_model(project).id == 2 and load_model(project, 1).id == 1, "the newest is used"
        assert (audit_table(project)["action"] == "train").sum() == 2


def logit(p: float) -> float:
    """Log-odds: the scale on which the review measures how sure the model is."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _code(db: Path, folder: Path, suggest: str):
    with Project.open(db) as project:
        return code_folder(folder, load_codebook(folder.parent / "book.yaml"), project, out_dir=None, suggest=suggest)


def test_code_with_the_model_stores_calibrated_suggestions_with_evidence(base: Path, trained: Path, copy) -> None:
    db = copy(trained)
    report = _code(db, base / "src", "model")
    assert report.coded == 7 and report.model_id == 1, "a new suggest mode re-suggests every source"
    with Project.open(db) as project:
        rows = codings(project, "suggestions").to_dict("records")
        assert rows and {r["origin"] for r in rows} == {"model"}, "--suggest model: the model alone"
        assert all(0.0 <= r["score"] <= 1.0 for r in rows)
        unseen = [r for r in rows if r["source"] == "int-7"]
        ana = codings(project, "coder:ana")
        assert {(KINDS[r["position"]], r["code"]) for r in unseen} <= {("budget", "budget"), ("trust", "trust")}
        assert len(unseen) >= 4, "the unread interview gets suggestions"
        evidence = unseen[0]["evidence"]
        assert 1 <= len(evidence) <= 3
        for item in evidence:
            assert set(item) == {"segment", "source", "text", "similarity", "rule"} and item["rule"] == "model:similar"
            assert item["source"] in SOURCES[:6] and 0 < item["similarity"] <= 1 and len(item["text"]) <= 160
            assert unseen[0]["code"] in set(ana.loc[ana["segment"] == item["segment"], "code"]), (
                "evidence: a segment a person coded with this code"
            )
        frame = excerpts_frame(project)  # evidence without start/end renders in excerpts.csv
        model_rows = frame[frame["origin"] == "model"]
        assert model_rows["evidence"].str.contains(r"\[model:similar: segment \d+ of int-").all()
        people = counts(project)["human_codings"]
    again = _code(db, base / "src", "model")
    assert (again.coded, again.unchanged) == (0, 7), "same model, same mode: unchanged"
    both = _code(db, base / "src", "both")
    assert both.coded == 7
    with Project.open(db) as project:
        origins = set(codings(project, "suggestions")["origin"])
        assert origins == {"rule", "model"}
        train(project, layer="coder:ana", folds=3, epochs=1)
    assert _code(db, base / "src", "both").coded == 7, "a new model re-suggests"
    assert _code(db, base / "src", "rules").coded == 7, "back to the rules"
    with Project.open(db) as project:
        assert set(codings(project, "suggestions")["origin"]) == {"rule"}
        assert counts(project)["human_codings"] == people


def test_without_a_model_suggesting_with_it_is_an_error(base: Path, copy) -> None:
    db = copy(base / "project.db")
    with pytest.raises(NoModelError, match="run qualkam train first"):
        _code(db, base / "src", "model")
    with pytest.raises(QualkamError, match="unknown suggestion mode 'magic' in suggest"):
        _code(db, base / "src", "magic")


def test_uncertain_order_puts_the_least_sure_model_suggestion_first(base: Path, trained: Path, copy) -> None:
    db = copy(trained)
    _code(db, base / "src", "both")
    with Project.open(db) as project:
        thresholds = latest_thresholds(project)
        reading = build_queue(project, "zoe", Filters())
        queue = build_queue(project, "zoe", Filters(order="uncertain"))
        model = model_scores(project)
    assert sorted(queue, key=lambda i: (i.segment_id, i.code_id)) == sorted(
        reading, key=lambda i: (i.segment_id, i.code_id)
    ), "the same items, another order"
    distance = [
        abs(logit(model[(i.segment_id, i.code_id)]) - logit(thresholds[i.code_id]))
        for i in queue
        if (i.segment_id, i.code_id) in model
    ]
    assert distance == sorted(distance) and len(distance) == len(model)
    head, tail = queue[: len(model)], queue[len(model) :]
    assert all((i.segment_id, i.code_id) in model for i in head)
    assert tail == [i for i in reading if (i.segment_id, i.code_id) not in model], "rules after, in reading order"
    assert Filters().key() == json.dumps([None, None, None, "suggested"]), "old progress keys still resume"


def test_model_suggestions_are_the_same_with_two_jobs(base: Path, trained: Path, tmp_path: Path) -> None:
    """Workers segment and match; the model scores in the main process: no change in results."""
    rows = []
    for jobs in (1, 2):
        db = tmp_path / f"jobs{jobs}.db"
        shutil.copy(trained, db)
        with Project.open(db) as project:
            report = code_folder(
                base / "src", load_codebook(base / "book.yaml"), project, out_dir=None, suggest="both", jobs=jobs
            )
            assert report.coded == 7
            rows.append(
                [
                    tuple(r)
                    for r in project.conn.execute(
                        'SELECT segment_id, source_id, start, "end", code_id, origin, score, evidence FROM codings '
                        "WHERE coder IS NULL ORDER BY id"
                    ).fetchall()
                ]
            )
    assert {r[5] for r in rows[0]} == {"rule", "model"} and rows[0] == rows[1]
