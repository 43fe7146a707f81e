"""The notebook API: qualkam.open(path) gives the same tables the commands print, as DataFrames."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import qualkam
from qualkam.api import ProjectView
from qualkam.coding.decisions import decide
from qualkam.errors import QualkamError, StoreError
from qualkam.store.layers import Layer
from qualkam.store.project import Project

from .conftest import ROOT, code_two_sources, run_cli


@pytest.fixture
def coded(tmp_path: Path, small_codebook) -> Path:
    """INTERVIEW and OTHER coded with the small codebook; ana accepts every suggestion, ben
    rejects soft_control and adds it to the first segment suggested hard_control."""
    with Project.open(tmp_path / "project.db", create=True) as store:
        code_two_sources(tmp_path, small_codebook, store)
    with qualkam.open(tmp_path / "project.db") as view:
        suggested = view.codings("suggestions")
        for row in suggested.itertuples():
            decide(view.project, "ana", row.segment, row.code, "accept")
            decide(view.project, "ben", row.segment, row.code, "reject" if row.code == "soft_control" else "accept")
        first_hard = suggested[suggested["code"] == "hard_control"].iloc[0]
        decide(view.project, "ben", int(first_hard["segment"]), "soft_control", "add")
    return tmp_path / "project.db"


def test_import_qualkam_stays_light() -> None:
    # qualkam.open is a function that imports the API on its first call (issue 12, point 7)
    heavy = "('pandas', 'spacy', 'qualkam.api', 'sqlite3')"
    code = f"import sys, qualkam; print(callable(qualkam.open), [m for m in {heavy} if m in sys.modules])"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert shown.stdout.strip() == "True []"


def test_open_is_a_context_manager_over_the_store(coded: Path) -> None:
    with qualkam.open(coded) as view:
        assert isinstance(view, ProjectView) and isinstance(view.project, Project)
        assert view.project.path == coded
        assert "2 sources" in repr(view)
    assert "closed" in repr(view)
    with pytest.raises(QualkamError, match="closed; open it again with qualkam.open"):
        view.segments()
    view.close()  # closing twice is harmless


def test_open_names_the_argument_not_a_flag(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        qualkam.open(tmp_path / "none.db")
    assert caught.value.argument == "path"
    assert "--" not in str(caught.value) and "create=True" in str(caught.value)
    with qualkam.open(tmp_path / "new.db", create=True) as view:  # an empty project to code into
        assert view.segments().empty and list(view.segments().columns)[:2] == ["segment", "source"]


def test_segments_with_filters(coded: Path) -> None:
    with qualkam.open(coded) as view:
        every = view.segments()
        assert list(every["source"].unique()) == ["int-b", "int-sales"]
        assert every.groupby("source")["position"].apply(lambda p: list(p) == sorted(p)).all()
        sarah = view.segments(speakers="Sarah Collins")
        assert set(sarah["speaker"]) == {"Sarah Collins"} and set(sarah["role"]) == {"Sales Director"}
        assert sarah.equals(view.segments(speakers=["sarah collins"]).reset_index(drop=True))  # case ignored
        assert set(view.segments(roles="Researcher")["speaker"]) == {"I"}
        assert set(view.segments(sources=["int-b"])["source"]) == {"int-b"}
        assert set(view.segments(source_types="interview")["source"]) == {"int-sales"}
        assert view.segments(sources="int-b", speakers="Sarah Collins").empty  # filters must all hold
        for argument, value in (("speakers", "Sarah Colins"), ("sources", "int-c"), ("phases", "formal")):
            with pytest.raises(QualkamError) as caught:
                view.segments(**{argument: value})
            assert caught.value.argument == argument
            assert "--" not in str(caught.value) and f"in {argument}; choose from" in str(caught.value)
        assert "did you mean 'Sarah Collins'" in str(
            pytest.raises(QualkamError, view.segments, speakers="Sarah Colins").value
        )


def test_codings_of_each_layer(coded: Path) -> None:
    with qualkam.open(coded) as view:
        suggestions = view.codings("suggestions")
        assert set(suggestions["coder"].isna()) == {True} and set(suggestions["status"]) == {"suggested"}
        assert all(isinstance(e, list) and e and "rule" in e[0] for e in suggestions["evidence"])
        ana = view.codings("coder:ana")
        assert ana[["segment", "code"]].values.tolist() == suggestions[["segment", "code"]].values.tolist()
        assert view.codings(Layer.parse("coder:ana")).equals(ana)  # a Layer or its name
        ben = view.codings("coder:ben")
        assert list(ben.loc[ben["code"] == "soft_control", "origin"]) == ["human"]  # added, not suggested
        human = view.codings("human")
        assert len(human) == len(ana) + len(ben)
        everything = view.codings("all")
        assert len(everything) == len(suggestions) + len(human) + (view.codings("all")["status"] == "rejected").sum()
        assert set(view.codings("auto", codes="control")["code"]) <= {"hard_control", "soft_control"}
        assert set(view.codings("human", codes="soft_control")["code"]) == {"soft_control"}
        assert set(view.codings("human", speakers="R")["speaker"]) == {"R"}
        with pytest.raises(QualkamError) as caught:
            view.codings("humans")
        assert caught.value.argument == "layer" and "did you mean 'human'" in str(caught.value)
        with pytest.raises(QualkamError) as caught:
            view.codings("coder:anna")
        assert caught.value.argument == "layer" and "did you mean 'ana'" in str(caught.value)
        with pytest.raises(QualkamError) as caught:
            view.codings(codes="soft")
        assert caught.value.argument == "codes"


def test_matrix_is_what_the_matrix_command_prints(coded: Path, runner) -> None:
    with qualkam.open(coded) as view:
        frame = view.matrix("speaker", "code", "human", "sources")
        by_pole = view.matrix(rows="role", cols="attr:pole", layer=Layer.parse("coder:ben"))
    printed = run_cli(
        runner,
        *("matrix", "--rows", "speaker", "--cols", "code", "--from", "human", "--value", "sources"),
        *("--format", "csv", "--project", coded),
    )
    assert printed.exit_code == 0
    assert frame.astype(float).equals(pd.read_csv(io.StringIO(printed.stdout), index_col=0).astype(float))
    assert list(frame.columns) == ["hard_control", "soft_control"]
    assert by_pole.to_dict() == {
        "formal": {"Researcher": 2, "Sales Director": 1},
        "post_bureaucratic": {"Researcher": 1, "Sales Director": 0},
    }
    with pytest.raises(QualkamError) as caught:
        qualkam.open(coded).matrix(layer="coder:")
    assert caught.value.argument == "layer" and "--" not in str(caught.value)


def test_excerpts_are_what_the_excerpts_command_lists(coded: Path, runner) -> None:
    with qualkam.open(coded) as view:
        frame = view.excerpts(codes="control", layer="human")
        ana_only = view.excerpts(coders="ana", statuses="accepted", by_coder=True)
    printed = run_cli(runner, "excerpts", "--code", "control", "--from", "human", "--format", "json", "-p", coded)
    listed = json.loads(printed.stdout)
    assert [[r["segment"], r["code"], "; ".join(r["coders"])] for r in listed] == frame[
        ["segment", "code", "coders"]
    ].values.tolist()
    assert len(listed) == 6  # three hard_control (ana, ben), two soft_control (ana), one added (ben)
    assert set(ana_only["coder"]) == {"ana"}


def test_agreement_per_code_between_two_coders(coded: Path, runner) -> None:
    with qualkam.open(coded) as view:
        frame = view.agreement()
        only_hard = view.agreement(coders=["ana", "ben"], codes="hard_control")
    assert frame.attrs["coders"] == ["ana", "ben"] and frame.attrs["unit"] == "segment"
    assert set(frame["code"]) == {"hard_control", "soft_control"}
    soft = frame.set_index("code").loc["soft_control"]
    assert soft["percent_agreement"] < 1  # ana accepted it where ben rejected it
    assert isinstance(frame.attrs["overall"]["krippendorff_alpha_sets"], float)
    assert list(only_hard["code"]) == ["hard_control"]
    printed = run_cli(runner, "reliability", "--format", "json", "-p", coded)
    report = json.loads(printed.stdout)
    assert [c["code"] for c in report["codes"]] == list(frame["code"])
    assert [c["n_disagree"] for c in report["codes"]] == list(frame["n_disagree"])
    assert report["overall"] == pytest.approx(frame.attrs["overall"])


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.+?)\n```", text, re.S)


DOC = ROOT / "docs" / "python-api.md"


@pytest.mark.slow
def test_the_documented_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # docs/python-api.md (and the README's "Using it from Python", which shows the same
    # example) must run as printed, from a folder holding sample_transcripts/.
    doc = DOC.read_text(encoding="utf-8")
    (example,) = _python_blocks(doc)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using it from Python", 1)[-1].split("\n## ", 1)[0]
    if "qualkam.open(" in section:  # the README shows the API: the same example, not a second one
        assert _python_blocks(section) == [example]
    (tmp_path / "sample_transcripts").symlink_to(ROOT / "sample_transcripts")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(example, str(DOC), "exec"), namespace)
    poles, quotes, agreement = namespace["poles"], namespace["quotes"], namespace["agreement"]
    assert isinstance(poles, pd.DataFrame) and list(poles.columns) == ["formal", "post_bureaucratic"]
    assert isinstance(quotes, pd.DataFrame) and not quotes.empty
    assert quotes["code"].str.startswith("creep_").all()
    assert isinstance(agreement, pd.DataFrame) and agreement.attrs["coders"] == ["ana", "ben"]
    # ben rejects what scored under 0.75: exactly the codes with such a suggestion fall short of 1
    suggested = namespace["suggested"]
    doubted = set(suggested.loc[suggested["score"] < 0.75, "code"])
    by_code = agreement.set_index("code")["percent_agreement"]
    assert doubted and {code for code, value in by_code.items() if value < 1} == doubted & set(by_code.index)
    # the errors shown in the doc are the ones raised, argument names and all
    shown = re.findall(r"^>>> (.+)\nQualkamError: (.+)$", doc, re.M)
    assert len(shown) == 2
    with qualkam.open("study.db") as study:
        for call, message in shown:
            with pytest.raises(QualkamError) as caught:
                eval(call, {"study": study})
            pattern = ".*".join(re.escape(part) for part in message.split("..."))
            assert re.fullmatch(pattern, str(caught.value)), (call, str(caught.value))


def test_no_method_speaks_of_cli_flags(coded: Path) -> None:
    with qualkam.open(coded) as view:
        for call, argument in (
            (lambda: view.matrix(layer="coder:anaa"), "layer"),
            (lambda: view.matrix(rows="phaze"), "rows"),
            (lambda: view.matrix(speakers="Sara"), "speakers"),
            (lambda: view.excerpts(codes="contrl"), "codes"),
            (lambda: view.excerpts(layer="coder:anaa"), "layer"),
            (lambda: view.agreement(unit="segmnt"), "unit"),
            (lambda: view.agreement(coders="anaa"), "coders"),
        ):
            with pytest.raises(QualkamError) as caught:
                call()
            assert "--" not in str(caught.value) and caught.value.argument == argument, str(caught.value)
