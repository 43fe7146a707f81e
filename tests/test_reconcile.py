"""Reconcile: agreements applied at once, disagreements decided in the loop or a sheet.

The fixture (H = hard_control, S = soft_control, - = no code):

    int-r position   0   1   2   3   4   5   6   7        int-x  0
    ana              H   H   S   H   H   S   H   -        (not seen)
    ben              H   S   H   S   S   H   S   -        S

Agreements: positions 0 ({H}) and 7 (nothing). Disagreements: 1 to 6. int-x is missing for ana.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qualkam.cli import app
from qualkam.coding.decisions import decide
from qualkam.coding.reconcile import Choice, apply_agreements, decide_disagreement, plan_reconcile
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.store.audit import audit_table
from qualkam.store.project import Project
from qualkam.store.segments import SegmentFilter, codings

from .conftest import segment_ids, write

EIGHT_TURNS = "---\nid: int-r\ntype: interview\n---\n" + "".join(
    f"{'I' if n % 2 == 0 else 'Sam'}: Turn number {n} about the account.\n" for n in range(8)
)
EXTRA = "---\nid: int-x\ntype: interview\n---\nR: We trust each other.\n"

H, S = "hard_control", "soft_control"
ANA = [H, H, S, H, H, S, H, None]
BEN = [H, S, H, S, S, H, S, None]
CY = [H, S, S, H, None, S, S, None]


def positions(project: Project, source: str = "int-r") -> dict[int, int]:
    return {position: i for (src, position), i in segment_ids(project).items() if src == source}


@pytest.fixture
def db(tmp_path: Path, small_codebook) -> Path:
    write(tmp_path / "src" / "r.md", EIGHT_TURNS)
    write(tmp_path / "src" / "x.md", EXTRA)
    path = tmp_path / "p.db"
    with Project.open(path, create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        seg = positions(project)
        for coder, codes in (("ana", ANA), ("ben", BEN)):
            for position, code in enumerate(codes):
                if code:
                    decide(project, coder, seg[position], code, "accept")
        decide(project, "ben", positions(project, "int-x")[0], S, "accept")
    return path


def _consensus_audit(project: Project) -> pd.DataFrame:
    """The audit lines of changes to the consensus coder's codings."""
    table = audit_table(project)
    return table[table["after"].fillna("").str.contains('"coder": "consensus"', regex=False)]


def consensus(db: Path, coder: str = "consensus") -> dict[int, dict[str, tuple[str, str | None]]]:
    """Position -> code -> (status, memo) of the consensus coder's codings in int-r."""
    found: dict[int, dict[str, tuple[str, str | None]]] = {}
    with Project.open(db) as project:
        table = codings(project, "all", SegmentFilter(sources=["int-r"]))
        for r in table[table["coder"] == coder].itertuples():
            memo = r.memo if isinstance(r.memo, str) else None  # pandas reads a missing memo as NaN
            found.setdefault(r.position, {})[r.code] = (r.status, memo)
    return found


def reconcile(runner: CliRunner, db: Path, keys: str = "", *extra: object):
    args = ["reconcile", "--coders", "ana,ben", "--decider", "lead", "--project", str(db), *map(str, extra)]
    result = runner.invoke(app, args, input=keys)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_plan_sorts_agreements_disagreements_and_missing(db: Path) -> None:
    with Project.open(db) as project:
        plan = plan_reconcile(project, ["ana", "ben"])
        seg = positions(project)
    assert (plan.agreed, plan.missing) == (2, 1)
    assert plan.agreements == [(seg[0], frozenset({H}))], "an agreed empty set writes nothing"
    assert [d.segment_id for d in plan.pending] == [seg[p] for p in range(1, 7)]
    assert plan.pending[0].sets == (frozenset({H}), frozenset({S}))


def test_agreements_applied_once_with_the_decider_as_actor(db: Path) -> None:
    with Project.open(db) as project:
        plan = plan_reconcile(project, ["ana", "ben"])
        applied = apply_agreements(project, plan, "lead")
        again = apply_agreements(project, plan_reconcile(project, ["ana", "ben"]), "lead")
        audit = [tuple(r) for r in _consensus_audit(project)[["actor", "action", "note"]].itertuples(index=False)]
    assert (applied.segments, applied.codings, again.codings) == (1, 1, 0)
    assert consensus(db) == {0: {H: ("accepted", None)}}
    assert audit == [("lead", "accept", "reconcile: agreement")]


def test_names_are_checked(db: Path) -> None:
    with Project.open(db) as project:
        with pytest.raises(QualkamError, match="consensus 'ana' is one of the coders") as same:
            plan_reconcile(project, ["ana", "ben"], consensus="ana")
        with pytest.raises(QualkamError, match="at least two coders") as one:
            plan_reconcile(project, ["ana"])
        plan = plan_reconcile(project, ["ana", "ben"])
        with pytest.raises(QualkamError, match="^decider needs the name") as nobody:
            decide_disagreement(project, plan, plan.pending[0], Choice("both"), " ")
    # The core names its arguments (the CLI shows them as --as, --coder, --decider).
    assert [e.value.argument for e in (same, one, nobody)] == ["consensus", "coders", "decider"]
    assert not any("--" in str(e.value) for e in (same, one, nobody))


def test_loop_keep_a_keep_b_quit_resume_union_neither_other_skip(runner: CliRunner, db: Path) -> None:
    first = reconcile(runner, db, "1\nreason one\nb\n\nq\n")
    assert first.exit_code == 0, first.output
    assert "agreements: 2 segment(s) where ana, ben gave the same codes; 1 newly given to consensus" in first.output
    assert (
        "1/6 · int-r" in first.output
        and "1 ana: hard_control" in first.output
        and "2 ben: soft_control" in first.output
    )
    assert "2 decision(s) saved for consensus by lead; 0 skipped; 4 left to decide" in first.output

    second = reconcile(runner, db, "u\nboth fit\nn\n\no\nno_such_code\no\ncontrol\nparent only\ns\n")
    assert "1/4 · int-r" in second.output, "decided segments are not asked again"
    assert "unknown code(s) no_such_code" in second.output, "a typo re-asks the same segment"
    assert "3 decision(s) saved for consensus by lead; 1 skipped; 1 left to decide" in second.output

    third = reconcile(runner, db, "x\n2\n\n")
    assert "unknown key 'x'" in third.output and "1/1 · int-r" in third.output
    assert "nothing left to decide" in reconcile(runner, db).output

    assert consensus(db) == {
        0: {H: ("accepted", None)},
        1: {H: ("accepted", "reason one"), S: ("rejected", "reason one")},  # keep ana
        2: {H: ("accepted", None), S: ("rejected", None)},  # keep ben, no reason
        3: {H: ("accepted", "both fit"), S: ("accepted", "both fit")},  # union
        4: {H: ("rejected", None), S: ("rejected", None)},  # neither
        5: {"control": ("accepted", "parent only"), H: ("rejected", "parent only"), S: ("rejected", "parent only")},
        6: {S: ("accepted", None), H: ("rejected", None)},  # skipped, then keep ben
    }
    with Project.open(db) as project:
        notes = {tuple(r) for r in _consensus_audit(project)[["actor", "note"]].itertuples(index=False)}
    assert ("lead", "reconcile: keep ana; reason: reason one") in notes
    assert ("lead", "reconcile: other: control; reason: parent only") in notes
    assert {actor for actor, _ in notes} == {"lead"}

    matrix = runner.invoke(
        app, ["matrix", "--from", "consensus", "--rows", "source", "--format", "csv", "--project", str(db)]
    )
    assert matrix.exit_code == 0, matrix.output
    rows = {r["source"]: r for r in csv.DictReader(io.StringIO(matrix.stdout))}
    assert (rows["int-r"]["control"], rows["int-r"][H], rows["int-r"][S]) == ("1", "4", "2")


def test_three_coders_digit_keys(runner: CliRunner, db: Path) -> None:
    with Project.open(db) as project:
        seg = positions(project)
        for position, code in enumerate(CY):
            if code:
                decide(project, "cy", seg[position], code, "accept")
    result = runner.invoke(
        app,
        ["reconcile", "--coders", "ana,ben,cy", "--as", "panel", "--decider", "lead", "--project", str(db)],
        input="3\n\nq\n",
    )
    assert result.exit_code == 0, result.output
    assert "1..3 keep that coder's codes" in result.output and "3 cy: soft_control" in result.output
    assert consensus(db, "panel") == {0: {H: ("accepted", None)}, 1: {S: ("accepted", None), H: ("rejected", None)}}


def test_sheet_round_trip(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "reconcile.csv"
    out = reconcile(runner, db, "", "--sheet-out", sheet)
    assert out.exit_code == 0 and "wrote" in out.output
    with open(sheet, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["segment", "source", "speaker", "text", "ana", "ben", "decision", "reason"]
    assert [(r["ana"], r["ben"], r["decision"], r["reason"]) for r in rows][:2] == [(H, S, "", ""), (S, H, "", "")]
    for row, decision, reason in zip(
        rows,
        ["ana", "Ben", "both", "neither", "soft_control; control", ""],
        ["fits the definition", "", "", "", "", ""],
        strict=True,
    ):
        row.update(decision=decision, reason=reason)
    with open(sheet, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    applied = reconcile(runner, db, "", "--sheet-in", sheet)
    assert applied.exit_code == 0, applied.output
    assert "5 decision(s) by lead" in applied.output and "1 row(s) undecided" in applied.output
    result = consensus(db)
    assert result[1] == {H: ("accepted", "fits the definition"), S: ("rejected", "fits the definition")}
    assert result[2] == {H: ("accepted", None), S: ("rejected", None)}
    assert result[5] == {S: ("accepted", None), "control": ("accepted", None), H: ("rejected", None)}
    assert 6 not in result

    again = reconcile(runner, db, "", "--sheet-in", sheet)
    assert "0 coding(s) written" in again.output, "reading the same sheet again changes nothing"
    left = reconcile(runner, db, "", "--sheet-out", tmp_path / "left.xlsx")
    assert "1 disagreement(s)" in left.output

    from openpyxl import load_workbook

    book = load_workbook(tmp_path / "left.xlsx")
    ws = book.active
    header = [c.value for c in ws[1]]
    assert ws.max_row == 2 and header[-2:] == ["decision", "reason"]
    ws.cell(row=2, column=header.index("decision") + 1, value="ana")
    book.save(tmp_path / "left.xlsx")
    assert reconcile(runner, db, "", "--sheet-in", tmp_path / "left.xlsx").exit_code == 0
    assert consensus(db)[6] == {H: ("accepted", None), S: ("rejected", None)}


def test_bad_sheet_rows_are_all_reported_and_nothing_applied(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    with Project.open(db) as project:
        seg = positions(project)
    sheet = tmp_path / "bad.csv"
    sheet.write_text(
        "segment,decision,reason\n"
        f"{seg[1]},ana,ok\n"  # good, but not applied: the file is all or nothing
        f"{seg[2]},zed,\n"  # no coder, no code
        "abc,ana,\n"  # not a segment id
        f"{seg[0]},ana,\n"  # the coders agree here
        f"{seg[1]},ben,\n"  # second row for a segment
        f"{seg[3]},,why\n"  # a reason but no decision
        "99999,both,\n",  # unknown segment
        encoding="utf-8",
    )
    result = reconcile(runner, db, "", "--sheet-in", sheet)
    assert result.exit_code == 2
    for row, words in (
        (3, "decision 'zed' is not a coder"),
        (4, "'abc' is not a segment id"),
        (5, "do not disagree here"),
        (6, "is also on row 2"),
        (7, "a reason but no decision"),
        (8, "unknown segment 99999"),
    ):
        assert f"bad.csv:{row}: " in result.output and words in result.output, (row, words)
    assert consensus(db) == {0: {H: ("accepted", None)}}, "only the agreements"

    missing = tmp_path / "nodecision.csv"
    missing.write_text("segment,reason\n1,x\n", encoding="utf-8")
    assert "missing column 'decision'" in reconcile(runner, db, "", "--sheet-in", missing).output
    wrong = reconcile(runner, db, "", "--sheet-out", tmp_path / "x.txt")
    assert wrong.exit_code == 2 and ".xlsx or .csv" in wrong.output
    both = reconcile(runner, db, "", "--sheet-out", tmp_path / "a.csv", "--sheet-in", sheet)
    assert both.exit_code == 2
    same = runner.invoke(
        app, ["reconcile", "--coders", "ana,ben", "--as", "ben", "--decider", "lead", "--project", str(db)]
    )
    assert same.exit_code == 2 and "one of the coders" in same.output


def test_code_filter_reconciles_one_code_at_a_time(runner: CliRunner, db: Path) -> None:
    result = reconcile(runner, db, "n\n\nq\n", "--code", S)
    assert "1/6 · int-r" in result.output and "1 ana: (no code)" in result.output
    assert consensus(db)[1] == {S: ("rejected", None)}
    # hard_control is reconciled separately: position 1 is still to decide for it.
    with Project.open(db) as project:
        plan = plan_reconcile(project, ["ana", "ben"], codes=[H])
    assert plan.pending[0].segment_id == positions_of(db)[1]


def positions_of(db: Path) -> dict[int, int]:
    with Project.open(db) as project:
        return positions(project)


# -- the session without a terminal -------------------------------------------------------------
def test_a_session_decides_skips_and_quits_without_a_terminal(db: Path) -> None:
    from qualkam.coding.reconcile import ReconcileSession

    with Project.open(db) as project:
        plan = plan_reconcile(project, ["ana", "ben"])
        apply_agreements(project, plan, "lead")
        session = ReconcileSession(project, plan, "lead")
        seg = positions(project)
        assert (session.total, session.left) == (6, 6)
        assert session.current is not None and session.current.segment_id == seg[1]
        assert session.choice("1") == session.choice("a") == Choice("coder", coder="ana")
        assert session.choice("b") == Choice("coder", coder="ben")
        assert (session.choice("u"), session.choice("n"), session.choice("x")) == (
            Choice("both"),
            Choice("neither"),
            None,
        )
        assert session.decide(session.choice("1"), "reason one") == frozenset({H})
        with pytest.raises(QualkamError, match="unknown code"):
            session.choice("o", "no_such_code")
        assert session.index == 1, "a typo keeps the session on the same disagreement"
        session.skip()
        other = session.choice("o", "control")
        assert session.decide(other) == frozenset({"control"})
        session.quit()
        assert session.finished and session.current is None
        assert (session.decided, session.skipped, session.left) == (2, 1, 4)
    result = consensus(db)
    assert result[1] == {H: ("accepted", "reason one"), S: ("rejected", "reason one")}
    assert 2 not in result, "skipped"
    assert result[3] == {"control": ("accepted", None), H: ("rejected", None), S: ("rejected", None)}

    with Project.open(db) as project:
        again = ReconcileSession(project, plan_reconcile(project, ["ana", "ben"]), "lead")
        assert again.current is not None and again.current.segment_id == seg[2], "decided ones are not asked again"
        while again.current is not None:
            again.decide(Choice("neither"))
        assert again.left == 0 and again.decided == 4
