"""``qualkam evaluate``: precision, recall and F1 of suggestions, hand-computed on a tiny project.

The project: the small codebook on two sources. ``int-sales`` has three segments with rule
suggestions (seg 0 hard_control, seg 1 hard_control, seg 2 soft_control); ``meeting`` has
suggestions too but ana never looks at it, so by the coverage rule it counts for nothing.
ana's reference: seg 0 hard_control rejected (a false positive: the interviewer's question),
seg 1 hard_control accepted (TP), seg 2 soft_control accepted (TP), seg 1 soft_control
added by hand (a false negative).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.cli import app
from qualkam.coding.decisions import decide
from qualkam.coding.evaluate import evaluate, prf, scores
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.store.project import Project
from qualkam.store.segments import SegmentFilter, segments

from .conftest import INTERVIEW, said, write

MEETING = """\
Mark: We trust each other here. The reporting line is clear.
Dev: I have a gut feeling about this one.
Mark: Sales targets again.
"""


def _segments(project: Project, source: str) -> list[int]:
    return [int(i) for i in segments(project, SegmentFilter(sources=[source]))["segment"]]


@pytest.fixture
def coded(tmp_path: Path, small_codebook) -> Path:
    write(tmp_path / "src" / "int.md", INTERVIEW)
    write(tmp_path / "src" / "meeting.txt", MEETING)
    path = tmp_path / "project.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
    return path


@pytest.fixture
def reviewed(coded: Path) -> Path:
    with Project.open(coded) as project:
        s0, s1, s2 = _segments(project, "int-sales")
        decide(project, "ana", s0, "hard_control", "reject")
        decide(project, "ana", s1, "hard_control", "accept")
        decide(project, "ana", s2, "soft_control", "accept")
        decide(project, "ana", s1, "soft_control", "add")
    return coded


def _row(report, code: str) -> dict:
    return report.per_code.set_index("code").loc[code].to_dict()


def _insert_model(project: Project, segment: int, code: str, score: float, evidence: str = "[]") -> None:
    with project.transaction() as conn:
        conn.execute(
            """INSERT INTO codings (segment_id, source_id, start, "end", text, code_id, coder, origin, status, score,
               evidence, created_at, updated_at)
               SELECT id, source_id, start, "end", text, ?, NULL, 'model', 'suggested', ?, ?, 'now', 'now'
               FROM segments WHERE id = ?""",
            (code, score, evidence, segment),
        )


# -- prf --------------------------------------------------------------------------------------


def test_prf_counts_and_scores() -> None:
    tp, fp, fn, precision, recall, f1 = prf({1, 2, 3}, {2, 3, 4})
    assert (tp, fp, fn) == (2, 1, 1)
    assert precision == pytest.approx(2 / 3) and recall == pytest.approx(2 / 3) and f1 == pytest.approx(2 / 3)


def test_prf_undefined_is_none_never_nan() -> None:
    assert prf(set(), set()) == (0, 0, 0, None, None, None)
    # Nothing suggested, something missed: precision is 0/0, but F1 is a real 0.
    assert prf(set(), {"a"}) == (0, 0, 1, None, 0.0, 0.0)
    assert prf({"a"}, set()) == (0, 1, 0, 0.0, None, 0.0)
    assert scores(3, 1, 2).f1 == pytest.approx(6 / 9)


# -- the library ------------------------------------------------------------------------------


def test_per_code_precision_recall_f1_by_hand(reviewed: Path) -> None:
    with Project.open(reviewed) as project:
        report = evaluate(project, "coder:ana")
    assert list(report.per_code["code"]) == ["hard_control", "soft_control"]  # codebook order
    hard, soft = _row(report, "hard_control"), _row(report, "soft_control")
    assert (hard["reference"], hard["suggested"], hard["tp"], hard["fp"], hard["fn"]) == (1, 2, 1, 1, 0)
    assert (hard["precision"], hard["recall"]) == (0.5, 1.0) and hard["f1"] == pytest.approx(2 / 3)
    assert (soft["reference"], soft["suggested"], soft["tp"], soft["fp"], soft["fn"]) == (2, 1, 1, 0, 1)
    assert (soft["precision"], soft["recall"]) == (1.0, 0.5) and soft["f1"] == pytest.approx(2 / 3)
    micro, macro = report.overall["micro"], report.overall["macro"]
    assert (micro["tp"], micro["fp"], micro["fn"]) == (2, 1, 1)
    assert micro["precision"] == pytest.approx(2 / 3) and micro["recall"] == pytest.approx(2 / 3)
    assert macro["precision"] == pytest.approx(0.75) and macro["recall"] == pytest.approx(0.75)
    assert macro["f1"] == pytest.approx(2 / 3) and macro["codes"] == 2


def test_false_positives_and_negatives_say_where_and_why(reviewed: Path) -> None:
    with Project.open(reviewed) as project:
        s0, s1, _ = _segments(project, "int-sales")
        report = evaluate(project, "coder:ana")
    fp = report.false_positives.to_dict(orient="records")
    assert len(fp) == 1
    assert (fp[0]["code"], fp[0]["source"], fp[0]["segment"]) == ("hard_control", "int-sales", s0)
    assert fp[0]["evidence"] == "sales targets" and fp[0]["rules"] == "lemma:sales target"
    assert fp[0]["text"] == "How were the sales targets set?"
    fn = report.false_negatives.to_dict(orient="records")
    assert [(r["code"], r["source"], r["segment"]) for r in fn] == [("soft_control", "int-sales", s1)]
    assert fn[0]["text"].startswith("They came from the US.")


def test_per_rule_tp_and_fp(reviewed: Path) -> None:
    with Project.open(reviewed) as project:
        report = evaluate(project, "coder:ana")
    rules = {(r.code, r.rule): (r.tp, r.fp) for r in report.per_rule.itertuples()}
    assert rules == {
        ("hard_control", "lemma:sales target"): (1, 1),
        ("hard_control", "tokens:1"): (1, 0),
        ("soft_control", "lemma:trust each other"): (1, 0),
        ("soft_control", "lemma:gut feeling"): (1, 0),
    }


def test_unseen_source_contributes_nothing(reviewed: Path) -> None:
    """The meeting has four suggestions ana never looked at: not false positives."""
    with Project.open(reviewed) as project:
        report = evaluate(project, "coder:ana")
        assert report.sources == ["int-sales"]
        assert set(report.false_positives["source"]) == {"int-sales"}
        assert any("1 source(s) with suggestions not evaluated" in n for n in report.notes)
        # Once ben decides one thing in the meeting, the human layer has seen it: all its
        # suggestions are judged (ben accepted one; the other three are false positives).
        m0 = _segments(project, "meeting")[0]
        decide(project, "ben", m0, "soft_control", "accept")
        human = evaluate(project, "human")
    assert human.sources == ["int-sales", "meeting"]
    assert _row(human, "hard_control")["fp"] == 1 + 2 and _row(human, "soft_control")["fp"] == 1
    assert _row(human, "soft_control")["tp"] == 2


def test_undefined_figures_are_none_with_a_note(reviewed: Path) -> None:
    with Project.open(reviewed) as project:
        s0, s1, s2 = _segments(project, "int-sales")
        decide(project, "ana", s2, "control", "add")  # the parent: in the reference, never suggested
        report = evaluate(project, "coder:ana", codes=["control", "hard_control"])
    control = report.as_dict()["codes"][0]
    assert control["code"] == "control" and control["precision"] is None
    assert control["recall"] == 0.0 and control["f1"] == 0.0
    assert any("precision undefined" in n and "control" in n for n in report.notes)
    # macro precision skips the undefined one; macro recall and F1 count it
    macro = report.overall["macro"]
    assert macro["precision"] == pytest.approx(0.5) and macro["recall"] == pytest.approx(0.5)
    assert macro["f1"] == pytest.approx((0 + 2 / 3) / 2)


def test_model_suggestions_alone_and_both(reviewed: Path) -> None:
    with Project.open(reviewed) as project:
        with pytest.raises(QualkamError, match="run qualkam train, then qualkam code with model suggestions"):
            evaluate(project, "coder:ana", "model")
        _, s1, _ = _segments(project, "int-sales")
        _insert_model(project, s1, "soft_control", 0.8)
        model = evaluate(project, "coder:ana", "model")
        both = evaluate(project, "coder:ana", "both")
    soft = _row(model, "soft_control")
    assert (soft["tp"], soft["fp"], soft["fn"]) == (1, 0, 1)
    hard = model.as_dict()["codes"][0]
    assert hard["code"] == "hard_control" and hard["precision"] is None and hard["recall"] == 0.0
    assert list(model.per_rule["rule"]) == ["model"]  # no words: the rule is the origin
    soft = _row(both, "soft_control")
    assert (soft["tp"], soft["fp"], soft["fn"]) == (2, 0, 0)  # either origin suggesting counts
    assert _row(both, "hard_control")["fp"] == 1


def test_errors(coded: Path) -> None:
    with Project.open(coded) as project:
        with pytest.raises(QualkamError, match="no people's codings"):
            evaluate(project, "human")
        decide(project, "ana", _segments(project, "int-sales")[1], "hard_control", "accept")
        for against, message in [
            ("coder:zed", "unknown coder 'zed'.*ana"),
            ("consensus", "qualkam reconcile"),
            ("auto", "choose from: human, consensus, coder:NAME"),
            ("coder:", "against 'coder:' names no coder"),
        ]:
            with pytest.raises(QualkamError, match=message):
                evaluate(project, against)
        with pytest.raises(QualkamError, match="unknown value 'rule' in suggest; choose from: rules, model, both"):
            evaluate(project, "human", "rule")
        with pytest.raises(QualkamError, match="unknown code.*nope"):
            evaluate(project, "human", codes=["nope"])


def test_rejections_only_is_a_reference(coded: Path) -> None:
    """A coder who rejected every suggestion of a source still says 'nothing here'."""
    with Project.open(coded) as project:
        decide(project, "ana", _segments(project, "int-sales")[0], "hard_control", "reject")
        report = evaluate(project, "coder:ana")
    assert report.overall["micro"]["fp"] == 3 and report.overall["micro"]["recall"] is None
    assert any("accepted no code" in n for n in report.notes)


# -- the CLI ----------------------------------------------------------------------------------


def test_cli_table(reviewed: Path, runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["evaluate", "--against", "coder:ana", "--project", str(reviewed)], env={"COLUMNS": "120"}
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("hard_control") < out.index("soft_control")
    assert "0.500" in out and "0.667" in out and "micro: P 0.667 · R 0.667 · F1 0.667" in out
    assert "false positives" in out and "How were the" in out and "lemma:sales target" in out
    assert "false negatives" in out and "They came from the US" in out
    assert "not evaluated" in result.stderr


def test_cli_show_limits_the_lists(reviewed: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["evaluate", "--against", "coder:ana", "--show", "0", "--project", str(reviewed)])
    assert result.exit_code == 0
    assert "false positives" not in result.stdout and "hard_control" in result.stdout


def test_cli_json_has_no_nan(reviewed: Path, runner: CliRunner) -> None:
    with Project.open(reviewed) as project:
        decide(project, "ana", _segments(project, "int-sales")[2], "control", "add")
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--against",
            "coder:ana",
            "--codes",
            "control,hard_control,soft_control",
            "--format",
            "json",
            "--project",
            str(reviewed),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "NaN" not in result.stdout
    data = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert [c["code"] for c in data["codes"]] == ["control", "hard_control", "soft_control"]
    assert data["codes"][0]["precision"] is None
    assert data["false_positives"][0]["rules"] == "lemma:sales target"
    assert set(data) >= {"overall", "rules", "false_negatives", "notes", "sources"}
    for value in data["overall"]["micro"].values():
        assert value is None or not math.isnan(value)


def test_cli_csv_to_file(reviewed: Path, runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "eval.csv"
    result = runner.invoke(
        app, ["evaluate", "--against", "coder:ana", "--format", "csv", "--out", str(target), "--project", str(reviewed)]
    )
    assert result.exit_code == 0, result.output
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "code,label,reference,suggested,tp,fp,fn,precision,recall,f1"
    assert lines[1].startswith("hard_control,Hard control,1,2,1,1,0,0.5,1.0,0.66")


def test_cli_errors_exit_2(reviewed: Path, runner: CliRunner) -> None:
    for args, message in [
        (["--against", "coder:zed"], "unknown coder 'zed'"),
        (["--suggest", "model"], "run qualkam train, then qualkam code with model suggestions"),
        (["--format", "xml"], "unknown format 'xml'"),
    ]:
        result = runner.invoke(app, ["evaluate", *args, "--project", str(reviewed)])
        assert result.exit_code == 2, args
        assert message in said(result.stderr)
        assert "Traceback" not in result.output


def test_cli_model_success(reviewed: Path, runner: CliRunner) -> None:
    """Model evidence is similar coded segments, without offsets: shown as where it resembles."""
    similar = json.dumps(
        [{"segment": 99, "source": "int-other", "text": "We trust them.", "similarity": 0.4, "rule": "model:similar"}]
    )
    with Project.open(reviewed) as project:
        s0, _, s2 = _segments(project, "int-sales")
        _insert_model(project, s2, "soft_control", 0.9, similar)
        _insert_model(project, s0, "soft_control", 0.7, similar)
    result = runner.invoke(
        app,
        ["evaluate", "--against", "coder:ana", "--suggest", "model", "--format", "json", "--project", str(reviewed)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["suggest"] == "model" and data["overall"]["micro"]["tp"] == 1
    assert data["false_positives"][0]["evidence"] == "similar to int-other · segment 99"
    assert data["rules"] == [{"code": "soft_control", "rule": "model:similar", "tp": 1, "fp": 1, "precision": 0.5}]
    table = runner.invoke(
        app,
        ["evaluate", "--against", "coder:ana", "--suggest", "model", "--project", str(reviewed)],
        env={"COLUMNS": "120"},
    )
    assert table.exit_code == 0 and "similar to int-other" in table.stdout


def test_cli_no_reference_exit_2(coded: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["evaluate", "--project", str(coded)])
    assert result.exit_code == 2 and "no people's codings" in result.stderr
