"""The optional sentence embeddings (issue 15): ``pip install "qualkam[embeddings]"``.

Offline loading from the files inside the installed ``wordllama`` wheel (sockets blocked), a
model trained with them stores, reloads and suggests, and the clear errors when the extra is
missing (simulated by pointing the loader at a package that does not exist, so they run
without the extra too). The project is test_learn's tiny one. Tests that need the extra skip
with the reason when it is not installed.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from qualkam.coding.codebook import load_codebook
from qualkam.coding.learn import embeddings, load_model, train
from qualkam.coding.learn.embeddings import EmbeddingLogistic, EmbeddingsMissingError, with_neighbours
from qualkam.coding.run import code_folder
from qualkam.store.models import stored_model
from qualkam.store.project import Project
from qualkam.store.segments import codings

from .conftest import ROOT
from .test_learn import KINDS, SOURCES, build_project

needs_extra = pytest.mark.skipif(
    importlib.util.find_spec("wordllama") is None,
    reason='the optional embeddings are not installed (pip install "qualkam[embeddings]")',
)


@pytest.fixture
def missing(monkeypatch: pytest.MonkeyPatch):
    """The loader as it is when the extra is not installed."""
    monkeypatch.setattr(embeddings, "PACKAGE", "qualkam_no_such_package")
    embeddings.load_embedder.cache_clear()
    yield
    embeddings.load_embedder.cache_clear()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch):
    """Any attempt to open a network connection fails the test."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError(f"network connection attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    embeddings.load_embedder.cache_clear()
    yield attempts
    embeddings.load_embedder.cache_clear()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("embeddings")
    build_project(root)
    return root


# -- no extra needed --------------------------------------------------------------------------
def test_with_neighbours_takes_the_turns_around_in_the_same_source_only() -> None:
    own = np.arange(10, dtype=np.float32).reshape(5, 2) + 1
    rows = with_neighbours(own, ["a", "a", "a", "b", "b"])
    assert rows.shape == (5, 6)
    assert rows[:, :2].tolist() == own.tolist()
    assert rows[:, 2:4].tolist() == [[0, 0], own[0].tolist(), own[1].tolist(), [0, 0], own[3].tolist()]
    assert rows[:, 4:].tolist() == [own[1].tolist(), own[2].tolist(), [0, 0], own[4].tolist(), [0, 0]]


def test_the_classifier_round_trips_through_the_models_json_data() -> None:
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(60, 12)).astype(np.float32)
    labels = np.zeros((60, 3), dtype=np.float32)
    labels[:, 0] = rows[:, 0] > 0  # learnable from one feature
    labels[:, 1] = 1.0  # one class only: a constant score
    labels[rng.choice(60, 9, replace=False), 2] = 1.0
    fitted = EmbeddingLogistic().fit(rows, labels, ["a", "b", "c"])
    again = EmbeddingLogistic.from_data(fitted.to_data())
    assert np.allclose(again.decision(rows), fitted.decision(rows), atol=1e-4)
    scores = fitted.decision(rows)
    assert (scores[labels[:, 0] == 1, 0].mean()) > (scores[labels[:, 0] == 0, 0].mean()) + 1
    assert np.all(scores[:, 1] == 5.0)


def test_missing_extra_is_a_clear_error_before_any_training(base: Path, tmp_path: Path, missing) -> None:
    with pytest.raises(EmbeddingsMissingError, match=r'pip install "qualkam\[embeddings\]"'):
        embeddings.load_embedder()
    db = tmp_path / "project.db"
    shutil.copy(base / "project.db", db)
    with Project.open(db) as project:
        with pytest.raises(EmbeddingsMissingError, match=r"not installed: pip install"):
            train(project, layer="coder:ana", folds=3, epochs=1, embeddings=True)
        assert stored_model(project) is None, "nothing stored"
        train(project, layer="coder:ana", folds=3, epochs=1)  # the default needs no extra
        model = load_model(project)
    assert "embeddings" not in model.settings and len(model.data["calibration"]["budget"]["weights"]) == 3


def test_train_cli_says_how_to_install_the_extra(base: Path, tmp_path: Path, missing, runner) -> None:
    from qualkam.cli import app

    db = tmp_path / "project.db"
    shutil.copy(base / "project.db", db)
    result = runner.invoke(app, ["train", "--from", "coder:ana", "--folds", "3", "--embeddings", "--project", str(db)])
    assert result.exit_code == 2, result.output
    assert 'pip install "qualkam[embeddings]"' in " ".join(result.stderr.split())


# -- with the extra ---------------------------------------------------------------------------
@needs_extra
def test_loader_reads_the_package_files_and_never_touches_the_network(offline) -> None:
    found = embeddings.load_embedder()
    vectors = found.embed(["Can you say more about that?", "", "Why do you think it is seven?"])
    assert vectors.shape == (3, found.dimensions) and found.dimensions == 256
    assert np.allclose(np.linalg.norm(vectors[[0, 2]], axis=1), 1.0, atol=1e-5)
    assert not vectors[1].any(), "a text with no token: zeros"
    same = found.embed(["We trust them.", "We trust them a lot.", "The invoice is due on Friday."])
    assert same[0] @ same[1] > same[0] @ same[2], "near sentences embed near"
    assert offline == [], "no connection attempted"
    assert "wordllama" not in sys.modules, "the package with the downloading loader is never imported"
    assert found.describe()["sha256"] == found.sha256 and len(found.sha256) == 64


@needs_extra
@pytest.mark.slow
def test_a_model_trained_with_embeddings_stores_reloads_and_suggests(base: Path, tmp_path: Path, offline) -> None:
    db = tmp_path / "project.db"
    shutil.copy(base / "project.db", db)
    with Project.open(db) as project:
        result = train(project, layer="coder:ana", folds=3, epochs=2, embeddings=True)
        model = load_model(project, result.model_id)
        assert model.settings["embeddings"]["embedder"] == embeddings.NAME
        assert model.settings["ensemble"][-1] == embeddings.CLASSIFIER
        assert all(len(model.data["calibration"][c]["weights"]) == 4 for c in model.codes), "four scores weighed"
        inputs = ["the budget spreadsheet and the quarterly forecast", "trust and rapport, a gut feeling"]
        scores = model.scores(inputs, texts=inputs)
        assert scores.shape == (2, len(model.codes))
        budget, trust = model.codes.index("budget"), model.codes.index("trust")
        assert scores[0, budget] > scores[1, budget] and scores[1, trust] > scores[0, trust]
    with Project.open(db) as project:
        code_folder(base / "src", load_codebook(base / "book.yaml"), project, out_dir=None, suggest="model")
        rows = codings(project, "suggestions").to_dict("records")
    unseen = [r for r in rows if r["source"] == SOURCES[-1]]
    assert rows and {r["origin"] for r in rows} == {"model"}
    assert len(unseen) >= 4 and {(KINDS[r["position"]], r["code"]) for r in unseen} <= {
        ("budget", "budget"),
        ("trust", "trust"),
    }
    assert offline == []


@needs_extra
@pytest.mark.slow
def test_a_model_with_embeddings_says_so_when_they_are_missing_or_differ(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "project.db"
    shutil.copy(base / "project.db", db)
    with Project.open(db) as project:
        train(project, layer="coder:ana", folds=3, epochs=1, embeddings=True)
        stored = stored_model(project)
        assert stored is not None
        monkeypatch.setattr(embeddings, "PACKAGE", "qualkam_no_such_package")
        embeddings.load_embedder.cache_clear()
        try:
            with pytest.raises(EmbeddingsMissingError, match=r"trained with sentence embeddings .* pip install"):
                load_model(project)
        finally:
            monkeypatch.undo()
            embeddings.load_embedder.cache_clear()
        stored.data["embeddings"]["sha256"] = "0" * 64
        from qualkam.coding.learn.model import Model

        with pytest.raises(EmbeddingsMissingError, match="other embedding vectors"):
            Model(stored)


def test_the_extra_is_declared_and_kept_out_of_the_default_install() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11 and later")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert any(dep.startswith("wordllama") for dep in project["optional-dependencies"]["embeddings"])
    assert not any("wordllama" in dep or "tokenizers" in dep for dep in project["dependencies"])


@needs_extra
@pytest.mark.slow
def test_bench_sets_the_model_with_embeddings_beside_the_same_model_without(
    base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench import suggestions

    settings = {"folds": 3, "epochs": 2}
    with Project.open(base / "project.db") as project:
        plain = suggestions.compare(project, "coder:ana", **settings)
        both = suggestions.compare(project, "coder:ana", embeddings=True, **settings)
    assert not plain.variants and set(both.variants) == {"without embeddings", "embeddings alone"}
    assert np.array_equal(both.variants["without embeddings"], plain.model), "the same folds, the same three scores"
    assert np.array_equal(both.peer, plain.peer)
    code = suggestions.main(["--project", str(base / "project.db"), "--coder", "ana", "--folds", "3", "--embeddings"])
    out = capsys.readouterr().out
    assert code in (0, 1) and "(model: with embeddings)" in out
    header = next(line for line in out.splitlines() if line.startswith("code") and "embeddings alone" in line)
    assert header.split()[1:] == ["with", "embeddings", "without", "embeddings", "embeddings", "alone", "peer"]
