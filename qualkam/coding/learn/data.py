"""The training data: which segments a layer of people's codings teaches, and with what labels.

What a model learns from is one people's layer (``qualkam.store.layers``): ``human`` (every
person's accepted codings, the consensus coder's included), ``consensus`` or ``coder:NAME``.
Examples are the segments of the sources the layer's coders have *seen* (decided anything
in; the coverage rule of ``qualkam.agreement.units``). A segment is positive for a code when
one of the layer's coders accepted the code there, negative otherwise, so a rejected
suggestion and a reviewed segment left uncoded both teach "not this code". Sources nobody in
the layer has seen are left out: silence there is not a "no". Codes with fewer positive
segments than ``min_examples`` are skipped and listed; retired codes are not trained.

Cross-validation splits by source (``assign_folds``), because neighbouring turns of one
interview share words and would flatter the model. Codes are reported in groups
(``code_groups``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from qualkam.agreement.units import seen_sources
from qualkam.choices import unknown
from qualkam.coding.learn.model import context_inputs, model_input
from qualkam.errors import QualkamError
from qualkam.store import training as store
from qualkam.store.layers import PEOPLE, Layer
from qualkam.store.project import Project
from qualkam.store.reads import code_tree
from qualkam.store.reads import coders as project_coders


@dataclass
class TrainingSet:
    """Segments of the seen sources, their model input, and 0/1 labels for the trained codes."""

    layer: str
    coders: list[str]
    segments: pd.DataFrame  # segment, source, position, text, input, context
    codes: list[str]  # trained codes, in codebook order
    labels: np.ndarray  # segments x codes, 1.0 = a layer coder accepted the code there
    positives: dict[str, int]  # every current code accepted somewhere -> positive segments
    skipped: dict[str, int]  # codes with fewer positives than min_examples -> positives
    retired: dict[str, int] = field(default_factory=dict)  # retired codes accepted -> positives


def layer_coders(project: Project, layer: str | Layer, argument: str = "layer") -> list[str]:
    """The coders whose decisions make up ``layer`` (human, consensus or coder:NAME); an
    error naming ``argument`` for another layer, an unknown coder, or a layer nobody coded."""
    parsed = Layer.parse(layer, argument=argument, allowed=PEOPLE)
    known = project_coders(project)
    if parsed.name == "coder" and parsed.coder not in known:
        raise unknown("coder", parsed.coder, known, argument)
    coders = store.layer_coders(project, parsed)
    missing = [c for c in coders if c not in known]
    if not coders or missing:
        raise QualkamError(
            f"no codings by {', '.join(missing) or 'any person'} in {project.path}; coders in this "
            f"project: {', '.join(known) or 'none yet'} (review, import or merge codings first)"
        )
    return coders


def training_set(project: Project, layer: str | Layer = "human", min_examples: int = 5) -> TrainingSet:
    """Gather the examples of ``layer``; raise when no code has ``min_examples`` positives."""
    if min_examples < 1:
        raise QualkamError("{argument} must be at least 1", argument="min_examples")
    parsed = Layer.parse(layer, argument="layer", allowed=PEOPLE)
    name = str(parsed)
    coders = layer_coders(project, parsed)
    decided = store.decisions(project, coders)
    seen = set().union(*seen_sources(decided, coders).values())
    segments = store.segments(project)
    segments = segments[segments["source"].isin(seen)].reset_index(drop=True)
    segments["input"] = [model_input(t, lem) for t, lem in zip(segments["text"], segments["lemmas"], strict=True)]
    # A seen source keeps all its segments, so every segment's neighbours are here.
    segments["context"] = context_inputs(
        list(segments["input"]), list(segments["source"]), list(segments["speaker"]), list(segments["role"])
    )
    segments = segments.drop(columns=["lemmas", "speaker", "role"])
    codes = sorted(code_tree(project).values(), key=lambda node: node.position)
    row_of = {int(seg): i for i, seg in enumerate(segments["segment"])}
    accepted = decided[decided["status"] == "accepted"]
    rows_by_code: dict[str, set[int]] = {}
    for seg, code in zip(accepted["segment"], accepted["code"], strict=True):
        if int(seg) in row_of:
            rows_by_code.setdefault(code, set()).add(row_of[int(seg)])
    positives = {c.id: len(rows_by_code[c.id]) for c in codes if c.id in rows_by_code and not c.retired}
    retired = {c.id: len(rows_by_code[c.id]) for c in codes if c.id in rows_by_code and c.retired}
    trained = [c for c, n in positives.items() if n >= min_examples]
    skipped = {c: n for c, n in positives.items() if n < min_examples}
    if not trained:
        most = max(positives.items(), key=lambda kv: kv[1], default=None)
        hint = f" (the most: {most[0]} with {most[1]})" if most else ""
        raise QualkamError(
            f"no code has {min_examples} or more positive segments from {name}{hint}; "
            "code more segments, or lower {argument}",
            argument="min_examples",
        )
    labels = np.zeros((len(segments), len(trained)), dtype=np.float32)
    for j, code in enumerate(trained):
        labels[sorted(rows_by_code[code]), j] = 1.0
    return TrainingSet(name, coders, segments, trained, labels, positives, skipped, retired)


# -- groups of codes, for the figures ---------------------------------------------------------
def group_attribute(project: Project) -> str | None:
    """The first code attribute the project's codebook declares under ``compare``."""
    try:
        book = project.codebook()
    except QualkamError:
        return None
    return book.compare[0].attribute if book is not None and book.compare else None


def grouping(attribute: str | None) -> str:
    """How codes are grouped, in words (``metrics["grouping"]``)."""
    return (
        f"the code attribute {attribute!r} (the codebook's compare), else the top-level ancestor code"
        if attribute
        else "the top-level ancestor code (the codebook compares no attribute)"
    )


def code_groups(project: Project, codes: Sequence[str], attribute: str | None = None) -> dict[str, str]:
    """Code -> its group: its value of ``attribute`` (default: the first code attribute the
    codebook compares, e.g. ``pole`` in the KAM codebook), else its top-level ancestor code."""
    attribute = attribute or group_attribute(project)
    tree = code_tree(project)
    groups = {}
    for code in codes:
        attributes = tree[code].attributes if code in tree else {}
        if attribute and attributes.get(attribute) not in (None, ""):
            groups[code] = str(attributes[attribute])
            continue
        top, hops = code, 0
        while top in tree and tree[top].parent and hops < 100:
            top, hops = str(tree[top].parent), hops + 1
        groups[code] = top
    return groups


# -- folds -----------------------------------------------------------------------------------
def assign_folds(sizes: dict[str, int], folds: int = 5, seed: int = 0) -> dict[str, int]:
    """Source -> fold, every source wholly in one fold (like scikit-learn's GroupKFold).

    Sources are shuffled with ``seed``, then placed largest first into the fold with the
    fewest segments so far, so folds are balanced. ``folds`` is capped at the number of
    sources.
    """
    if folds < 2:
        raise QualkamError(
            "{argument} must be at least 2 (cross-validation holds out some sources each time)", argument="folds"
        )
    if len(sizes) < 2:
        raise QualkamError(
            f"cross-validation by source needs at least 2 sources seen by the coders; "
            f"found {len(sizes)}: code another source first"
        )
    k = min(folds, len(sizes))
    names = sorted(sizes)
    random.Random(seed).shuffle(names)
    names.sort(key=lambda s: -sizes[s])  # stable: equal sizes keep the shuffled order
    load = [0] * k
    fold_of: dict[str, int] = {}
    for name in names:
        fold = min(range(k), key=lambda i: (load[i], i))
        fold_of[name] = fold
        load[fold] += sizes[name]
    return fold_of


def segment_folds(data: TrainingSet, fold_of_source: dict[str, int]) -> np.ndarray:
    """Each training segment's fold (its source's), in the order of ``data.segments``: the one
    split every held-out figure uses, the model's and a peer classifier's alike."""
    return np.array([fold_of_source[s] for s in data.segments["source"]], dtype=int)
