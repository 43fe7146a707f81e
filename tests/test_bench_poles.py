"""bench/poles.py (issue 15): a codebook's poles measured on pole passages.

A tiny codebook and a few passages written here (their own words) give counts known in advance:
right, both, wrong only, coded without a pole, uncoded, and false positives on passages without
a pole; the passages reader takes YAML and CSV, rejects bad rows in one line, and whatever it
accepts it writes back unchanged.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import qualkam
from bench import poles
from bench.poles import NONE, Passage, PassagesError
from qualkam.coding.run import code_folder
from qualkam.store.project import Project

from .conftest import write

CODEBOOK = """\
name: Tiny pole codebook
version: "1"
phases:
  - {id: pre_kam, label: Pre-KAM}
  - {id: kam_implementation, label: KAM implementation}
  - {id: formal_kam, label: Formal KAM}
  - {id: post_bureaucratic_kam, label: Post-bureaucratic KAM}
codes:
  - id: hard
    label: Hard control
    attributes: {dimension: control, pole: formal}
    patterns: {lemmas: [scorecard]}
  - id: soft
    label: Soft control
    attributes: {dimension: control, pole: post_bureaucratic}
    patterns: {lemmas: [rule of thumb]}
  - id: central
    label: Central power
    attributes: {dimension: power, pole: formal}
    patterns: {lemmas: [steering group]}
  - id: creep
    label: Creep
    patterns: {lemmas: [version twelve]}
"""

# (id, text, phase, pole, dimension) and the outcome each is written to have
ROWS = [
    ("f-right", "The scorecard decides it.", "kam_implementation", "formal", "control", "right"),
    ("p-right", "A rule of thumb, nothing more.", "post_bureaucratic_kam", "post_bureaucratic", "control", "right"),
    ("f-both", "The steering group agrees, by rule of thumb.", "formal_kam", "formal", "power", "both"),
    ("p-wrong", "Ask the steering group.", "post_bureaucratic_kam", "post_bureaucratic", "power", "wrong_only"),
    ("f-none", "Plain words, nothing to find.", "kam_implementation", "formal", "control", "uncoded"),
    ("f-nopole", "We are on version twelve.", "formal_kam", "formal", "power", "no_pole"),
    ("n-coded", "Version twelve came out on Tuesday.", "formal_kam", NONE, NONE, "coded"),
    ("n-fp", "The scorecard arrived late.", "post_bureaucratic_kam", NONE, NONE, "false_positive"),
    ("n-plain", "Lunch was late.", "pre_kam", NONE, NONE, "uncoded"),
]


def _passages() -> list[Passage]:
    return [
        Passage(pid, text, phase, pole, role="Sales Director", source_type="interview", dimension=dim)
        for pid, text, phase, pole, dim, _ in ROWS
    ]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, poles.Coded, poles.Results]:
    folder = tmp_path_factory.mktemp("poles")
    book = write(folder / "tiny.yaml", CODEBOOK)
    coded = poles.code_passages(_passages(), book, where="tiny")
    return book, coded, poles.evaluate(coded, "formal", "tiny")


def test_counts_are_exactly_as_constructed(tiny) -> None:
    _, coded, results = tiny
    assert results.outcomes == {pid: want for pid, *_, want in ROWS}
    assert coded.codes["f-both"] == ["soft", "central"], "codes in codebook order"
    t = results.total
    assert (t.passages, t.coded, t.right, t.both, t.wrong_only, t.no_pole) == (6, 5, 3, 1, 1, 1)
    assert (results.no_pole_passages, results.no_pole_coded, results.false_positives) == (3, 2, 1)
    formal, post = results.by_pole["formal"], results.by_pole["post_bureaucratic"]
    assert (formal.passages, formal.right, formal.both, formal.no_pole) == (4, 2, 1, 1)
    assert (post.passages, post.right, post.wrong_only) == (2, 1, 1)
    control, power = results.by_dimension["control"], results.by_dimension["power"]
    assert (control.passages, control.right, control.wrong_only, control.coded) == (3, 2, 0, 2)
    assert (power.passages, power.right, power.both, power.wrong_only, power.no_pole) == (3, 1, 1, 1, 1)
    assert list(results.by_phase) == ["kam_implementation", "formal_kam", "post_bureaucratic_kam"], "codebook order"
    assert results.by_phase["post_bureaucratic_kam"].wrong_only == 1


def test_balance_by_phase_and_the_claim(tiny) -> None:
    _, _, results = tiny
    balance = {b.phase: b for b in results.balance}
    assert balance["kam_implementation"].suggested == {"formal": 1}
    assert balance["kam_implementation"].shares() == (1.0, 1.0)
    assert balance["kam_implementation"].met is True
    # f-both counts once per pole; 50% is not "formal dominates"
    assert balance["formal_kam"].suggested == {"formal": 1, "post_bureaucratic": 1}
    assert balance["formal_kam"].met is False
    # p-right (post-bureaucratic), p-wrong and n-fp (formal): 2 of 3 formal where the study says < 50%
    assert balance["post_bureaucratic_kam"].shares() == (pytest.approx(2 / 3), 0.0)
    assert balance["post_bureaucratic_kam"].met is False
    assert balance["pre_kam"].claim is None and balance["pre_kam"].shares() == (None, None)
    assert results.targets() == {"right": False, "wrong_only": True, "balance": False}  # 50% right, 17% wrong only


def test_main_prints_json_and_exits_1_on_a_missed_target(tiny, tmp_path, capsys) -> None:
    book, _, _ = tiny
    path = tmp_path / "p.yaml"
    poles.write_passages(_passages()[:2], path)  # both right, one per phase
    assert poles.main(["--passages", str(path), "--codebook", str(book), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["total"]["right"] == 2 and data["total"]["right_share"] == 1.0
    assert data["targets"] == {"right": True, "wrong_only": True, "balance": False}
    # formal_kam has no passage: the study's claim there has no evidence, so it is missed, not skipped
    assert [(b["phase"], b["met"]) for b in data["balance"]] == [
        ("kam_implementation", True),
        ("formal_kam", False),
        ("post_bureaucratic_kam", True),
    ]
    assert poles.main(["--passages", str(path), "--codebook", str(book), "--misses"]) == 1
    shown = capsys.readouterr().out
    assert "right pole 2 (100%" in shown and "misses" in shown and "rule of thumb" not in shown


def test_project_mode_reads_the_balance_of_a_coded_project(tiny, tmp_path, capsys) -> None:
    book, _, _ = tiny
    src = tmp_path / "src"
    write(src / "a.md", "---\nphase: kam_implementation\n---\nR: The scorecard. The steering group.\n")
    write(src / "b.md", "---\nphase: post_bureaucratic_kam\n---\nR: A rule of thumb.\n\nR: The scorecard.\n")
    write(src / "c.md", "---\nphase: formal_kam\n---\nR: The scorecard.\n")
    with Project.open(tmp_path / "p.db", create=True) as store:
        code_folder(src, str(book), store, out_dir=None)
    balance = {b.phase: b for b in poles.project_balance(tmp_path / "p.db")}
    assert balance["kam_implementation"].suggested == {"formal": 1}, "one segment, counted once per pole"
    assert balance["post_bureaucratic_kam"].suggested == {"formal": 1, "post_bureaucratic": 1}
    assert balance["post_bureaucratic_kam"].met is False
    assert poles.main(["--project", str(tmp_path / "p.db"), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["met"] is False
    assert poles.main(["--project", str(tmp_path / "p.db"), "--layer", "coder:nobody"]) == 2
    assert capsys.readouterr().err.startswith("error: ")


# -- reading passages ----------------------------------------------------------------------------
def test_yaml_and_csv_read_the_same_passages(tmp_path) -> None:
    rows = [
        {"id": pid, "text": text, "phase": ph, "pole": pole, "dimension": dim} for pid, text, ph, pole, dim, _ in ROWS
    ]
    write(tmp_path / "p.yaml", yaml.safe_dump(rows))
    write(tmp_path / "q.yaml", yaml.safe_dump({"passages": rows}))
    with (tmp_path / "p.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "text", "phase", "pole", "dimension"])
        writer.writeheader()
        writer.writerows(rows)
    from_yaml = poles.read_passages(tmp_path / "p.yaml")
    assert from_yaml == poles.read_passages(tmp_path / "q.yaml") == poles.read_passages(tmp_path / "p.csv")
    assert from_yaml[0] == Passage(
        "f-right", "The scorecard decides it.", "kam_implementation", "formal", dimension="control"
    )
    assert from_yaml[-1].pole == NONE and not from_yaml[-1].has_pole


def test_column_names_in_any_case_and_other_columns_are_named_not_read(tmp_path) -> None:
    path = write(
        tmp_path / "p.csv", "ID,Text,Phase,Source type,POLE,notes,Colour\na,Hi there,formal_kam,meeting,formal,x,y\n"
    )
    notes: list[str] = []
    assert poles.read_passages(path, notes) == [Passage("a", "Hi there", "formal_kam", "formal", None, "meeting")]
    assert notes == [f"{path}: column(s) not read: 'notes', 'Colour' (columns: {', '.join(poles.FIELDS)})"]


def test_the_shipped_passages_read_and_are_checked_against_the_kam_codebook() -> None:
    for name, size in (("dev.yaml", 60), ("test.yaml", 90)):
        path = Path(poles.__file__).with_name("kam_poles") / name
        passages = poles.read_passages(path)
        assert len(passages) == size
        head = path.read_text(encoding="utf-8").split("\n- ", 1)[0].lower()
        assert "invented" in head and "not data" in head and "not quotations" in head
        assert {p.pole for p in passages} == {"formal", "post_bureaucratic", NONE}
        assert len({p.dimension for p in passages} - {NONE}) == 9


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("yaml", "- {id: a, text: hi, phase: x}\n", r"passage 1: pole is missing or empty \(write 'none'"),
        ("yaml", "- {id: a, phase: x, pole: none}\n", "passage 1: text is missing or empty"),
        (
            "yaml",
            "- {id: a, text: hi, phase: x, pole: none, ID: b}\n",
            "passage 1: column 'id' is given twice \\('ID'\\)",
        ),
        (
            "yaml",
            "- {id: a, text: hi, phase: x, pole: none}\n- {id: a, text: yo, phase: x, pole: none}\n",
            "passage 2: id 'a' is used twice",
        ),
        ("yaml", "- just text\n", "passage 1: must be a mapping"),
        ("yaml", "- {id: a, text: [1, 2], phase: x, pole: none}\n", "passage 1: text must be text, not list"),
        ("yaml", "id: a\ntext: hi\n", "must be a list of passages"),
        ("yaml", "- {id: a\n", "line 2: not valid YAML"),
        ("yaml", "[]\n", "no passages"),
        ("csv", "id,text,phase\na,hi,x\n", "the header lacks pole"),
        ("csv", "", "no header row"),
        ("csv", "id,text,phase,pole\na,hi,x,none\nb,,x,none\n", "line 3: text is missing or empty"),
        ("csv", "id,text,phase,pole\na,hi,x,none,extra\n", "line 2: more cells than the header has columns"),
    ],
)
def test_bad_rows_give_one_line_errors(tmp_path, kind: str, text: str, message: str) -> None:
    path = write(tmp_path / f"p.{kind}", text)
    with pytest.raises(PassagesError, match=message) as error:
        poles.read_passages(path)
    assert "\n" not in str(error.value) and str(error.value).startswith(str(path))


def test_phases_and_poles_are_checked_against_the_codebook(tiny) -> None:
    book, _, _ = tiny
    bad_phase = [Passage("a", "hi", "formal kam", "formal"), Passage("b", "hi", "phase_nine", "formal")]
    with pytest.raises(PassagesError, match=r"^f: b: phase 'phase_nine' is not a phase of the codebook \(pre_kam,"):
        poles.code_passages(bad_phase, book, where="f")  # the label 'formal kam' passes, the unknown phase not
    with pytest.raises(PassagesError, match=r"pole 'formel' is not a value .*\(formal, post_bureaucratic, none\)"):
        poles.code_passages([Passage("a", "hi", "formal_kam", "formel")], book)
    with pytest.raises(poles.QualkamError, match="no code attribute 'polarity'"):
        poles.code_passages(_passages(), book, attribute="polarity")


def test_a_passage_the_run_warns_about_is_named_by_its_id_and_keep_keeps_the_project(tiny, tmp_path) -> None:
    book, _, _ = tiny
    passages = [Passage("odd-one", "The scorecard.", "formal_kam", "formal", "Sales Director", "focus group")]
    coded = poles.code_passages(passages, book, where="mine.csv", keep=tmp_path / "kept")
    assert coded.notes == [
        "mine.csv: odd-one: source type 'focus group' is not one of the codebook's "
        "(interview, meeting, fieldnote, document, email); add it to source_types"
    ]
    assert coded.codes == {"odd-one": ["hard"]}
    with qualkam.open(tmp_path / "kept" / "poles.db") as view:
        segment = view.segments().iloc[0]
    assert (segment["source"], segment["role"], segment["phase"], segment["text"]) == (
        "odd-one",
        "Sales Director",
        "formal_kam",
        "The scorecard.",
    )
    with pytest.raises(poles.QualkamError, match="must be a new or empty folder"):
        poles.code_passages(passages, book, keep=tmp_path / "kept")


def test_main_says_a_bad_file_in_one_line(tmp_path, capsys) -> None:
    path = write(tmp_path / "p.csv", "id,text\n")
    assert poles.main(["--passages", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: the header lacks phase, pole") and err.count("\n") == 1


_VALUE = st.one_of(
    st.none(),
    st.text(st.characters(codec="utf-8"), max_size=12),
    st.sampled_from(["none", "NONE", "formal", " ", "a\nb", "2012-01-01"]),
    st.integers(-5, 5),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
_NAME = st.one_of(st.text(st.characters(codec="utf-8"), min_size=1, max_size=8), st.integers(0, 9), _VALUE)
# rows that are mostly well formed (the required fields present), and rows of anything
_ROW = st.one_of(
    st.fixed_dictionaries(
        {"id": _NAME, "text": _NAME, "phase": _NAME, "pole": _NAME},
        optional={"role": _VALUE, "source_type": _VALUE, "dimension": _VALUE, "extra": _VALUE},
    ),
    st.dictionaries(st.sampled_from([*poles.FIELDS, "extra"]), _VALUE, max_size=8),
)


def _round_trip(path: Path, tmp: Path) -> None:
    """Either a one-line PassagesError, or passages that write and read back unchanged."""
    try:
        passages = poles.read_passages(path)
    except PassagesError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))
        return
    for suffix in (".yaml", ".csv"):
        again = tmp / f"again{suffix}"
        poles.write_passages(passages, again)
        assert poles.read_passages(again) == passages


@settings(max_examples=80, deadline=None)
@given(rows=st.one_of(st.lists(_ROW, max_size=4), _VALUE, st.dictionaries(st.just("passages"), st.lists(_ROW))))
def test_any_yaml_rows_give_a_clean_error_or_rows_that_round_trip(tmp_path_factory, rows) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(rows, allow_unicode=True), encoding="utf-8")
    _round_trip(path, tmp)


_CELL = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10)


@settings(max_examples=80, deadline=None)
@given(
    header=st.one_of(
        st.permutations(poles.FIELDS), st.lists(st.sampled_from([*poles.FIELDS, "extra"]), unique=True, max_size=8)
    ),
    cells=st.lists(
        st.one_of(st.lists(_CELL.filter(str.strip), min_size=7, max_size=7), st.lists(_CELL, max_size=9)), max_size=4
    ),
)
def test_any_csv_rows_give_a_clean_error_or_rows_that_round_trip(tmp_path_factory, header, cells) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    path = tmp / "p.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if header:
            writer.writerow(header)
        writer.writerows(cells)
    _round_trip(path, tmp)
