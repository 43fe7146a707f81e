"""The spaCy pipeline qualkam runs: blank English by default, a trained pipeline on request.

The default needs no model download: a blank English tokenizer, the rule sentencizer and the
lookup lemmatizer whose tables ship in the ``spacy-lookups-data`` package (spaCy's, each word
looked up once per process: ``CachedLookupLemmatizer``). A last component
lower-cases every lemma (looking capitalised words up again in lower case), so lemma phrases
and ``LEMMA`` token patterns match whatever the capitalisation in the transcript.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import spacy
from spacy.errors import Errors
from spacy.language import Language
from spacy.lookups import Lookups
from spacy.pipeline import Lemmatizer
from spacy.tokens import Doc

from qualkam.coding.pipeline import DEFAULT_PIPELINE
from qualkam.errors import ModelNotFoundError, QualkamError


@Language.factory("qualkam_lower_lemma")
class LowerLemma:
    """Make ``token.lemma_`` the lower-case lemma, so matching ignores case and inflection.

    A lemma depends only on the lemma (or, without one, the word) before: each is worked out
    once per process and remembered by its string hash, so a document costs one dictionary
    look-up per token instead of string work in Python (issue 14)."""

    def __init__(self, nlp: Language, name: str) -> None:
        self.nlp = nlp
        self.name = name
        self._table: Any = None
        self._known: dict[int, int] = {}

    def _lookup(self) -> Any:
        if self._table is None:
            self._table = {}
            if "lemmatizer" in self.nlp.pipe_names:
                lookups = getattr(self.nlp.get_pipe("lemmatizer"), "lookups", None)
                if lookups is not None and lookups.has_table("lemma_lookup"):
                    self._table = lookups.get_table("lemma_lookup")
        return self._table

    def lower(self, lemma: str) -> str:
        """The lower-case lemma of a lemma (or, for a token without one, of its text)."""
        table = self._lookup()
        lemma = lemma.lower()
        if table:
            # The lookup table is not closed under itself ("feelings" -> "feeling" -> "feel"),
            # so follow it to a fixed point: singular and plural then meet on one lemma.
            for _ in range(3):
                nxt = table.get(lemma, lemma)
                if nxt == lemma:
                    break
                lemma = nxt.lower()
        return lemma

    def __call__(self, doc: Doc) -> Doc:
        known = self._known
        strings = self.nlp.vocab.strings
        for token in doc:
            before = token.lemma or token.orth  # token.lemma_ or token.text, as hashes ("" is 0)
            lemma = known.get(before)
            if lemma is None:
                lemma = known[before] = strings.add(self.lower(strings[before]))
            token.lemma = lemma
        return doc


class CachedLookupLemmatizer(Lemmatizer):
    """spaCy's lemmatizer whose ``lookup`` mode looks each word up once per process.

    spaCy's own calls ``lookup_lemmatize`` for every token (half the time of the blank English
    pipeline); a word's lookup lemma depends on its text alone, so this remembers it by the
    word's hash. The lemmas are spaCy's, from the same table; other modes are spaCy's own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._known: dict[int, int] = {}

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Any]] | None = None,
        *,
        nlp: Language | None = None,
        lookups: Lookups | None = None,
    ) -> None:
        self._known = {}  # new tables: forget what the old ones said
        super().initialize(get_examples, nlp=nlp, lookups=lookups)

    def from_bytes(self, *args: Any, **kwargs: Any) -> Lemmatizer:
        self._known = {}
        return super().from_bytes(*args, **kwargs)

    def from_disk(self, *args: Any, **kwargs: Any) -> Lemmatizer:
        self._known = {}
        return super().from_disk(*args, **kwargs)

    def __call__(self, doc: Doc) -> Doc:
        if self.mode != "lookup":
            return super().__call__(doc)
        if not self._validated:
            self._validate_tables(Errors.E1004)
        known = self._known
        strings = self.vocab.strings
        overwrite = self.overwrite
        for token in doc:
            if overwrite or token.lemma == 0:
                lemma = known.get(token.orth)
                if lemma is None:
                    lemma = known[token.orth] = strings.add(self.lookup_lemmatize(token)[0])
                token.lemma = lemma
        return doc


@Language.factory(
    "qualkam_lookup_lemmatizer",
    assigns=["token.lemma"],
    default_config={
        "model": None,
        "mode": "lookup",
        "overwrite": False,
        "scorer": {"@scorers": "spacy.lemmatizer_scorer.v1"},
    },
)
def make_cached_lemmatizer(
    nlp: Language, model: Any, name: str, mode: str, overwrite: bool, scorer: Callable[..., Any] | None
) -> CachedLookupLemmatizer:
    return CachedLookupLemmatizer(nlp.vocab, model, name, mode=mode, overwrite=overwrite, scorer=scorer)


def _blank_english() -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("qualkam_lookup_lemmatizer", name="lemmatizer")
    try:
        nlp.initialize()
    except (ValueError, OSError) as exc:
        raise QualkamError(
            "the lookup lemmatizer needs the spacy-lookups-data package: pip install spacy-lookups-data"
        ) from exc
    return nlp


def _trained(name: str) -> Language:
    if not spacy.util.is_package(name) and not Path(name).exists():
        raise ModelNotFoundError(
            f"spaCy pipeline {name!r} is not installed. Install it into this environment "
            f"(pip install {name}, from a wheel or a registry that carries it; "
            f"'python -m spacy download {name}' needs internet), or leave out {{argument}} to use "
            "the built-in blank English pipeline.",
            argument="model",
        )
    try:
        nlp = spacy.load(name, exclude=["ner"])
    except (OSError, ValueError, ImportError) as exc:
        raise ModelNotFoundError(f"spaCy pipeline {name!r} could not be loaded: {exc}") from exc
    if not ({"parser", "senter", "sentencizer"} & set(nlp.pipe_names)):
        nlp.add_pipe("sentencizer")
    return nlp


# spaCy's tokenizer strips affixes one at a time, searching and copying the rest of the
# word each time: a word of n punctuation marks (30,000 '=' in one turn) costs n^2 and ran
# for many minutes (issue 11). Words longer than LONG_WORD are tokenized in pieces of
# WORD_PIECE characters, which bounds the cost per character; shorter words (any URL a
# transcript quotes) are tokenized whole, exactly as before.
LONG_WORD = 100
WORD_PIECE = 50
_LONG_WORD = re.compile(rf"\S{{{LONG_WORD + 1},}}")


class BoundedTokenizer:
    """spaCy's tokenizer, given very long words in pieces; the Doc's text is unchanged."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, text: str) -> Doc:
        cuts = [
            cut
            for word in _LONG_WORD.finditer(text)
            for cut in range(word.start() + WORD_PIECE, word.end(), WORD_PIECE)
        ]
        if not cuts:
            return self.inner(text)
        bounds = [0, *cuts, len(text)]
        pieces = [self.inner(text[a:b]) for a, b in itertools.pairwise(bounds)]
        return Doc.from_docs(pieces, ensure_whitespace=False)

    def __getattr__(self, name: str) -> Any:  # rules, vocab, to_bytes ...: the wrapped tokenizer's
        return getattr(self.inner, name)


def split_long(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at a paragraph break, a line
    break or a space near the end of each piece when there is one; joined they give ``text``."""
    pieces = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n") + 2, window.rfind("\n") + 1, window.rfind(" ") + 1)
        cut = cut if cut > limit // 2 else limit
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def pipe(nlp: Language, texts: Iterable[str]) -> Iterator[Doc]:
    """``nlp.pipe(texts)`` for texts of any length: one longer than ``nlp.max_length`` (spaCy
    refuses it: a turn of over a million characters) is processed in pieces and joined."""
    counts: deque[int] = deque()

    def parts() -> Iterator[str]:
        for text in texts:
            pieces = split_long(text, nlp.max_length)
            counts.append(len(pieces))
            yield from pieces

    docs = iter(nlp.pipe(parts()))
    for doc in docs:
        n = counts.popleft()
        yield doc if n == 1 else Doc.from_docs([doc, *(next(docs) for _ in range(n - 1))], ensure_whitespace=False)


@lru_cache(maxsize=4)
def load_pipeline(model: str | None = None) -> Language:
    """Return the pipeline for ``model`` (None or ``blank:en`` for the default); cached."""
    nlp = _blank_english() if model in (None, "", DEFAULT_PIPELINE) else _trained(model)
    nlp.add_pipe("qualkam_lower_lemma", last=True)
    nlp.tokenizer = BoundedTokenizer(nlp.tokenizer)
    return nlp
