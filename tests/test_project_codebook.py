"""Issue 11, part 1: the project owns its codebook, and nothing assumes KAM.

A small study of hospital wards with a codebook of its own (not KAM): a re-run keeps it, a
different codebook needs an explicit flag once people have coded, every run says which
codebook it used, the report balances the attributes the codebook declares, and
``codebook show`` with no argument shows the project's codebook.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qualkam.coding.codebook import load_codebook, parse_codebook
from qualkam.coding.decisions import decide
from qualkam.coding.run import CodebookChangeError, code_folder
from qualkam.errors import CodebookError
from qualkam.render.report import build_report
from qualkam.store.analysis import phase_ids
from qualkam.store.codebooks import people_codings_by_code
from qualkam.store.project import Project
from qualkam.store.segments import codings

from .conftest import run_cli, segment_with, write

WARD = """\
name: Ward climate
version: "0.3"
phases:
  - {id: before, label: Before the merger}
  - {id: after, label: After the merger}
phase_rules:
  - {phase: before, date: {to: 2020-12-31}}
  - {phase: after, date: {from: 2021-01-01}}
compare: [tone]
codes:
  - id: workload
    label: Workload
    attributes: {tone: strain, pole: heavy}
    patterns:
      lemmas: [night shift, too many patient]
  - id: support
    label: Support
    attributes: {tone: resource, pole: light}
    patterns:
      lemmas: [my manager, team help]
"""

ANA = """\
---
date: 2020-05-01
type: interview
participants:
  Ana: {role: Nurse, unit: North}
---
Ana: The night shift was hard, too many patients.
Ana: My manager listened though.
"""

BEN = """\
---
date: 2021-05-01
type: interview
participants:
  Ben: {role: Nurse, unit: South}
---
Ben: Too many patients again. The team helped me.
"""


@pytest.fixture
def ward(tmp_path: Path) -> tuple[Path, Path]:
    """(transcripts folder, codebook path) of the ward study."""
    write(tmp_path / "src" / "ana.md", ANA)
    write(tmp_path / "src" / "ben.md", BEN)
    return tmp_path / "src", write(tmp_path / "ward.yaml", WARD)


def suggested_codes(db: Path) -> set[str]:
    with Project.open(db) as project:
        return set(codings(project, "suggestions")["code"])


def first_segment(db: Path, words: str) -> int:
    with Project.open(db) as project:
        return segment_with(project, words)


# -- 1. the project owns its codebook --------------------------------------------------------
def test_a_rerun_without_codebook_keeps_the_projects_own(runner, ward, tmp_path: Path) -> None:
    src, book = ward
    db, out = tmp_path / "p.db", tmp_path / "out"
    first = run_cli(runner, "code", src, "--codebook", book, "--project", db, "--out", out)
    assert first.exit_code == 0, first.output
    assert f"codebook Ward climate 0.3 (file {book})" in first.stdout
    assert suggested_codes(db) == {"workload", "support"}
    again = run_cli(runner, "code", src, "--project", db, "--out", out)
    assert again.exit_code == 0, again.output
    assert "codebook Ward climate 0.3 (the project's codebook)" in again.stdout
    assert "coded 0 · unchanged 2" in again.stdout, "nothing is re-suggested"
    assert suggested_codes(db) == {"workload", "support"}, "the suggestions are still the user's codes"


def test_a_new_project_starts_with_the_built_in_codebook_and_says_so(runner, ward, tmp_path: Path) -> None:
    src, _ = ward
    result = run_cli(runner, "code", src, "--project", tmp_path / "p.db", "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    assert "a new project: the built-in codebook 'kam'" in result.stderr


def test_the_library_call_uses_the_projects_codebook(ward, tmp_path: Path) -> None:
    src, book = ward
    with Project.open(tmp_path / "p.db", create=True) as project:
        report = code_folder(src, load_codebook(book), project, out_dir=None)
        assert report.codebook is not None and report.codebook.origin == "file"
        report = code_folder(src, None, project, out_dir=None)
        assert report.codebook is not None and report.codebook.name == "Ward climate"
        assert report.codebook.origin == "project" and report.unchanged == 2
        assert project.codebook().compare[0].attribute == "tone"  # type: ignore[union-attr]


def test_an_edited_codebook_file_is_not_picked_up_silently(runner, ward, tmp_path: Path) -> None:
    src, book = ward
    db = tmp_path / "p.db"
    assert run_cli(runner, "code", src, "-c", book, "-p", db, "-o", tmp_path / "out").exit_code == 0
    book.write_text(WARD.replace('"0.3"', '"0.4"'), encoding="utf-8")
    again = run_cli(runner, "code", src, "-p", db, "-o", tmp_path / "out")
    assert "codebook Ward climate 0.3 (the project's codebook)" in again.stdout
    assert f"the codebook file {book} has changed since the project stored it" in again.stderr


def test_a_different_codebook_is_refused_once_people_have_coded(runner, ward, tmp_path: Path) -> None:
    src, book = ward
    db, out = tmp_path / "p.db", tmp_path / "out"
    assert run_cli(runner, "code", src, "-c", book, "-p", db, "-o", out).exit_code == 0
    with Project.open(db) as project:
        decide(project, "ana", first_segment(db, "night shift"), "workload", "accept")
        decide(project, "ana", first_segment(db, "My manager"), "support", "accept")
    refused = run_cli(runner, "code", src, "-c", "kam", "-p", db, "-o", out)
    assert refused.exit_code == 2
    message = " ".join(refused.stderr.split())
    assert "holds 2 coding(s) by people" in message
    assert "codes removed: 2 (workload, support)" in message and "codes added: 51" in message
    assert "2 of people's codings use removed codes (workload: 1, support: 1)" in message
    assert "--replace-codebook" in message and "qualkam codebook migrate" in message
    assert suggested_codes(db) == {"workload", "support"}, "nothing was changed"
    with Project.open(db) as project:
        assert project.codebook().name == "Ward climate"  # type: ignore[union-attr]

    accepted = run_cli(runner, "code", src, "-c", "kam", "-p", db, "-o", out, "--replace-codebook")
    assert accepted.exit_code == 0, accepted.output
    assert "codebook KAM framework 1.1 (built-in 'kam')" in accepted.stdout
    assert "replacing the project's codebook Ward climate 0.3" in " ".join(accepted.stderr.split())
    with Project.open(db) as project:
        assert project.codebook().name == "KAM framework"  # type: ignore[union-attr]
        assert people_codings_by_code(project) == {"support": 1, "workload": 1}, "people's codings are kept"
        assert phase_ids(project)[0] == "pre_kam"
        assert "before" not in set(phase_ids(project))


def test_a_different_codebook_refused_in_the_library_too(ward, tmp_path: Path) -> None:
    src, book = ward
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(src, book, project, out_dir=None)
        decide(project, "ana", first_segment(tmp_path / "p.db", "night shift"), "support", "reject")
        edited = parse_codebook(WARD.replace("Support", "Support at work"), "ward2.yaml")
        with pytest.raises(CodebookChangeError) as info:
            code_folder(src, edited, project, out_dir=None)
        assert info.value.change.changed == {"support": ["label"]}
        assert "no coding by people uses a removed code" in str(info.value)
        report = code_folder(src, edited, project, out_dir=None, replace_codebook=True)
        assert report.coded == 2 and project.codebook().codes["support"].label == "Support at work"  # type: ignore[union-attr]


def test_a_different_codebook_without_peoples_codings_is_used_with_a_note(runner, ward, tmp_path: Path) -> None:
    src, book = ward
    db, out = tmp_path / "p.db", tmp_path / "out"
    assert run_cli(runner, "code", src, "-p", db, "-o", out).exit_code == 0  # built-in kam
    switched = run_cli(runner, "code", src, "-c", book, "-p", db, "-o", out)
    assert switched.exit_code == 0, switched.output
    assert "this run uses Ward climate 0.3 (file" in switched.stderr
    assert "no coding by people yet" in switched.stderr
    assert suggested_codes(db) == {"workload", "support"}


# -- 2. compared attributes, not KAM's poles ---------------------------------------------------
def test_compare_is_validated_with_clear_errors() -> None:
    base = WARD.replace("compare: [tone]\n", "")
    for compare, message in [
        ("compare: 3\n", "compare: must be a list of code attribute names"),
        ("compare: [colour]\n", "no code has the attribute 'colour' (code attributes here: tone, pole)"),
        ("compare: [tone, tone]\n", "'tone' is listed twice"),
        ("compare: [{label: x}]\n", "compare[0].attribute: is required"),
        ("compare: [{attribute: tone, colour: red}]\n", "unknown field(s) ['colour']"),
        ("compare: [[tone]]\n", "is not a code attribute name"),
    ]:
        with pytest.raises(CodebookError) as info:
            parse_codebook(base.replace("codes:\n", compare + "codes:\n"), "w.yaml")
        assert message in str(info.value), (compare, str(info.value))
    book = parse_codebook(base.replace("codes:\n", "compare: [{attribute: tone, label: Strain or resource}]\ncodes:\n"))
    assert book.compare[0].title == "Strain or resource"
    assert parse_codebook(base).compare == []


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=8,
    )
)
def test_any_compare_value_is_accepted_or_reported(value) -> None:
    import yaml

    text = WARD.replace(
        "compare: [tone]\n", "compare: " + yaml.safe_dump(value, default_flow_style=True).strip() + "\n"
    )
    try:
        book = parse_codebook(text, "w.yaml")
    except CodebookError as exc:
        assert all(p.startswith("w.yaml:") for p in exc.problems)
    else:
        assert all(c.attribute in ("tone", "pole") for c in book.compare)


def test_the_kam_codebook_declares_pole() -> None:
    assert [c.attribute for c in load_codebook("kam").compare] == ["pole"]


def test_the_report_balances_what_the_codebook_declares(ward, tmp_path: Path) -> None:
    src, book = ward
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(src, book, project, out_dir=None)
        page = build_report(project)
    assert '<section class="part" id="balance-tone"><h2>Balance of tone by phase</h2>' in page
    assert '<a href="#balance-tone">Balance of tone by phase</a>' in page
    balance = page.split('id="balance-tone"')[1].split("</section>")[0]
    assert 'title="strain: 1">50%</span>' in balance and 'title="resource: 1">50%</span>' in balance
    assert "pole" not in balance and "Post-Bureaucratic" not in page and 'id="balance-pole"' not in page


def test_no_declaration_no_balance_section(ward, tmp_path: Path) -> None:
    src, _ = ward
    book = write(tmp_path / "plain.yaml", WARD.replace("compare: [tone]\n", ""))
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(src, book, project, out_dir=None)
        page = build_report(project)
    assert 'id="balance' not in page and "Balance of" not in page and "Formal versus" not in page


def test_rows_unit_is_the_speakers_unit_else_the_source_attribute(ward, tmp_path: Path) -> None:
    from qualkam.analysis.matrix import build_matrix

    src, book = ward
    write(src / "cal.md", "---\ndate: 2021-06-01\nunit: East\n---\nCal: The night shift again.\n")
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(src, book, project, out_dir=None)
        matrix = build_matrix(project, rows="unit")
    assert list(matrix.index) == ["East", "North", "South"]
    assert matrix.loc["East", "workload"] == 1 and matrix.loc["North", "support"] == 1


def test_training_groups_codes_by_the_compared_attribute_not_pole(ward, tmp_path: Path) -> None:
    from qualkam.coding.learn import code_groups

    src, book = ward
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(src, book, project, out_dir=None)
        assert code_groups(project, ["workload", "support"]) == {"workload": "strain", "support": "resource"}
        plain = parse_codebook(WARD.replace("compare: [tone]\n", ""), "plain.yaml")
        code_folder(src, plain, project, out_dir=None)
        assert code_groups(project, ["workload", "support"]) == {"workload": "workload", "support": "support"}


# -- 3. codebook show with no argument ---------------------------------------------------------
def test_codebook_show_without_argument_shows_the_projects_codebook(runner, ward, tmp_path: Path) -> None:
    src, book = ward
    db = tmp_path / "p.db"
    assert run_cli(runner, "code", src, "-c", book, "-p", db, "-o", tmp_path / "out").exit_code == 0
    shown = run_cli(runner, "codebook", "show", "--project", db)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0] == "Ward climate 0.3"
    assert "Workload workload tone=strain pole=heavy 2 patterns" in shown.stdout
    assert "compare: tone" in shown.stdout
    assert "the project's codebook" in shown.stderr
    by_path = run_cli(runner, "codebook", "show", book)
    assert by_path.stdout == shown.stdout, "the same tree from the file"


def test_codebook_show_without_argument_and_no_project_says_what_to_do(runner, tmp_path: Path) -> None:
    missing = run_cli(runner, "codebook", "show", "--project", tmp_path / "none.db")
    assert missing.exit_code == 2 and "no qualkam project at" in missing.stderr
    Project.open(tmp_path / "empty.db", create=True).close()
    empty = run_cli(runner, "codebook", "show", "--project", tmp_path / "empty.db")
    assert empty.exit_code == 2
    assert "has no codebook yet" in empty.stderr and "qualkam codebook show kam" in " ".join(empty.stderr.split())


# -- the stored codebook is the project's, wherever it is read ---------------------------------
def test_a_stored_codebook_that_no_longer_validates_is_said_and_can_be_replaced(runner, ward, tmp_path: Path) -> None:
    src, book = ward
    db, out = tmp_path / "p.db", tmp_path / "out"
    assert run_cli(runner, "code", src, "-c", book, "-p", db, "-o", out).exit_code == 0
    with Project.open(db) as project:
        decide(project, "ana", first_segment(db, "night shift"), "workload", "accept")
        with project.transaction() as conn:  # as if a newer qualkam checked more than the one that stored it
            conn.execute("UPDATE codebooks SET yaml = yaml || 'surprise: 1\n'")
        assert "no longer validates" in build_report(project)
    again = run_cli(runner, "code", src, "-p", db, "-o", out)
    assert again.exit_code == 2 and "no longer validates; load a fixed version with --codebook PATH" in again.stderr
    fixed = write(tmp_path / "fixed.yaml", WARD.replace('"0.3"', '"0.4"'))
    refused = run_cli(runner, "code", src, "-c", fixed, "-p", db, "-o", out)
    assert refused.exit_code == 2 and "--replace-codebook" in refused.stderr
    assert "the same codes and phases" in refused.stderr
    replaced = run_cli(runner, "code", src, "-c", fixed, "-p", db, "-o", out, "--replace-codebook")
    assert replaced.exit_code == 0, replaced.output
    assert run_cli(runner, "code", src, "-p", db, "-o", out).exit_code == 0


def test_the_qdc_export_reads_the_projects_codebook_not_the_last_loaded(ward, tmp_path: Path) -> None:
    from qualkam.interchange.refi.writer import export_qdc

    src, _ = ward
    with_include = WARD.replace("    label: Workload\n", "    label: Workload\n    include: [Shift length counts]\n")
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(src, parse_codebook(with_include, "a.yaml"), project, out_dir=None)
        code_folder(src, "kam", project, out_dir=None)
        code_folder(src, parse_codebook(with_include, "a.yaml"), project, out_dir=None)  # back to the first
        assert project.codebook().path == "a.yaml"  # type: ignore[union-attr]
        export_qdc(project, tmp_path / "a.qdc")
    assert "Shift length counts" in (tmp_path / "a.qdc").read_text(encoding="utf-8")
