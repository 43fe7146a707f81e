"""A .qdpx from a stranger (issue 5, "Safety"): every crafted file gives one clear error (or,
for a dangling path, a warning), never a traceback, and leaves the project as it was.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualkam.cli import app
from qualkam.interchange.refi import safezip
from qualkam.interchange.refi.reader import import_qdc, import_qdpx
from qualkam.interchange.refi.safezip import RefiFileError, open_qdpx
from qualkam.store.project import Project
from qualkam.store.reads import coders

from .conftest import source_texts, write
from .test_refi_import import SOURCE, TEXT, project_xml, qdpx, snapshot

GOOD_QDE = project_xml("")

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE Project [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&lol9;"/>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE Project [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="x"><Users><User guid="5A1B2C3D-0000-4000-8000-000000000001"
name="&secret;"/></Users></Project>
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A project with something in it already, so 'unchanged' means something."""
    path = tmp_path / "p.db"
    good = qdpx(tmp_path / "good.qdpx", GOOD_QDE, {f"sources/{SOURCE}.txt": TEXT})
    with Project.open(path, create=True) as project:
        import_qdpx(project, good)
    return path


def _refused(db: Path, path: Path, match: str, runner: CliRunner) -> None:
    """The API raises one clear RefiFileError; the CLI says it in one line, exit 2; nothing changes."""
    before = snapshot(db)
    with Project.open(db) as project, pytest.raises(RefiFileError, match=match) as info:
        import_qdpx(project, path)
    assert "\n" not in str(info.value)
    assert snapshot(db) == before
    result = runner.invoke(app, ["import", "qdpx", str(path), "--project", str(db)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "error:" in result.output
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "name, match",
    [
        ("../evil.txt", "climbs out of the archive"),
        ("sources/../../evil.txt", "climbs out of the archive"),
        ("/etc/x", "is an absolute path"),
        ("C:/Windows/evil.txt", "is an absolute path"),
        ("..\\evil.txt", "backslash"),
        ("sources\\..\\..\\evil.txt", "backslash"),
    ],
)
def test_member_names_that_leave_the_archive_are_refused(
    tmp_path: Path, db: Path, runner: CliRunner, name: str, match: str
) -> None:
    path = qdpx(tmp_path / "evil.qdpx", GOOD_QDE, {f"sources/{SOURCE}.txt": TEXT, name: "pwned"})
    _refused(db, path, match, runner)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_billion_laughs_is_refused_before_any_expansion(tmp_path: Path, db: Path, runner: CliRunner) -> None:
    _refused(db, qdpx(tmp_path / "lol.qdpx", BILLION_LAUGHS), "declares a DTD", runner)


def test_an_external_entity_is_refused_and_never_read(tmp_path: Path, db: Path, runner: CliRunner) -> None:
    path = qdpx(tmp_path / "xxe.qdpx", EXTERNAL_ENTITY)
    _refused(db, path, "DTD", runner)
    result = runner.invoke(app, ["import", "qdpx", str(path), "--project", str(db)])
    assert "root:" not in result.output
    with Project.open(db) as project:
        assert not any("root:" in str(v) for table in snapshot(db).values() for row in table for v in row)
        assert "root" not in coders(project)


def test_a_qdc_with_entities_is_refused_too(tmp_path: Path, db: Path) -> None:
    path = write(tmp_path / "lol.qdc", BILLION_LAUGHS.replace("Project", "CodeBook"))
    before = snapshot(db)
    with Project.open(db) as project, pytest.raises(RefiFileError, match="declares a DTD"):
        import_qdc(project, path)
    assert snapshot(db) == before


def test_a_highly_compressed_member_is_refused_as_a_zip_bomb(tmp_path: Path, db: Path, runner: CliRunner) -> None:
    bomb = b"\0" * (2 * safezip.RATIO_MIN_BYTES)  # 2 MB of zeros deflates about 1000:1
    path = qdpx(tmp_path / "bomb.qdpx", GOOD_QDE, {f"sources/{SOURCE}.txt": TEXT, "sources/zeros.txt": bomb})
    _refused(db, path, "zip bomb", runner)


def test_the_total_uncompressed_size_is_capped(
    tmp_path: Path, db: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safezip, "MAX_TOTAL_BYTES", 50_000)  # the real cap is 500 MB; keep the test fast
    big = "".join(f"line {i} of an ordinary transcript\n" for i in range(3000))  # ~100 kB, compresses ~5:1
    path = qdpx(tmp_path / "big.qdpx", GOOD_QDE, {f"sources/{SOURCE}.txt": big})
    _refused(db, path, "inflates to more than", runner)


def test_a_member_that_inflates_beyond_its_declared_size_is_stopped(tmp_path: Path) -> None:
    path = qdpx(tmp_path / "liar.qdpx", GOOD_QDE, {f"sources/{SOURCE}.txt": TEXT})
    with open_qdpx(path) as archive:
        info = archive.find_internal(f"internal://{SOURCE}.txt")
        assert info is not None
        info.file_size = 10  # what a lying header says
        with pytest.raises(RefiFileError, match="cannot be read|declared"):
            archive.read(info)


@pytest.mark.parametrize(
    "data, match",
    [
        (b"PK\x03\x04 this is not really a zip", "not a readable .qdpx"),
        (b"", "not a readable .qdpx"),
        (b"<Project/>", "not a readable .qdpx"),
    ],
)
def test_a_broken_zip_is_one_clear_line(tmp_path: Path, db: Path, runner: CliRunner, data: bytes, match: str) -> None:
    path = tmp_path / "broken.qdpx"
    path.write_bytes(data)
    _refused(db, path, match, runner)


def test_a_truncated_zip_is_one_clear_line(tmp_path: Path, db: Path, runner: CliRunner) -> None:
    good = qdpx(tmp_path / "good2.qdpx", GOOD_QDE, {f"sources/{SOURCE}.txt": TEXT})
    path = tmp_path / "truncated.qdpx"
    path.write_bytes(good.read_bytes()[:-40])
    _refused(db, path, "not a readable .qdpx", runner)


def test_a_missing_qde_is_one_clear_line(tmp_path: Path, db: Path, runner: CliRunner) -> None:
    path = tmp_path / "noqde.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"sources/{SOURCE}.txt", TEXT)
        archive.writestr("project.xml", GOOD_QDE)
    _refused(db, path, r"no \.qde file", runner)


def test_xml_that_is_not_well_formed_names_line_and_column(tmp_path: Path, db: Path, runner: CliRunner) -> None:
    path = qdpx(tmp_path / "bad.qdpx", '<Project xmlns="urn:QDA-XML:project:1.0" name="x">\n<Users>\n</Project>')
    _refused(db, path, r"project\.qde:3:\d+: not well-formed XML", runner)


def test_a_file_that_is_not_refi_qda_is_refused(tmp_path: Path, db: Path, runner: CliRunner) -> None:
    _refused(db, qdpx(tmp_path / "html.qdpx", "<html><body/></html>"), "root element is <html>", runner)
    _refused(db, qdpx(tmp_path / "ns.qdpx", '<Project xmlns="urn:example" name="x"/>'), "not REFI-QDA's", runner)


def test_a_dangling_internal_path_is_a_warning_and_adds_no_source(tmp_path: Path, db: Path, runner: CliRunner) -> None:
    xml = project_xml("", path="internal://5F2E0000-0000-4000-8000-00000000DEAD.txt").replace(
        SOURCE, "5F2E0000-0000-4000-8000-0000000000AA"
    )
    path = qdpx(tmp_path / "dangling.qdpx", xml, {f"sources/{SOURCE}.txt": TEXT})
    before = snapshot(db)
    with Project.open(db) as project:
        report = import_qdpx(project, path)
    assert [w for w in report.warnings if "dangling path 'internal://5F2E0000" in w]
    assert report.sources_new == [] and snapshot(db) == before
    result = runner.invoke(app, ["import", "qdpx", str(path), "--project", str(db)])
    assert result.exit_code == 1 and "warning:" in result.output and "Traceback" not in result.output


def test_an_internal_path_that_climbs_out_is_never_followed(tmp_path: Path, db: Path) -> None:
    outside = write(tmp_path / "outside.txt", "I: secret words outside the archive\n")
    xml = project_xml("", path=f"internal://../{outside.name}").replace(SOURCE, "5F2E0000-0000-4000-8000-0000000000BB")
    path = qdpx(tmp_path / "climb.qdpx", xml, {})
    with Project.open(db) as project:
        report = import_qdpx(project, path)
        assert any("dangling" in w for w in report.warnings)
        assert not any("secret" in text.lower() for text in source_texts(project).values())
    xml = project_xml("", path=f"file://{outside}").replace(SOURCE, "5F2E0000-0000-4000-8000-0000000000CC")
    with Project.open(db) as project:
        report = import_qdpx(project, qdpx(tmp_path / "file.qdpx", xml, {}))
        assert any("outside the .qdpx" in w for w in report.warnings)
        assert not any("secret" in text.lower() for text in source_texts(project).values())


def test_an_encrypted_member_is_refused(tmp_path: Path, db: Path, runner: CliRunner) -> None:
    path = qdpx(tmp_path / "enc.qdpx", GOOD_QDE, {f"sources/{SOURCE}.txt": TEXT})
    data = bytearray(path.read_bytes())
    # Set the "encrypted" flag bit in the central directory entry of the first member.
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 0x1
    path.write_bytes(bytes(data))
    _refused(db, path, "encrypted", runner)


def test_a_folder_or_a_missing_file_is_one_clear_line(tmp_path: Path, db: Path, runner: CliRunner) -> None:
    _refused(db, tmp_path / "nothing.qdpx", "no such file", runner)
    _refused(db, tmp_path, "is a folder", runner)
