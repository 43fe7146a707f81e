"""One layer, the same codings everywhere (issue 12, point 2; spans: issue 13, part 1).

For each layer, the (segment, code) pairs of the matrix's codings, of the excerpts, of the
REFI-QDA export (where a layer can be exported), of the reliability data and of the training
data (people's layers) are one set, and that set is what the layer's docstring says
(``qualkam.store.layers``). A coding counts for every segment its span overlaps: the project
holds a span across two turns and a phrase inside one beside whole-segment decisions, and an
excerpt or an exported selection stands for each segment its span covers.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

from qualkam.agreement.units import coding_data
from qualkam.analysis.excerpts import retrieve
from qualkam.analysis.matrix import codings_frame
from qualkam.coding.decisions import decide
from qualkam.coding.spans import code_span
from qualkam.interchange.refi.reader import parse_description
from qualkam.store.codings import layer_people
from qualkam.store.project import Project
from qualkam.store.segments import segments

from .conftest import code_two_sources, records, source_texts

H, S = "hard_control", "soft_control"
LAYERS = ["auto", "suggestions", "human", "consensus", "coder:ana", "all"]
PEOPLE = ["human", "consensus", "coder:ana"]

Pair = tuple[int, str]


@pytest.fixture(scope="module")
def layered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[Pair]]]:
    """Two coders, a consensus coder and suggestions (accepted, rejected, undecided); the
    pairs each layer should hold, worked out from the decisions made here."""
    from qualkam.coding.codebook import load_codebook

    from .conftest import SMALL_CODEBOOK

    tmp = tmp_path_factory.mktemp("layers")
    (tmp / "small.yaml").write_text(SMALL_CODEBOOK, encoding="utf-8")
    db = tmp / "p.db"
    with Project.open(db, create=True) as project:
        seg = code_two_sources(tmp, load_codebook(tmp / "small.yaml"), project)
        one, two, three = seg["And the repo"], seg["We trust eac"], seg["How were the"]
        four, five = seg["They came fr"], seg["Honestly, no"]
        suggestions = {(one, H), (two, S), (three, H), (four, H), (five, S)}
        assert set(map(tuple, codings_frame(project, "suggestions")[["segment", "code"]].values)) == suggestions
        decisions = [
            ("ana", one, H, "accept"),  # a suggestion accepted by one coder, rejected by the other
            ("ben", one, H, "reject"),
            ("ana", two, S, "reject"),  # a suggestion only rejected
            ("ben", four, H, "accept"),  # accepted by a coder and by the consensus
            ("consensus", four, H, "accept"),
            ("ben", three, S, "add"),  # added by hand
            ("ana", five, H, "add"),
            ("consensus", two, H, "add"),  # only the consensus coder has it
        ]  # (three, H) and (five, S) stay undecided
        for coder, segment, code, action in decisions:
            decide(project, coder, segment, code, action)
        texts = source_texts(project)
        sales, other = texts["int-sales"], texts["int-b"]
        spans = [  # (coder, source, start, end, code, the segments the span covers)
            # a span from the end of one turn into the next: it decides the soft suggestion on five
            ("ana", "int-sales", sales.index("It was all"), sales.index("Honestly") + 8, S, [four, five]),
            # a phrase inside a turn, of a code nobody else gave there
            ("ben", "int-b", other.index("Gut feeling"), other.index("Gut feeling") + 11, H, [two]),
        ]
        for coder, source, start, end, code, _ in spans:
            code_span(project, source, start, end, code, coder)
    decisions += [(coder, segment, code, "add") for coder, _, _, _, code, covered in spans for segment in covered]
    accepted = {c: {(s, k) for who, s, k, a in decisions if who == c and a != "reject"} for c in ("ana", "ben")}
    accepted["consensus"] = {(s, k) for who, s, k, a in decisions if who == "consensus"}
    rejected = {(s, k) for _, s, k, a in decisions if a == "reject"}
    decided = {(s, k) for _, s, k, _ in decisions}
    people = accepted["ana"] | accepted["ben"] | accepted["consensus"]
    expected = {
        "auto": people | (suggestions - decided),
        "suggestions": suggestions,
        "human": people,
        "consensus": accepted["consensus"],
        "coder:ana": accepted["ana"],
        "all": suggestions | people | rejected,
    }
    return db, expected


def _pairs(frame, segment: str = "segment", code: str = "code") -> set[Pair]:
    return {(int(s), str(c)) for s, c in zip(frame[segment], frame[code], strict=True)}


def _covered(project: Project, source: str, start: int, end: int) -> list[int]:
    """The segments a span [start, end) of ``source`` overlaps by a character (the rule)."""
    spans = records(segments(project), ["segment", "source", "start", "end"])
    return [s[0] for s in spans if s[1] == source and s[2] < end and s[3] > start]


def _excerpt_pairs(project: Project, frame) -> set[Pair]:
    """Each excerpt's code with every segment its span covers."""
    pairs = set()
    for row in frame.itertuples(index=False):
        covered = _covered(project, row.source, int(row.start), int(row.end))
        assert covered[0] == int(row.segment), "an excerpt's segment is its anchor: the first one it overlaps"
        pairs |= {(segment, row.code) for segment in covered}
    return pairs


@pytest.mark.parametrize("layer", LAYERS)
def test_matrix_and_excerpts_hold_what_the_layer_says(layered, layer: str) -> None:
    db, expected = layered
    with Project.open(db) as project:
        assert _pairs(codings_frame(project, layer)) == expected[layer]
        assert _excerpt_pairs(project, retrieve(project, layer=layer)) == expected[layer]
        assert _excerpt_pairs(project, retrieve(project, layer=layer, by_coder=True)) == expected[layer]


def _exported_pairs(project: Project, path: Path) -> set[Pair]:
    """The (segment, code) pairs of a .qdpx's coded selections, read back from its XML (a
    selection stands for every segment it overlaps)."""
    with zipfile.ZipFile(path) as archive:
        root = etree.fromstring(archive.read("project.qde"))
    ns = {"q": root.nsmap[None]}
    codes = {  # code GUID -> qualkam id, from the "[qualkam id: X]" line of its description
        node.get("guid"): parse_description(node.findtext("q:Description", default="", namespaces=ns))[3]
        for node in root.iterfind(".//q:Code", ns)
    }
    pairs = set()
    for source in root.iterfind(".//q:TextSource", ns):
        for selection in source.iterfind("q:PlainTextSelection", ns):
            start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
            for segment in _covered(project, source.get("name"), start, end):
                for coding in selection.iterfind("q:Coding", ns):
                    pairs.add((segment, codes[coding.find("q:CodeRef", ns).get("targetGUID")]))
    return pairs


EXPORTED = [
    "auto",
    "suggestions",
    "human",
    "consensus",
    "coder:ana",
]  # ``all`` holds rejections, which REFI-QDA has no place for


@pytest.mark.parametrize("layer", EXPORTED)
def test_the_refi_export_holds_the_layer(layered, tmp_path: Path, layer: str) -> None:
    from qualkam.interchange.refi.writer import export_qdpx

    db, expected = layered
    with Project.open(db) as project:
        export_qdpx(project, tmp_path / "x.qdpx", layer=layer)
        assert _exported_pairs(project, tmp_path / "x.qdpx") == expected[layer]


@pytest.mark.parametrize("layer", PEOPLE)
def test_reliability_data_hold_the_layer(layered, layer: str) -> None:
    db, expected = layered
    with Project.open(db) as project:
        coders = layer_people(project, layer)
        others = [c for c in ("ana", "ben") if c not in coders][: max(0, 2 - len(coders))]
        data = coding_data(project, coders=[*coders, *others])
        mine = [data.coders.index(c) for c in coders]
        present = np.nan_to_num(data.presence[:, mine, :], nan=0.0).max(axis=1)  # codes x units
        pairs = {(int(data.units["segment"].iloc[u]), data.codes[k]) for k, u in zip(*np.nonzero(present), strict=True)}
    assert pairs == expected[layer]


TRAINED = [
    "human",
    "consensus",
    "coder:ana",
]


@pytest.mark.parametrize("layer", TRAINED)
def test_training_data_hold_the_layer(layered, layer: str) -> None:
    from qualkam.coding.learn import training_set

    db, expected = layered
    with Project.open(db) as project:
        data = training_set(project, layer, min_examples=1)
    rows, columns = np.nonzero(data.labels)
    pairs = {(int(data.segments["segment"].iloc[r]), data.codes[c]) for r, c in zip(rows, columns, strict=True)}
    assert pairs == expected[layer]


def test_only_peoples_layers_have_people(layered) -> None:
    from qualkam.errors import QualkamError

    db, _ = layered
    with Project.open(db) as project:
        assert layer_people(project, "human") == ["ana", "ben", "consensus"]
        assert layer_people(project, "coder:ben") == ["ben"]
        with pytest.raises(QualkamError, match="unknown layer 'auto' in layer; choose from: human, consensus"):
            layer_people(project, "auto")
        with pytest.raises(QualkamError, match="unknown coder 'anna' in layer.*did you mean 'ana'"):
            layer_people(project, "coder:anna")
