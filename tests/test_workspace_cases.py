"""Cases in the workspace (issue 16, point 7): the Matrix page's rows ``case`` and
``case:ATTRIBUTE`` count what ``qualkam matrix --rows case:ATTRIBUTE`` counts, each cell opens
the Excerpts page filtered to its code and cases (``case=ATTRIBUTE:VALUE``) listing exactly the
excerpts it counted, and a blind session keeps its layer rules."""

from __future__ import annotations

import html
import io
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from qualkam.analysis.excerpts import retrieve
from qualkam.analysis.matrix import build_matrix
from qualkam.analysis.workspace_cases import split_case_filter
from qualkam.coding.codebook import load_codebook
from qualkam.coding.decisions import decide
from qualkam.coding.run import code_folder
from qualkam.errors import QualkamError
from qualkam.store.project import Project
from qualkam.web.app import create_app

from .conftest import ROOT, SHARED, SMALL_CODEBOOK, needs_shared, run_cli, write

TOKEN = "test-token-" + "c" * 32

# The sample has no cases file: this one gives some participants a site (not all: the others
# are the matrix's "(none)" row with the interviewers' shorthand).
CASES_YAML = """\
Priya Nair: {site: Milton Keynes, tenure: 4}
Sarah Collins: {site: Milton Keynes, tenure: 12}
Tom Whitfield: {site: Milton Keynes, tenure: 20}
Gary Monk: {site: Leeds, tenure: 7}
Lisa Baptiste: {site: Leeds}
Hiroshi Nakamura: {site: Osaka}
Yuki Ishida: {site: Tokyo}
"""


def client_for(db: Path, coder: str | None = None, blind: bool = False) -> TestClient:
    app = create_app(db, coder=coder, blind=blind, token=TOKEN)
    return TestClient(app, base_url="http://127.0.0.1:8765", headers={"X-Qualkam-Token": TOKEN})


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample transcripts with a cases file, coded with the KAM codebook (suggestions), and
    ana's and ben's codings of a few of Priya Nair's and Gary Monk's segments."""
    from qualkam.store.segments import segments

    root = tmp_path_factory.mktemp("sample-cases")
    folder = root / "sample_transcripts"
    shutil.copytree(ROOT / "sample_transcripts", folder)
    (folder / "cases.yaml").write_text(CASES_YAML, encoding="utf-8")
    db = root / "sample.db"
    with Project.open(db, create=True) as project:
        code_folder(folder, load_codebook("kam"), project, out_dir=None)
        spoken = segments(project)
        for who, name in (("ana", "Priya Nair"), ("ben", "Gary Monk"), ("ben", "Priya Nair")):
            for segment in spoken[spoken["speaker"] == name]["segment"].head(3):
                decide(project, who, int(segment), "tactical_selling", "add")
    return db


def matrix_of(client: TestClient, by: str, layer: str) -> pd.DataFrame:
    answer = client.get("/api/matrix", params={"by": by, "layer": layer})
    assert answer.status_code == 200, answer.text
    table = answer.json()
    return pd.DataFrame(table["cells"], index=table["rows"], columns=table["columns"])


@pytest.mark.parametrize("by", ["case:site", "case:role", "case:tenure", "case"])
def test_case_rows_count_what_the_library_and_the_cli_count(sample: Path, runner, by: str) -> None:
    served = matrix_of(client_for(sample), by, "suggestions")
    with Project.open(sample) as project:
        library = build_matrix(project, rows=by, cols="code", layer="suggestions")
    assert served.values.sum() > 0
    assert served.index.tolist() == [str(r) for r in library.index]
    assert served.columns.tolist() == [str(c) for c in library.columns]
    assert (served.to_numpy() == library.to_numpy()).all()
    result = run_cli(runner, "matrix", "--rows", by, "--from", "suggestions", "--format", "csv", "-p", sample)
    assert result.exit_code == 0, result.output
    cli = pd.read_csv(io.StringIO(result.stdout), index_col=0, dtype={0: str})
    cli = cli.drop(index=[i for i in cli.index if str(i).lower() == "total"], errors="ignore")
    cli = cli[[c for c in cli.columns if c in served.columns]]
    assert [str(i) for i in cli.index] == served.index.tolist()
    assert (cli.to_numpy() == served[cli.columns].to_numpy()).all()


def test_the_matrix_page_offers_case_rows_and_each_cell_lists_what_it_counts(sample: Path) -> None:
    client = client_for(sample)
    page = client.get("/matrix").text
    for option in ("case", "case:role", "case:unit", "case:site", "case:tenure"):
        assert f'<option value="{option}">{option}</option>' in page
    page = client.get("/matrix", params={"by": "case:role", "layer": "suggestions"}).text
    assert 'class="matrix heatmap"' in page and "<th>Gary Monk" not in page
    cells = re.findall(r'<td class="heat-\d"><a href="([^"]+)">(\d+)</a></td>', page)
    assert len(cells) >= 20
    # Gary Monk's two roles make his own row: "Key Account Manager" is Priya Nair and others, not him
    joined = "Sales Manager (footwear); Key Account Manager"
    assert f"<th>{html.escape(joined)}</th>" in page or f"<th>{joined}</th>" in page
    for href, count in cells:
        target = urlsplit(html.unescape(href))
        assert target.path == "/excerpts"
        query = {k: v[0] for k, v in parse_qs(target.query).items()}
        assert query["layer"] == "suggestions" and query["case"].startswith("role:") and query["code"]
        found = client.get("/api/excerpts", params=query).json()["excerpts"]
        assert len(found) == int(count), (query, count)
        assert {e["code"] for e in found} == {query["code"]}
        # the page behind the link lists the same excerpts and says which cases
        if href == cells[0][0]:
            listed = client.get(target.path + "?" + target.query).text
            assert listed.count('class="excerpt"') == int(count)
            assert f"cases with {html.escape(query['case'], quote=True)}" in listed


def test_case_filter_matches_the_rows_and_the_cli_where_values_are_single(sample: Path) -> None:
    client = client_for(sample)
    leeds = client.get("/api/excerpts", params={"case": "site:Leeds", "layer": "suggestions"}).json()["excerpts"]
    with Project.open(sample) as project:
        cli = retrieve(project, layer="suggestions", cases=["site=Leeds"], by_coder=True)
        by_site = build_matrix(project, rows="case:site", cols="code", layer="suggestions")
    assert "Gary Monk" in {e["speaker"] for e in leeds} <= {"Gary Monk", "Lisa Baptiste"}
    assert len(leeds) == len(cli) == by_site.loc["Leeds"].sum()
    # ATTRIBUTE=VALUE as the CLI writes it, any letter case; a case by name; with a speaker
    same = client.get("/api/excerpts", params={"case": "SITE=leeds", "layer": "suggestions"}).json()["excerpts"]
    assert len(same) == len(leeds)
    gary = client.get("/api/excerpts", params={"case": "case:gary monk", "layer": "suggestions"}).json()
    assert {e["speaker"] for e in gary["excerpts"]} == {"Gary Monk"}
    both = client.get("/api/excerpts", params={"case": "site:Leeds", "speaker": "Gary Monk", "layer": "suggestions"})
    assert len(both.json()["excerpts"]) == len(gary["excerpts"])
    neither = client.get("/api/excerpts", params={"case": "site:Leeds", "speaker": "Priya Nair"})
    assert neither.status_code == 200 and neither.json()["excerpts"] == []


def test_a_speaker_filter_keeps_every_spelling_of_a_name(sample: Path) -> None:
    """Martin Greaves is MARTIN GREAVES in one transcript: one case, and a speaker filter in any
    letter case (the CLI's --speaker and --case, the workspace's case rows) keeps both."""
    with Project.open(sample) as project:
        found = retrieve(project, layer="suggestions", speakers=["martin greaves"])
        by_case = build_matrix(project, rows="case", cols="code", layer="suggestions")
        cli = retrieve(project, layer="suggestions", cases=["role=External Advisor"])
    assert set(found["speaker"]) == {"Martin Greaves", "MARTIN GREAVES"}
    assert len(cli) == len(found) == by_case.loc["Martin Greaves"].sum()


def test_unknown_case_attributes_and_values_are_a_400_naming_them(sample: Path) -> None:
    client = client_for(sample)
    for path in ("/api/matrix", "/matrix"):
        answer = client.get(path, params={"by": "case:sitee"})
        assert answer.status_code == 400
        text = html.unescape(answer.text)
        assert "unknown case attribute 'sitee'" in text and "did you mean 'site'" in text
    assert "names no case attribute" in client.get("/api/matrix", params={"by": "case:"}).json()["error"]
    error = client.get("/api/excerpts", params={"case": "colour:red"}).json()["error"]
    assert "unknown case attribute 'colour'" in error and "site" in error
    error = client.get("/api/excerpts", params={"case": "site:Leds"}).json()["error"]
    assert "unknown case site 'Leds'" in error and "did you mean 'Leeds'" in error
    answer = client.get("/excerpts", params={"case": "nobody"})
    assert answer.status_code == 400 and "ATTRIBUTE:VALUE" in answer.text


def test_a_blind_session_keeps_its_layer_rules(sample: Path) -> None:
    blind = client_for(sample, coder="ana", blind=True)
    mine = matrix_of(blind, "case", "")  # a blind coder reads their own codings by default
    assert mine.values.sum() == 3 and mine.loc["Priya Nair"].sum() == 3 and "Gary Monk" not in mine.index
    for layer in ("auto", "human", "coder:ben", "all"):
        assert blind.get("/api/matrix", params={"by": "case:site", "layer": layer}).status_code == 403, layer
    found = blind.get("/api/excerpts", params={"case": "site:Milton Keynes"}).json()["excerpts"]
    assert len(found) == 3 and {e["coder"] for e in found} == {"ana"}
    page = blind.get("/matrix", params={"by": "case:site"}).text
    links = re.findall(r'<a href="(/excerpts[^"]+)">(\d+)</a>', page)
    assert [int(n) for _, n in links] == [3]
    # ben is never seen, even through a case he alone has coded
    assert blind.get("/api/excerpts", params={"case": "site:Leeds"}).json()["excerpts"] == []
    # outside a blind session, ben's codings of Gary Monk count under Leeds
    open_ = client_for(sample)
    assert matrix_of(open_, "case:site", "coder:ben").loc["Leeds"].sum() == 3


NO_SEPARATOR = st.characters(blacklist_characters=":=")


@given(
    st.text(NO_SEPARATOR, min_size=1, max_size=12).filter(str.strip),
    st.text(min_size=1, max_size=12).filter(str.strip),
)
def test_case_filter_splits_at_the_first_separator(attribute: str, value: str) -> None:
    assert split_case_filter(f"{attribute}:{value}") == (attribute.strip(), value.strip())
    assert split_case_filter(f"{attribute}={value}") == (attribute.strip(), value.strip())


@given(st.text(NO_SEPARATOR, max_size=12), st.sampled_from([":", "=", " : "]))
def test_a_case_filter_without_both_parts_is_one_line(text: str, separator: str) -> None:
    for given_ in (text, text + separator, separator + text):  # no separator, no value, no attribute
        with pytest.raises(QualkamError, match="ATTRIBUTE:VALUE"):
            split_case_filter(given_)


@needs_shared
@pytest.mark.shared
@pytest.mark.slow
def test_zoom_meeting_case_rows_and_links(tmp_path: Path) -> None:
    meeting = SHARED / "corpora" / "zoom-meetings" / "focil" / "2026-04-07_032"
    folder = tmp_path / "zoom"
    folder.mkdir()
    (folder / "transcript.vtt").write_bytes((meeting / "transcript.vtt").read_bytes())
    # the four speakers of PROVENANCE.md, given a team each; "kev" spelt as the transcript does
    write(folder / "cases.csv", "case,team\nJihoon,a\nKEV,a\nGottfried Herold,b\nPelle Krabbenhoeft,b\n")
    write(tmp_path / "small.yaml", SMALL_CODEBOOK)
    db = tmp_path / "zoom.db"
    with Project.open(db, create=True) as project:
        from qualkam.store.segments import segments

        code_folder(folder, load_codebook(str(tmp_path / "small.yaml")), project, out_dir=None)
        spoken = segments(project)
        coded = spoken.groupby("speaker").head(3)  # a researcher codes each speaker's first three turns
        for row in coded.itertuples():
            decide(project, "ana", int(row.segment), "soft_control", "add")
        library = build_matrix(project, rows="case:team", cols="code", layer="coder:ana")
    client = client_for(db)
    served = matrix_of(client, "case:team", "coder:ana")
    assert served.index.tolist() == ["a", "b"] and (served.to_numpy() == library.to_numpy()).all()
    assert served.loc["a", "soft_control"] == len(coded[coded["speaker"].str.casefold().isin({"jihoon", "kev"})])
    page = client.get("/matrix", params={"by": "case:team", "layer": "coder:ana"}).text
    links = re.findall(r'<a href="(/excerpts[^"]+)">(\d+)</a>', page)
    assert len(links) == 2
    for href, count in links:
        query = {k: v[0] for k, v in parse_qs(urlsplit(html.unescape(href)).query).items()}
        assert len(client.get("/api/excerpts", params=query).json()["excerpts"]) == int(count)


@pytest.mark.parametrize("cases, themes", [("case", "code"), ("case", "attr:pole"), ("source", "attr:pole")])
def test_framework_cells_link_to_their_excerpts(sample: Path, cases: str, themes: str) -> None:
    """Each framework cell with excerpts opens the Excerpts page of its theme and its case (or
    source): the excerpts there are the cell's, span for span; each quote opens its place."""
    from qualkam.analysis.framework import build_framework

    client = client_for(sample)
    page = client.get("/framework", params={"cases": cases, "themes": themes, "layer": "suggestions"}).text
    with Project.open(sample) as project:
        fw = build_framework(project, cases, themes, "suggestions")
    links = re.findall(r'<a class="cell-excerpts" href="([^"]+)">all (\d+) on the Excerpts page</a>', page)
    assert len(links) == sum(1 for refs in fw.references.values() if refs) > 0
    for href, count in links[:12]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(html.unescape(href)).query).items()}
        key = query["case"][len("case:") :] if cases == "case" else query["source"]
        theme = query["code"] if themes == "code" else query["code"].split("=", 1)[1]
        refs = fw.references[(key, theme)]
        found = client.get("/api/excerpts", params=query).json()["excerpts"]
        assert len(refs) == int(count)
        assert sorted((e["source"], e["start"], e["end"], e["code"]) for e in found) == sorted(
            (r["source"], r["start"], r["end"], r["code"]) for r in refs
        )
    quote = re.search(r'<a class="muted" href="(/sources/[^"]+#c-\d+-\d+)">', page)
    assert quote and client.get(html.unescape(quote.group(1)).split("#")[0]).status_code == 200
    assert client.get("/api/excerpts", params={"source": "no-such-source"}).status_code == 400
