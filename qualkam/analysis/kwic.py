"""A concordance (key word in context): every occurrence of a word, its words left and right.

``qualkam kwic plan`` finds "plan", "plans" and "Plan" through the project's own pipeline and
the lemmas it stored for each segment (``segments.lemmas``, as ``qualkam search`` reads them:
``qualkam.analysis.search``); ``word=True`` takes the word as written instead (any case, no
inflection). A term of several words is a phrase: adjacent words, in order. Only word tokens
count (punctuation is skipped, as search skips it), so ``context=5`` is five words each side.

Rules a reader should know (docs/kwic.md says them for users):

- The context stops at the edge of the hit's segment: it is always one speaker's words, and
  a hit at the start of a turn has a short left side.
- ``codes`` on a hit are the codes of the chosen layer whose coding span overlaps the hit's
  words (a coding of the whole segment covers every hit in it), in codebook order; a code
  filter keeps the hits carrying one of those codes or a code below them.
- Scope filters (phase, source type, role, speaker, source, any attribute) are those of
  ``qualkam.analysis.query.scope``, so a concordance and a query agree on "in scope".
- Sorting ``left`` orders by the word just before the hit, then the one before that (the
  usual KWIC order, which lines up what precedes the word); ``right`` by the words after it;
  ``source`` keeps reading order (date, source, position). Ties keep reading order.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from qualkam.analysis.excerpts import md_escape, records_of, resolve_codes
from qualkam.analysis.query import Where, parse_where, scope
from qualkam.analysis.search import PLACE_COLUMNS, project_pipeline, word_tokens
from qualkam.choices import check_choice
from qualkam.coding.nlp import pipe
from qualkam.errors import QualkamError
from qualkam.render.cells import frame_csv
from qualkam.render.files import json_text
from qualkam.store.codings import search_candidates
from qualkam.store.reads import code_tree
from qualkam.store.segments import codings as layer_codings_by_span

if TYPE_CHECKING:
    from spacy.language import Language

    from qualkam.store.layers import Layer
    from qualkam.store.project import Project

SORTS = ("source", "left", "right")
FORMATS = ("table", "csv", "json", "md")
DEFAULT_CONTEXT = 5
_WORD = re.compile(r"\w")
_SORT_WORD = re.compile(r"\w[\w'’-]*")
COLUMNS = [*PLACE_COLUMNS, "left", "match", "right", "codes"]

Word = tuple[str, int, int]  # what is compared (lemma or folded word), start, end in the segment


def _words(doc: Any, word: bool) -> list[Word]:
    if not word:
        return word_tokens(doc)
    return [(t.text.casefold(), t.idx, t.idx + len(t.text)) for t in doc if _WORD.search(t.text)]


def term_words(nlp: Language, term: str, word: bool) -> tuple[str, ...]:
    """What the term asks for: its lemmas (or, with ``word``, its words folded), in order."""
    doc = nlp.make_doc(term) if word else nlp(term)
    return tuple(w[0] for w in _words(doc, word))


def sort_words(text: str) -> list[str]:
    """A context's words for sorting: folded, punctuation left out."""
    return [w.casefold() for w in _SORT_WORD.findall(text)]


def _flat(text: str) -> str:
    return " ".join(text.split())


def concordance(
    project: Project,
    term: str,
    *,
    word: bool = False,
    context: int = DEFAULT_CONTEXT,
    sort: str = "source",
    layer: str | Layer = "auto",
    codes: Sequence[str] = (),
    where: Where = None,
    phases: Sequence[str] = (),
    source_types: Sequence[str] = (),
    roles: Sequence[str] = (),
    speakers: Sequence[str] = (),
    sources: Sequence[str] = (),
    limit: int | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """One row per occurrence of ``term`` in the segments in scope: where it is (``start``,
    ``end``: source offsets of the matched words), ``left`` / ``match`` / ``right`` (the text,
    spaces collapsed, ``context`` words each side within the segment) and ``codes`` (a list).

    Filters: ``phases``, ``source_types``, ``roles``, ``speakers``, ``sources`` (each a list of
    alternatives, as in excerpts) and ``where`` (``ATTRIBUTE=VALUE``, as a query's scope) must
    all hold. ``limit`` keeps the first hits after sorting.
    """
    if isinstance(context, bool) or not isinstance(context, int) or context < 0:
        raise QualkamError(
            f"{{argument}} must be a whole number of words, 0 or more; got {context!r}", argument="context"
        )
    if limit is not None and limit < 1:
        raise QualkamError(f"{{argument}} {limit}: give a positive number of hits", argument="limit")
    sort = check_choice("sort order", sort, SORTS, "sort")
    given = parse_where(where)
    for key, values in (
        ("phase", phases),
        ("source_type", source_types),
        ("role", roles),
        ("speaker", speakers),
        ("source", sources),
    ):
        if values:
            given.setdefault(key, []).extend(values)
    in_scope = scope(project, given, layer)
    nlp = project_pipeline(project, model)
    wanted = term_words(nlp, term, word)
    if not wanted:
        raise QualkamError(f"{{argument}} {term!r} has no word to look for; e.g. qualkam kwic plan", argument="term")
    picked = set(resolve_codes(project, codes)) if codes else set()
    ids = in_scope.ids
    # Candidates: segments whose stored lemmas may hold the lemmas (search's prefilter); a word
    # is looked for in the text itself, since a trained pipeline's lemma may depend on context.
    rows = [r for r in search_candidates(project, in_scope.layer, () if word else wanted) if r["segment"] in ids]
    if word:
        rows = [r for r in rows if all(w in r["text"].casefold() for w in wanted)]
    texts = [r["text"] for r in rows]
    docs = (nlp.make_doc(t) for t in texts) if word else pipe(nlp, texts)
    spans = _spans(project, in_scope.layer, in_scope.coders, {r["source"] for r in rows})
    order = {code: i for i, code in enumerate(code_tree(project))}
    hits: list[dict[str, Any]] = []
    n = len(wanted)
    for row, doc in zip(rows, docs, strict=True):
        words = _words(doc, word)
        keys = [w[0] for w in words]
        text, base = row["text"], int(row["start"])
        for i in range(len(words) - n + 1):
            if tuple(keys[i : i + n]) != wanted:
                continue
            a, b = words[i][1], words[i + n - 1][2]
            left_from = words[max(0, i - context)][1] if context else a
            right_to = words[min(len(words) - 1, i + n - 1 + context)][2] if context else b
            on = {code for start, end, code in spans.get(row["source"], []) if start < base + b and end > base + a}
            if picked and not on & picked:
                continue
            hits.append(
                {
                    **{k: row[k] for k in ("source", "segment", "speaker", "role", "unit", "source_type", "phase")},
                    "date": row["date"],
                    "start": base + a,
                    "end": base + b,
                    "left": _flat(text[left_from:a]),
                    "match": _flat(text[a:b]),
                    "right": _flat(text[b:right_to]),
                    "codes": sorted(on, key=lambda c: (order.get(c, len(order)), c)),
                }
            )
    if sort == "left":
        hits.sort(key=lambda h: sort_words(h["left"])[::-1])
    elif sort == "right":
        hits.sort(key=lambda h: sort_words(h["right"]))
    frame = pd.DataFrame(hits[:limit] if limit else hits, columns=COLUMNS)
    frame["segment"] = frame["segment"].astype("Int64")
    frame.attrs.update(total=len(hits), words=list(wanted), word=word, sort=sort, layer=str(in_scope.layer))
    return frame


def _spans(project: Project, layer: Layer, coders: Sequence[str], sources: set[str]) -> dict[str, list[Any]]:
    """Per source, (start, end, code) of each coding of the layer, for the codes on a hit."""
    if not sources:
        return {}
    frame = layer_codings_by_span(project, layer)
    if coders:
        frame = frame[frame["coder"].isin(coders)]
    found: dict[str, list[Any]] = defaultdict(list)
    for source, start, end, code in frame[["source", "start", "end", "code"]].itertuples(index=False):
        if source in sources:
            found[source].append((int(start), int(end), str(code)))
    return found


def describe(frame: pd.DataFrame, term: str) -> str:
    """``12 hit(s) of the lemma plan · sorted by left · from auto`` (with a limit: shown of all)."""
    total = frame.attrs.get("total", len(frame))
    kind = "word" if frame.attrs.get("word") else "lemma"
    shown = f"; showing {len(frame)}" if len(frame) < total else ""
    words = " ".join(frame.attrs.get("words", [term]))
    sort, layer = frame.attrs.get("sort"), frame.attrs.get("layer")
    return f"{total} hit(s) of the {kind} {words!r}{shown} · sorted by {sort} · from {layer}"


def to_csv(frame: pd.DataFrame) -> str:
    return frame_csv(frame.assign(codes=frame["codes"].map(" ".join)))


def to_json(frame: pd.DataFrame) -> str:
    return json_text(records_of(frame, keep_lists=("codes",)), indent=2)


def _cell(value: Any) -> str:
    return md_escape(_flat(str(value))) if isinstance(value, str) and value else ""


def to_markdown(frame: pd.DataFrame, title: str, subtitle: str = "") -> str:
    """A table to paste into a draft: where, the left context, the word in bold, the right
    context and the codes; every cell escaped so a transcript's ``*`` or ``|`` stays text."""
    lines = [f"# {md_escape(title)}", ""]
    if subtitle:
        lines += [f"_{md_escape(subtitle)}_", ""]
    lines += ["| source | speaker | left | word | right | codes |", "|---|---|--:|:-:|---|---|"]
    for row in frame.to_dict("records"):
        where = f"{_cell(row['source'])} #{row['segment']}"
        match = f"**{_cell(row['match'])}**"
        codes = ", ".join(f"`{c}`" for c in row["codes"])
        lines.append(
            f"| {where} | {_cell(row['speaker'])} | {_cell(row['left'])} | {match} | {_cell(row['right'])} | {codes} |"
        )
    return "\n".join(lines) + "\n"


def render(frame: pd.DataFrame, fmt: str, title: str, subtitle: str = "") -> str:
    """The concordance in a file format: csv, json or md."""
    if fmt == "csv":
        return to_csv(frame)
    if fmt == "json":
        return to_json(frame)
    if fmt == "md":
        return to_markdown(frame, title, subtitle)
    raise QualkamError(f"unknown {{argument}} {fmt!r} for a file; use csv, json or md", argument="fmt")
