"""bench/corpus.py: the benchmark corpus is deterministic, varied, and codes without problems."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from qualkam.coding.codebook import load_codebook
from qualkam.coding.run import code_folder
from qualkam.coding.segment import resolve_turns
from qualkam.sources.ingest import PreparedSource, discover, prepare
from qualkam.store.project import Project
from qualkam.store.refi import sources

from .conftest import ROOT

WORDS = 3000


def _load_corpus_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_corpus", ROOT / "bench" / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


corpus = _load_corpus_module()


def _sources(folder: Path) -> dict[str, PreparedSource]:
    files, problems = discover(folder)
    assert problems == []
    read = list(prepare(folder, files, load_codebook("kam")))
    assert all(isinstance(s, PreparedSource) for s in read), [str(s) for s in read if not isinstance(s, PreparedSource)]
    return {s.rel: s for s in read}  # type: ignore[union-attr]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    root = tmp_path_factory.mktemp("bench-corpus")
    return corpus.generate(root / "a", WORDS, seed=7), corpus.generate(root / "b", WORDS, seed=7)


def test_same_seed_same_corpus(generated: tuple) -> None:
    first, second = generated
    assert _files(first.folder) == _files(second.folder)
    a, b = _sources(first.folder), _sources(second.folder)
    assert a.keys() == b.keys()
    for rel in a:
        assert a[rel].raw.text == b[rel].raw.text, rel
        assert a[rel].meta == b[rel].meta, rel
    for rel in _files(first.folder):  # Word files too: their dates are fixed
        assert (first.folder / rel).read_bytes() == (second.folder / rel).read_bytes(), rel


def test_other_seed_other_corpus(tmp_path: Path, generated: tuple) -> None:
    other = corpus.generate(tmp_path / "c", WORDS, seed=8)
    assert _files(other.folder) != _files(generated[0].folder)


def test_words_formats_folders_and_speakers(generated: tuple) -> None:
    info = generated[0]
    assert abs(info.words - WORDS) <= WORDS * 0.02
    sources = _sources(info.folder)
    assert info.files == len(sources) == sum(info.by_format.values())
    assert info.by_format == {s: sum(rel.endswith(s) for rel in sources) for s in info.by_format}
    assert len(info.by_format) >= 4
    assert len({Path(rel).parent for rel in sources}) > 1
    assert {"metadata.yaml", "metadata.csv"} & {Path(f).name for f in _files(info.folder)}
    # The words counted are exactly the words qualkam reads as turn text, and every speaker has a role.
    read = 0
    for source in sources.values():
        assert source.meta.type in {"interview", "meeting", "fieldnote", "document", "email"}
        assert source.meta.date and source.meta.participants
        for turn, speaker, role, _ in resolve_turns(source.turns, source.meta):
            read += len(source.raw.text[turn.start : turn.end].split())
            assert speaker is None or role, (source.rel, speaker)
        if source.meta.type in ("interview", "meeting"):
            assert all(t.speaker for t in source.turns), source.rel
    assert read == info.words


def test_refuses_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ValueError, match="not empty"):
        corpus.generate(tmp_path, WORDS)
    assert _files(tmp_path) == ["old.txt"]


def test_codes_without_problems(tmp_path: Path, generated: tuple) -> None:
    info = generated[0]
    with Project.open(tmp_path / "p.db", create=True) as project:
        report = code_folder(info.folder, load_codebook("kam"), project, out_dir=None)
        assert [str(p) for p in report.problems] == []
        assert report.files == report.coded == info.files
        phases = {row["phase"] for row in sources(project) if row["phase"]}
    assert len(phases) > 1
