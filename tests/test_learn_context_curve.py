"""Learned suggestions (issue 15): context (a third classifier reads who speaks and the words of
the segments around each one; calibration weighs it per code), thresholds with a minimum
held-out precision, and the learning curve (``qualkam train --curve``).

The project is written here: in every interview Ann's turns now and then hold a cue word and
the turn after (Bob's, made of the same filler as every other turn) is coded ``reply``. Its own
words cannot tell a reply; its neighbour can.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qualkam.coding import metrics
from qualkam.coding.codebook import parse_codebook
from qualkam.coding.decisions import Action, decide
from qualkam.coding.learn import (
    NEVER,
    assign_folds,
    best_threshold,
    cross_validate,
    learning_curve,
    load_model,
    train,
    training_set,
)
from qualkam.coding.learn.model import CONTEXT_WORDS, context_inputs
from qualkam.coding.run import code_folder
from qualkam.coding.segment import Segment
from qualkam.errors import QualkamError
from qualkam.store.project import Project
from qualkam.store.segments import segments as stored_segments

from .conftest import write

CODEBOOK = """\
name: Context test codebook
version: "1"
codes:
  - id: reply
    label: A reply to the cue
  - id: noise
    label: Coded at random (nothing in the text tells it)
"""
FILLER = "we said that it was in the office and then they had a chat about the plan for next week".split()
CUE = "zorbax"


def _turns(rng: random.Random, n: int) -> tuple[list[str], list[bool]]:
    """Alternating Ann and Bob turns; a Bob turn after an Ann turn with the cue is a reply."""
    turns, replies = [], []
    cued = False
    for i in range(n):
        words = rng.sample(FILLER, 9)
        if i % 2 == 0:
            cued = rng.random() < 0.4
            if cued:
                words[rng.randrange(9)] = CUE
            turns.append("Ann: " + " ".join(words).capitalize() + ".")
            replies.append(False)
        else:
            turns.append("Bob: " + " ".join(words).capitalize() + ".")
            replies.append(cued)
    return turns, replies


def _project(root: Path, sources: int = 8, turns: int = 24, second_coder: bool = False, noise: bool = False) -> Path:
    """Ana codes every reply; with ``noise``, ``noise`` on a random fifth of the turns too;
    with ``second_coder``, Bob codes the replies as well."""
    rng = random.Random(11)
    truth: dict[str, list[bool]] = {}
    for s in range(sources):
        lines, replies = _turns(rng, turns)
        truth[f"int-{s}"] = replies
        write(root / "src" / f"int-{s}.md", f"---\nid: int-{s}\ntype: interview\n---\n" + "\n\n".join(lines) + "\n")
    db = root / "project.db"
    with Project.open(db, create=True) as project:
        code_folder(root / "src", parse_codebook(CODEBOOK), project, out_dir=None)
        for seg in stored_segments(project).itertuples():
            if truth[seg.source][int(seg.position)]:
                decide(project, "ana", int(seg.segment), "reply", Action.add)
                if second_coder:
                    decide(project, "bob", int(seg.segment), "reply", Action.add)
            if noise and rng.random() < 0.2:
                decide(project, "ana", int(seg.segment), "noise", Action.add)
    return db


def test_context_inputs_hold_the_neighbours_of_the_same_source_only() -> None:
    made = context_inputs(
        ["a b", "c d", "e f"],
        ["s1", "s1", "s2"],
        ["Ms. Lee", "Tom", None],
        ["teacher", None, "student"],
    )
    assert made[0].split()[:2] == ["a", "b"] and "spk_ms_lee" in made[0] and "role_teacher" in made[0]
    assert "source_start" in made[0] and "n_c" in made[0] and "n_d" in made[0] and "next_new_speaker" in made[0]
    assert "p_a" in made[1] and "new_speaker" in made[1] and "source_end" in made[1]
    assert "p_c" not in made[2] and "n_" not in made[1] and "source_start" in made[2] and "spk_none" in made[2]


@given(
    st.lists(
        st.tuples(
            st.text(alphabet="abcxyz ", max_size=40),
            st.sampled_from(["s1", "s2", "s3"]),
            st.one_of(st.none(), st.text(max_size=12)),
        ),
        max_size=12,
    )
)
def test_context_inputs_start_with_the_segment_and_stay_within_its_source(rows: list) -> None:
    rows.sort(key=lambda r: r[1])  # reading order: a source's segments together
    inputs = [r[0] for r in rows]
    made = context_inputs(inputs, [r[1] for r in rows], [r[2] for r in rows], [None] * len(rows))
    assert len(made) == len(inputs)
    for i, text in enumerate(made):
        assert text.split()[: len(inputs[i].split())] == inputs[i].split()
        before = [w[2:] for w in text.split() if w.startswith("p_")]
        after = [w[2:] for w in text.split() if w.startswith("n_")]
        same_before = i > 0 and rows[i - 1][1] == rows[i][1]
        same_after = i + 1 < len(rows) and rows[i + 1][1] == rows[i][1]
        assert before == (inputs[i - 1].split()[-CONTEXT_WORDS:] if same_before else [])
        assert after == (inputs[i + 1].split()[:CONTEXT_WORDS] if same_after else [])


def test_a_code_told_by_the_turn_before_is_learnt_held_out(tmp_path: Path) -> None:
    db = _project(tmp_path)
    with Project.open(db) as project:
        data = training_set(project, "coder:ana")
        fold_of = assign_folds(data.segments.groupby("source").size().to_dict(), folds=4, seed=0)
        oof, held_out, _ = cross_validate(data, fold_of, epochs=2)
    truth = data.labels[:, 0].astype(bool)
    found = metrics.compare(held_out[:, 0], truth)
    assert truth.sum() >= 30 and found.f1 is not None and found.f1 >= 0.9, found.figures()
    # The own-words classifiers cannot tell a reply: the context one does.
    context_gap = oof[truth, 0, 2].mean() - oof[~truth, 0, 2].mean()
    own_gap = oof[truth, 0, 1].mean() - oof[~truth, 0, 1].mean()
    assert context_gap > 1.0 and abs(own_gap) < context_gap / 3


def test_a_trained_model_suggests_from_the_neighbours_when_coding(tmp_path: Path) -> None:
    db = _project(tmp_path)
    with Project.open(db) as project:
        train(project, "coder:ana", folds=4, epochs=2)
        model = load_model(project)
    rng = random.Random(99)
    lines, replies = _turns(rng, 80)
    segments = [
        Segment(i, 0, 0, line.split(": ", 1)[1], line.split(": ", 1)[0], None, None, None, None, None)
        for i, line in enumerate(lines)
    ]
    found = model.suggest("new", segments)
    suggested = np.array([any(s.code_id == "reply" for s in row) for row in found])
    agreed = metrics.compare(suggested, np.array(replies))
    assert sum(replies) >= 10 and agreed.f1 is not None and agreed.f1 >= 0.8, agreed.figures()
    # Each segment alone (no neighbours known) gives no reason to suggest a reply.
    alone = model.scores([s.text.lower() for s in segments])[:, 0]
    assert float(alone.max()) < float(model.thresholds[0])


def test_a_threshold_keeps_the_held_out_precision_asked_for() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    truth = np.array([1, 0, 0, 1, 0, 0, 1, 0])
    assert best_threshold(scores, truth) == 0.3  # best F1 (0.55) takes every positive, precision 3/7
    assert best_threshold(scores, truth, min_precision=0.5) == 0.6  # F1 0.57 at precision 2/4
    assert best_threshold(scores, truth, min_precision=0.6) == 0.9  # only the top: precision 1
    assert best_threshold(np.array([0.9, 0.8]), np.array([0, 1]), min_precision=0.6) == NEVER  # 1/2 at best
    assert NEVER > 1.0  # above every calibrated score: never suggested


def test_the_learning_curve_rises_with_the_sources_learnt_from(tmp_path: Path) -> None:
    db = _project(tmp_path, sources=10)
    with Project.open(db) as project:
        curve = learning_curve(project, "coder:ana", steps=(0.15, 1.0), folds=5, epochs=2)
    small, full = curve.points
    assert small.share == 0.15 and full.share == 1.0 and curve.folds == 5
    assert small.sources == 2.0 and full.sources == 8.0  # of each fold's 8 training sources
    assert small.segments < full.segments and 0 < small.coded < full.coded
    assert full.micro["f1"] >= 0.9 and full.micro["f1"] > small.micro["f1"]
    assert curve.rules is None  # the codebook has no patterns: no rule suggestions to compare
    with Project.open(db) as project:
        for bad, argument in (({"epochs": 0}, "epochs"), ({"min_precision": 1.5}, "min_precision")):
            with pytest.raises(QualkamError) as refused:
                learning_curve(project, "coder:ana", **bad)  # type: ignore[arg-type]
            assert refused.value.arguments == (argument,)


def test_train_curve_on_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from qualkam.cli import app

    db = _project(tmp_path)
    done = CliRunner().invoke(
        app,
        ["train", "--curve", "--steps", "0.5,1", "--folds", "4", "--from", "coder:ana", "--epochs", "2", "-p", str(db)],
    )
    assert done.exit_code == 0, done.output
    assert "learning curve" in done.stdout and "50% · 3.0" in done.stdout and "100% · 6.0" in done.stdout
    with Project.open(db) as project:
        assert load_model_or_none(project) is None  # --curve stores no model
    bad = CliRunner().invoke(app, ["train", "--curve", "--steps", "0,1", "--from", "coder:ana", "-p", str(db)])
    assert bad.exit_code != 0 and "shares above 0" in bad.output


def load_model_or_none(project: Project) -> object | None:
    from qualkam.coding.learn import NoModelError

    try:
        return load_model(project)
    except NoModelError:
        return None


def test_the_machine_is_a_named_coder_apart_from_people(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from qualkam.cli import app
    from qualkam.render.report import build_report

    db = _project(tmp_path, second_coder=True, noise=True)
    with Project.open(db) as project:
        assert "The machine against each person" not in build_report(project)  # no model yet
        result = train(project, "coder:ana", folds=4, epochs=2)
        page = build_report(project)
        replies = int(training_set(project, "coder:ana").labels[:, 0].sum())
    figures = result.metrics["machine"]
    assert list(figures) == ["ana"]  # the coders the model learnt from
    reply, noise = figures["ana"]["reply"], figures["ana"]["noise"]
    assert reply["kappa"] >= 0.8 and reply["alpha"] >= 0.8 and reply["near_chance"] is False
    assert reply["units"] == 8 * 24 and reply["person"] == replies and reply["machine"] > 0
    assert noise["near_chance"] is True or noise["kappa"] is None  # nothing to learn: near chance
    done = CliRunner().invoke(app, ["reliability", "-p", str(db)])
    assert done.exit_code == 0, done.output
    assert "the machine (model 1, from coder:ana, held out)" in done.stdout, done.stdout
    as_json = CliRunner().invoke(app, ["reliability", "-p", str(db), "-f", "json"])
    found = json.loads(as_json.stdout)
    assert found["machine"]["per_person"]["ana"]["reply"]["kappa"] == reply["kappa"]
    assert "machine" not in found["coders"]  # people's agreement is between people only
    machine_part = page.split('id="machine"', 1)[1].split("</section>", 1)[0]
    assert "Model 1, trained on coder:ana" in machine_part and "near chance" in machine_part
    assert f'<td class="num">{reply["kappa"]:.2f}</td>' in machine_part
