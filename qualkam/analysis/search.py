"""Lemma-aware full-text search over the project's segments.

A query is lemmatized with the project's own pipeline and compared with each segment's
stored lemmas (``segments.lemmas``, filled by ``qualkam code``), so "account plans",
"Account Plan" and "account planning" find one another, as the codebook's lemma phrases
do. Only word tokens take part (a lemma with a letter or digit): punctuation in between
is ignored, so "cross functional" and "cross-functional" match alike.

Query rule: each term is a phrase, its words adjacent and in order; several terms must
all occur in the segment (AND). Inside a term, ``"double quotes"`` mark phrases among
single words: ``'"account plan" version'`` is the phrase plus the word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from spacy.language import Language
from spacy.tokens import Doc

from qualkam.analysis.excerpts import (
    merge_spans,
    records_of,
    resolve_codes,
    resolve_phases,
    resolve_source_types,
)
from qualkam.choices import check_known
from qualkam.coding.nlp import load_pipeline, pipe
from qualkam.coding.pipeline import DEFAULT_PIPELINE
from qualkam.errors import QualkamError
from qualkam.render.cells import frame_csv
from qualkam.render.files import json_text
from qualkam.store.analysis import main_pipeline
from qualkam.store.codings import known_layer, search_candidates
from qualkam.store.layers import Layer
from qualkam.store.project import Project
from qualkam.store.reads import code_tree

_WORD = re.compile(r"\w")
_QUOTED = re.compile(r'"([^"]*)"')

# Where a hit is: its segment's place and attributes, and its span (search and the concordance).
PLACE_COLUMNS = ["source", "segment", "speaker", "role", "unit", "source_type", "phase", "date", "start", "end"]
COLUMNS = [*PLACE_COLUMNS, "codes", "matches", "text"]


def parse_query(terms: Sequence[str] | str) -> list[str]:
    """The phrases a query asks for: one per term, plus quoted phrases and single words
    when a term holds double quotes."""
    if isinstance(terms, str):
        terms = [terms]
    phrases: list[str] = []
    for term in terms:
        if '"' in term:
            phrases += [p for p in _QUOTED.findall(term) if p.strip()]
            phrases += _QUOTED.sub(" ", term).replace('"', " ").split()
        elif term.strip():
            phrases.append(term.strip())
    return phrases


def word_tokens(doc: Doc) -> list[tuple[str, int, int]]:
    """(lemma, start, end) of each word token; a lemma holding a space counts as its words."""
    found = []
    for token in doc:
        for piece in token.lemma_.split():
            if _WORD.search(piece):
                found.append((piece, token.idx, token.idx + len(token.text)))
    return found


def stored_words(lemmas: str) -> list[str]:
    """The word lemmas of a stored ``segments.lemmas`` string, as ``word_tokens`` sees them."""
    return [piece for piece in lemmas.split() if _WORD.search(piece)]


def _contains(words: Sequence[str], phrase: Sequence[str]) -> bool:
    return f" {' '.join(phrase)} " in f" {' '.join(words)} "


def find_spans(doc: Doc, phrases: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
    """Character spans (in ``doc``'s text) of every occurrence of every phrase, merged."""
    words = word_tokens(doc)
    lemmas = [w[0] for w in words]
    spans = []
    for phrase in phrases:
        n = len(phrase)
        for i in range(len(lemmas) - n + 1):
            if lemmas[i : i + n] == list(phrase):
                spans.append((words[i][1], words[i + n - 1][2]))
    return merge_spans(spans)


def project_pipeline(project: Project, model: str | None = None) -> Language:
    """The pipeline the project's segments were lemmatized with, so query and text agree."""
    if model is None:
        model = main_pipeline(project)
    return load_pipeline(None if model in (None, "", DEFAULT_PIPELINE) else model)


@dataclass
class SearchResult:
    """The hits (at most ``limit``), how many segments matched in all, and the query's lemmas."""

    hits: pd.DataFrame
    total: int
    phrases: list[tuple[str, ...]]


def search(
    project: Project,
    query: Sequence[str] | str,
    *,
    codes: Sequence[str] = (),
    phases: Sequence[str] = (),
    source_types: Sequence[str] = (),
    limit: int | None = None,
    layer: str | Layer = "auto",
    model: str | None = None,
    sources: Sequence[str] = (),
    speakers: Sequence[str] = (),
) -> SearchResult:
    """Segments whose lemmas contain every phrase of ``query``, with the matched spans.

    ``codes`` keeps segments coded (in ``layer``) with one of the codes or their
    descendants (a coding counts for every segment its span covers). ``matches`` holds source
    offsets, like the evidence of a suggestion.
    """
    if limit is not None and limit < 1:
        raise QualkamError(f"{{argument}} {limit}: give a positive number of segments", argument="limit")
    nlp = project_pipeline(project, model)
    phrases = [tuple(w[0] for w in word_tokens(doc)) for doc in nlp.pipe(parse_query(query))]
    phrases = list(dict.fromkeys(p for p in phrases if p))
    if not phrases:
        raise QualkamError('the query has no words to search for; e.g. qualkam search "account plan"')
    parsed = known_layer(project, layer)
    rows = search_candidates(
        project,
        parsed,
        [w for p in phrases for w in p],
        codes=resolve_codes(project, codes) if codes else (),
        phases=resolve_phases(project, phases) if phases else (),
        source_types=resolve_source_types(project, source_types) if source_types else (),
        sources=check_known(project, "source", sources, "sources"),
        speakers=check_known(project, "speaker", speakers, "speakers"),
    )
    # Projects coded before lemmas were stored: lemmatize those segments now.
    missing = [r for r in rows if r["lemmas"] is None]
    for row, doc in zip(missing, pipe(nlp, (r["text"] for r in missing)), strict=True):
        row["lemmas"] = " ".join(w[0] for w in word_tokens(doc))
    hits = [r for r in rows if all(_contains(stored_words(r["lemmas"]), p) for p in phrases)]
    total = len(hits)
    hits = hits[:limit] if limit else hits
    order = {code: info.position for code, info in code_tree(project).items()}
    for row, doc in zip(hits, pipe(nlp, (r["text"] for r in hits)), strict=True):
        row["matches"] = [
            {"start": row["start"] + a, "end": row["start"] + b, "text": row["text"][a:b]}
            for a, b in find_spans(doc, phrases)
        ]
        row["codes"] = sorted(
            (row["codes"] or "").split(",") if row["codes"] else [], key=lambda c: (order.get(c, len(order)), c)
        )
    frame = pd.DataFrame(hits, columns=COLUMNS)
    frame["segment"] = frame["segment"].astype("Int64")
    return SearchResult(frame, total, phrases)


def matches_text(matches: list[dict[str, Any]]) -> str:
    """Matches for a CSV cell: ``words @start-end; ...`` (source offsets, as evidence is written)."""
    return "; ".join(f"{m['text']} @{m['start']}-{m['end']}" for m in matches)


def to_csv(frame: pd.DataFrame) -> str:
    return frame.assign(codes=frame["codes"].map(" ".join), matches=frame["matches"].map(matches_text)).pipe(frame_csv)


def to_json(frame: pd.DataFrame) -> str:
    return json_text(records_of(frame, keep_lists=("codes", "matches")), indent=2)
