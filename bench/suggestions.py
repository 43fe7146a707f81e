"""Benchmark of learned suggestions on real coded data (issue 15): the model beside a plain peer.

TalkMoves (``../shared/corpora/talkmoves/``, CC BY-NC-SA 4.0, read from there and never
copied into this repository): 191 classroom transcripts, one spreadsheet each (TimeStamp,
Turn, Speaker, Sentence, Teacher Tag, Student Tag), one expert talk-move label per sentence.
The script

1. codes the spreadsheets with qualkam's own reader into a project in a work folder, with
   ``bench/talkmoves.yaml`` (the coding manual's moves, in our own words) and sentence
   segments (``--unit``);
2. places every labelled row at its exact character span in the stored source text (each
   row's words found in order) and codes each span as the coder ``expert`` with
   ``apply_span``, as the long-CSV codings import does (one coding per span, one
   transaction); it reports the rows it could not place and how many sentence segments
   coincide with a spreadsheet row;
3. measures, on held-out folds split by source, the learned model (``cross_validate``, as
   ``qualkam train`` reports it: each test fold calibrated and thresholded on the other folds)
   beside the plain peer, a scikit-learn ``TfidfVectorizer(ngram_range=(1, 2))`` and a
   default ``LogisticRegression`` per code (``predict``) on the segments' text, fitted and
   tested on exactly the same segments and folds (``out_of_fold``), both scored with
   ``qualkam.coding.metrics``.

Labels: "N - Name" with variants of case and spacing, normalised by the number. Teacher 2-5,
8, 9 and student 2-5 are the manual's moves; 1 is no move; teacher 6 ("Marking") and 7
("Context") are not in the manual and are left uncoded (counted in the report).

``--project PATH --coder NAME`` runs the same comparison on any coded qualkam project (the
corpus kept aside), with no TalkMoves code involved.

Not a test: ``python bench/suggestions.py`` (full corpus: 56,000 sentence segments, about 14
minutes of CPU on a 2-core machine, most of it the model's cross-validation), ``--files 40`` for
a quick run (about 3 minutes of CPU). ``--peer balanced`` gives the peer
``class_weight="balanced"``, for information. ``--embeddings`` (issue 15; needs
``pip install "qualkam[embeddings]"``) trains the model with the optional embedding classifier
and also prints, on the same folds, the model without it and it alone.
Target (issue 15): the model ahead of the peer by >= 0.08 macro F1. Exit 0 when met, 1 when
missed, 2 on bad input.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
import warnings
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without installing

from qualkam.coding import metrics  # noqa: E402
from qualkam.coding.learn import (  # noqa: E402
    DEFAULT_EPOCHS,
    Progress,
    assign_folds,
    code_groups,
    cross_validate,
    out_of_fold,
    segment_folds,
    training_set,
)
from qualkam.coding.learn.curve import learning_curve  # noqa: E402
from qualkam.coding.learn.prior import (  # noqa: E402
    ZERO_SHOT_FLOOR,
    project_matcher,
    project_prior,
    zero_shot_choice,
    zero_shot_rule,
)
from qualkam.coding.learn.training import rule_predictions  # noqa: E402
from qualkam.coding.segment import Unit  # noqa: E402
from qualkam.errors import QualkamError  # noqa: E402
from qualkam.sources.structured import cell_text  # noqa: E402
from qualkam.sources.textio import normalise  # noqa: E402
from qualkam.store.project import Project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "talkmoves"
CODEBOOK = Path(__file__).with_name("talkmoves.yaml")
CODER = "expert"
TARGET = 0.08  # macro F1, model minus peer

# The label's leading number -> code (bench/talkmoves.yaml); 1 is "None", no move.
TEACHER = {
    2: "keeping_together",
    3: "getting_relate",
    4: "restating",
    5: "revoicing",
    8: "press_accuracy",
    9: "press_reasoning",
}
STUDENT = {2: "relating", 3: "asking_info", 4: "making_claim", 5: "providing_evidence"}
NOT_IN_MANUAL = {6: "Marking", 7: "Context"}  # teacher labels the manual does not define
_NUMBER = re.compile(r"^\s*(\d+)")


# -- reading the labels ---------------------------------------------------------------------
@dataclass
class Row:
    """One spreadsheet row with words: its place in the sheet, its words as the reader keeps
    them, and its codes."""

    number: int
    words: str
    codes: list[str]


@dataclass
class LabelCount:
    """How the tags were read, over every file."""

    values: Counter[str] = field(default_factory=Counter)  # "teacher 2" -> rows
    spellings: dict[str, set[str]] = field(default_factory=dict)  # "teacher 2" -> raw values
    unreadable: Counter[str] = field(default_factory=Counter)  # a tag with no leading number


def _words(value: Any) -> str:
    """A cell's words as they are in the stored text: the spreadsheet reader's ``cell_text``,
    then the normalisation every source's text gets (NFC)."""
    return normalise(cell_text(value))


def _key(value: Any) -> str:
    return " ".join(str(value).casefold().split()) if value is not None else ""


def read_rows(path: Path, counts: LabelCount) -> list[Row]:
    """The rows with words of a TalkMoves workbook (first sheet with a Sentence header)."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for sheet in book.worksheets:
            rows = sheet.iter_rows(values_only=True)
            for number, header in enumerate(rows, start=1):
                names = [_key(v) for v in header]
                if "sentence" in names:
                    return _rows(rows, number, names, counts)
                if number >= 20:
                    break
    finally:
        book.close()
    raise ValueError(f"{path.name}: no Sentence column in the first 20 rows")


def _rows(rows: Any, header_row: int, names: list[str], counts: LabelCount) -> list[Row]:
    wanted = ("sentence", "teacher tag", "student tag")
    column: dict[str, int] = {name: names.index(name) for name in wanted if name in names}
    found = []
    for number, row in enumerate(rows, start=header_row + 1):

        def cell(name: str, row: Sequence[Any] = row) -> Any:
            index = column.get(name)
            return row[index] if index is not None and index < len(row) else None

        words = _words(cell("sentence"))
        if not words:
            continue
        codes = []
        for who, moves in (("teacher", TEACHER), ("student", STUDENT)):
            raw = cell(f"{who} tag")
            if raw is None or not str(raw).strip():
                continue
            match = _NUMBER.match(str(raw))
            if match is None:
                counts.unreadable[f"{who} {str(raw).strip()!r}"] += 1
                continue
            label = f"{who} {int(match.group(1))}"
            counts.values[label] += 1
            counts.spellings.setdefault(label, set()).add(" ".join(str(raw).split()))
            if int(match.group(1)) in moves:
                codes.append(moves[int(match.group(1))])
        found.append(Row(number, words, codes))
    return found


# -- placing the rows in the stored text ----------------------------------------------------
@dataclass
class Placement:
    """Where the rows landed, over every file."""

    rows: int = 0  # rows with words
    labelled: int = 0  # rows with a manual code
    codings: int = 0  # (row, code) pairs placed
    unplaced: list[tuple[str, int, str]] = field(default_factory=list)  # (source, row, words) of labelled rows
    unplaced_unlabelled: int = 0
    skipped_text: int = 0  # rows placed after text that is not a speaker label (should be 0)
    segments: int = 0
    segments_on_a_row: int = 0  # segments whose span is exactly one row's
    labelled_on_a_segment: int = 0  # labelled rows whose span is exactly one segment's
    labelled_split: int = 0  # labelled rows over more than one segment
    segments_with_rows: int = 0  # segments holding some labelled row
    segments_merged: int = 0  # segments holding more than one labelled row


_GAP = re.compile(r"\s*(?:(?:^|\n)[^\n]*:\s*)?")  # between two rows: a space, or a new turn's "Speaker: "


def place_rows(text: str, rows: list[Row]) -> list[tuple[Row, int, int] | tuple[Row, None, None]]:
    """Each row's [start, end) in ``text``: its words found after the row before (a row that
    cannot be found keeps the search where it was)."""
    placed: list[tuple[Row, int, int] | tuple[Row, None, None]] = []
    cursor = 0
    for row in rows:
        at = text.find(row.words, cursor)
        if at < 0:
            placed.append((row, None, None))
            continue
        placed.append((row, at, at + len(row.words)))
        cursor = at + len(row.words)
    return placed


def _source_ids(project: Project, files: list[Path], folder: Path) -> dict[Path, str]:
    """The project's source id of each file (its path below the folder, without the extension)."""
    from qualkam.store.workspace import source_summaries

    known = {s["id"] for s in source_summaries(project)}
    ids = {}
    for path in files:
        name = path.relative_to(folder).with_suffix("").as_posix()
        if name not in known:
            raise ValueError(f"{path.name} was not coded into the project (no source {name!r})")
        ids[path] = name
    return ids


def label_project(project: Project, folder: Path, files: list[Path]) -> tuple[Placement, LabelCount]:
    """Place every file's labelled rows in its stored text and import each as one coding of its
    exact span by ``expert`` (``apply_span``, what the long-CSV import writes; called directly
    because a CSV cell loses the trailing space of a source id such as "Boats and Fish 4_Grade 4 ")."""
    from qualkam.coding.decisions import apply_span
    from qualkam.store.imports import segment_spans
    from qualkam.store.workspace import source_document

    report, counts = Placement(), LabelCount()
    spans: list[tuple[str, int, int, str]] = []
    for path, source in _source_ids(project, files, folder).items():
        document = source_document(project, source)
        assert document is not None
        text = document["text"]
        rows = read_rows(path, counts)
        placed = place_rows(text, rows)
        segments = [(s, e) for _, s, e in segment_spans(project, source)]
        report.rows += len(rows)
        report.segments += len(segments)
        row_spans = set()
        cursor = 0
        labelled_spans = []
        for row, start, end in placed:
            report.labelled += bool(row.codes)
            if start is None or end is None:
                if row.codes:
                    report.unplaced.append((source, row.number, row.words))
                else:
                    report.unplaced_unlabelled += 1
                continue
            if _GAP.fullmatch(text, cursor, start) is None:
                report.skipped_text += 1
            cursor = end
            row_spans.add((start, end))
            if row.codes:
                labelled_spans.append((start, end))
                spans += [(source, start, end, code) for code in row.codes]
        segment_set = set(segments)
        report.segments_on_a_row += len(segment_set & row_spans)
        report.labelled_on_a_segment += sum(span in segment_set for span in labelled_spans)
        holding: Counter[int] = Counter()
        starts = [s for s, _ in segments]  # in text order; segments do not overlap
        for start, end in labelled_spans:
            first = max(0, bisect_right(starts, start) - 1)
            over = [i for i in range(first, bisect_left(starts, end)) if segments[i][1] > start]
            report.labelled_split += len(over) > 1
            holding.update(over)
        report.segments_with_rows += len(holding)
        report.segments_merged += sum(n > 1 for n in holding.values())
    report.codings = len(spans)
    with project.transaction():  # all or nothing, as a file import
        for source, start, end, code in spans:
            apply_span(project, CODER, source, start, end, code, via="import TalkMoves labels")
    return report, counts


def choose_files(corpus: Path, files: int | None) -> list[Path]:
    """Every transcript, or ``files`` of them spread evenly over the sorted names."""
    found = sorted((corpus / "transcripts").glob("*.xlsx"))
    if not found:
        raise ValueError(f"no TalkMoves transcripts in {corpus / 'transcripts'}")
    if files is None or files >= len(found):
        return found
    if files < 2:
        raise ValueError("--files must be at least 2 (folds split by source)")
    return [found[i * len(found) // files] for i in range(files)]


def build_talkmoves(
    work: Path, corpus: Path, files: int | None, unit: Unit, jobs: int | None
) -> tuple[Path, Placement, LabelCount, float]:
    """Code the chosen transcripts into ``work/project.qualkam`` and import the expert's labels."""
    from qualkam.coding.run import code_folder

    chosen = choose_files(corpus, files)
    folder = work / "transcripts"
    project_path = work / "project.qualkam"
    if project_path.exists():
        raise ValueError(f"{project_path} exists: give an empty or new work folder")
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in chosen:
        copies.append(folder / path.name)
        shutil.copyfile(path, copies[-1])
    started = time.perf_counter()
    with Project.open(project_path, create=True) as project:
        code_folder(folder, CODEBOOK, project, unit=unit, out_dir=None, jobs=jobs)
        placement, counts = label_project(project, folder, copies)
    return project_path, placement, counts, time.perf_counter() - started


# -- the comparison ---------------------------------------------------------------------------
def fit_peer(texts: Sequence[str], labels: np.ndarray, class_weight: str | None = None) -> Any:
    """The plain peer: TF-IDF of word unigrams and bigrams and a default logistic regression per
    code (its ``predict``, i.e. probability >= 0.5); a code with one class in training predicts
    that class. ``class_weight="balanced"`` (``--peer balanced``, for information only) weighs
    a code's rare positives up, which moves that 0.5 cut the way a tuned threshold would."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2))
    matrix = vectorizer.fit_transform(texts)
    fitted: list[Any] = []
    for j in range(labels.shape[1]):
        truth = labels[:, j].astype(int)
        fitted.append(
            LogisticRegression(class_weight=class_weight).fit(matrix, truth)
            if truth.min() != truth.max()
            else bool(truth.max())
        )

    def predict(new: Sequence[str]) -> np.ndarray:
        rows = vectorizer.transform(new)
        out = np.zeros((len(new), len(fitted)), dtype=bool)
        for j, model in enumerate(fitted):
            out[:, j] = model if isinstance(model, bool) else model.predict(rows).astype(bool)
        return out

    return predict


@dataclass
class Comparison:
    """Held-out predictions of the model and the peer on one set of segments and folds."""

    layer: str
    codes: list[str]
    groups: dict[str, str]
    labels: np.ndarray
    model: np.ndarray
    peer: np.ndarray
    model_fold: np.ndarray
    peer_fold: np.ndarray
    sources: int
    segments: int
    skipped: dict[str, int]
    warnings: int
    seconds: dict[str, float]
    # With --embeddings (issue 15), on the same folds: "without embeddings" (the model's other
    # three scores, calibrated alone) and "embeddings alone" (their score, calibrated alone).
    variants: dict[str, np.ndarray] = field(default_factory=dict)


def compare(
    project: Project,
    layer: str,
    folds: int = 5,
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    min_examples: int = 5,
    fit: Any = fit_peer,
    progress: Progress | None = None,
    prior_k: float | None = None,
    embeddings: bool = False,
) -> Comparison:
    """The learned model's cross-validated predictions (as ``qualkam train`` computes them) and
    the peer's on the same segments and folds; ``embeddings``: the model with the optional
    embedding classifier, and (``variants``) the model without it and it alone, same folds."""
    data = training_set(project, layer, min_examples)
    sizes = data.segments.groupby("source").size().to_dict()
    fold_of_source = assign_folds(sizes, folds, seed)
    started = time.perf_counter()
    marks: dict[str, float] = {}

    def timed(message: str) -> None:
        marks.setdefault(message, time.perf_counter())
        if progress:
            progress(message)

    prior = project_prior(project, prior_k) if prior_k is not None else None
    oof, held_out, model_fold = cross_validate(
        data, fold_of_source, seed, epochs, timed, prior=prior, embeddings=embeddings
    )
    model_seconds = time.perf_counter() - started
    variants, extra_seconds = {}, {}
    if embeddings:
        from qualkam.coding.learn import held_out_predictions

        variants["without embeddings"] = held_out_predictions(oof[..., :3], data.labels, model_fold)
        variants["embeddings alone"] = held_out_predictions(oof[..., 3:], data.labels, model_fold)
        extra_seconds["embeddings"] = model_seconds - (marks.get("sentence embeddings", started) - started)
    peer_fold = segment_folds(data, fold_of_source)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        peer = out_of_fold(list(data.segments["text"]), data.labels, peer_fold, fit)
    peer_seconds = time.perf_counter() - started
    return Comparison(
        data.layer,
        data.codes,
        code_groups(project, data.codes),
        data.labels.astype(bool),
        held_out,
        peer,
        model_fold,
        peer_fold,
        len(sizes),
        len(data.segments),
        data.skipped,
        len(caught),
        {"model": model_seconds, "peer": peer_seconds, **extra_seconds},
        variants,
    )


def figures(result: Comparison) -> dict[str, Any]:
    """Per code and over all codes: the model's and the peer's precision, recall and F1."""
    per_code = {}
    counts: dict[str, dict[str, metrics.PRF]] = {"model": {}, "peer": {}}
    for j, code in enumerate(result.codes):
        truth = result.labels[:, j]
        for name in ("model", "peer"):
            counts[name][code] = metrics.compare(getattr(result, name)[:, j], truth)
        per_code[code] = {
            "group": result.groups[code],
            "support": int(truth.sum()),
            "model": counts["model"][code],
            "peer": counts["peer"][code],
        }
    overall = {name: metrics.summary(counts[name], result.codes) for name in ("model", "peer")}
    return {"per_code": per_code, "overall": overall}


def _f(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def _prf(found: metrics.PRF | dict[str, Any]) -> list[str]:
    if isinstance(found, metrics.PRF):
        return [_f(found.precision), _f(found.recall), _f(found.f1)]
    return [_f(found["precision"]), _f(found["recall"]), _f(found["f1"])]


def _delta(model: float | None, peer: float | None) -> str:
    return f"{model - peer:+.2f}" if model is not None and peer is not None else "-"


def table(result: Comparison) -> tuple[str, float | None]:
    """The printed table, and the model's macro F1 minus the peer's."""
    found = figures(result)
    width = max([len(c) for c in result.codes] + [len(g) for g in result.groups.values()] + [12]) + 2
    head = (
        f"{'code':<{width}}{'support':>8}   {'model P':>7}{'R':>6}{'F1':>6}   "
        f"{'peer P':>7}{'R':>6}{'F1':>6}   {'F1 diff':>7}"
    )
    lines = [head, "-" * len(head)]

    def line(name: str, support: str, model: list[str], peer: list[str], diff: str) -> str:
        return (
            f"{name:<{width}}{support:>8}   {model[0]:>7}{model[1]:>6}{model[2]:>6}   "
            f"{peer[0]:>7}{peer[1]:>6}{peer[2]:>6}   {diff:>7}"
        )

    for group in dict.fromkeys(result.groups[c] for c in result.codes):
        lines.append(group)
        for code in (c for c in result.codes if result.groups[c] == group):
            row = found["per_code"][code]
            model, peer = row["model"], row["peer"]
            lines.append(line(f"  {code}", str(row["support"]), _prf(model), _prf(peer), _delta(model.f1, peer.f1)))
    lines.append("-" * len(head))
    model, peer = found["overall"]["model"], found["overall"]["peer"]
    support = str(int(result.labels.sum()))
    lines.append(
        line("micro", support, _prf(model["micro"]), _prf(peer["micro"]), _delta(model["micro"].f1, peer["micro"].f1))
    )
    macro_diff = (
        model["macro"]["f1"] - peer["macro"]["f1"]
        if model["macro"]["f1"] is not None and peer["macro"]["f1"] is not None
        else None
    )
    lines.append(
        line("macro", "", _prf(model["macro"]), _prf(peer["macro"]), _delta(model["macro"]["f1"], peer["macro"]["f1"]))
    )
    return "\n".join(lines), macro_diff


def report(result: Comparison, title: str) -> float | None:
    """Print the comparison; return the macro F1 difference."""
    text, diff = table(result)
    folds = int(result.model_fold.max()) + 1 if len(result.model_fold) else 0
    print(
        f"{title} · from {result.layer} · {result.segments} segments, {result.sources} sources · "
        f"held out, {folds} folds by source (model: {result.seconds['model']:.0f} s, peer: "
        f"{result.seconds['peer']:.0f} s)"
    )
    print(text)
    if result.skipped:
        listed = ", ".join(f"{c} ({n})" for c, n in result.skipped.items())
        print(f"not trained (too few positive segments): {listed}")
    if result.warnings:
        print(f"the peer's fits gave {result.warnings} warning(s) (default settings kept; e.g. lbfgs not converged)")
    if diff is not None:
        verdict = "met" if diff >= TARGET else "missed"
        print(f"macro F1, model minus peer: {diff:+.3f} (target >= +{TARGET:.2f}: {verdict})")
    return diff


def report_variants(result: Comparison) -> None:
    """With --embeddings: F1 per code of the model with and without them, them alone and the peer."""
    if not result.variants:
        return
    columns = {"with embeddings": result.model, **result.variants, "peer": result.peer}
    width = max([len(c) for c in result.codes] + [8]) + 2
    print(
        f"embeddings (issue 15), F1 held out, same folds (the embedding classifier's CV: "
        f"{result.seconds.get('embeddings', 0):.0f} s of the model's {result.seconds['model']:.0f} s)"
    )
    print(f"{'code':<{width}}" + "".join(f"{name:>20}" for name in columns))
    counts = {
        name: {c: metrics.compare(pred[:, j], result.labels[:, j]) for j, c in enumerate(result.codes)}
        for name, pred in columns.items()
    }
    for code in result.codes:
        print(f"{'  ' + code:<{width}}" + "".join(f"{_f(counts[name][code].f1):>20}" for name in columns))
    for kind in ("micro", "macro"):
        found = {name: metrics.summary(counts[name], result.codes)[kind] for name in columns}
        values = [f.f1 if isinstance(f, metrics.PRF) else f["f1"] for f in found.values()]
        print(f"{kind:<{width}}" + "".join(f"{_f(v):>20}" for v in values))


def print_placement(placement: Placement, counts: LabelCount, unit: Unit) -> None:
    print(
        f"rows with words: {placement.rows}; labelled with a manual code: {placement.labelled}; "
        f"codings imported as {CODER!r}: {placement.codings}"
    )
    print(
        f"labelled rows not placed in the stored text: {len(placement.unplaced)}; unlabelled rows not placed: "
        f"{placement.unplaced_unlabelled}; rows placed after unexpected text: {placement.skipped_text}"
    )
    for source, number, words in placement.unplaced[:5]:
        print(f"  not placed: {source} row {number}: {words[:60]!r}")
    print(
        f"{unit.value} segments: {placement.segments}, of which exactly one row: {placement.segments_on_a_row} "
        f"({placement.segments_on_a_row / max(1, placement.segments):.1%}); labelled rows exactly one segment: "
        f"{placement.labelled_on_a_segment} ({placement.labelled_on_a_segment / max(1, placement.labelled):.1%}); "
        f"labelled rows over several segments: {placement.labelled_split}; segments holding several labelled rows: "
        f"{placement.segments_merged} of {placement.segments_with_rows}"
    )
    names = {**{f"teacher {n}": c for n, c in TEACHER.items()}, **{f"student {n}": c for n, c in STUDENT.items()}}
    names.update({f"teacher {n}": f"not coded ({what}: not in the manual)" for n, what in NOT_IN_MANUAL.items()})
    names.update({"teacher 1": "no move", "student 1": "no move"})
    print("tags read (by number):")
    for label in sorted(counts.values, key=lambda v: (v.split()[0] != "teacher", int(v.split()[1]))):
        spellings = len(counts.spellings[label])
        print(
            f"  {label:<11}{counts.values[label]:>7}  {names.get(label, 'not a code')}"
            f"  ({spellings} spelling{'s' if spellings != 1 else ''})"
        )
    if counts.unreadable:
        print(f"  tags with no number (ignored): {dict(counts.unreadable)}")


# -- the codebook as training signal (issue 15) ------------------------------------------------
def zero_shot_report(
    project: Project,
    layer: str,
    folds: int = 5,
    seed: int = 0,
    min_examples: int = 5,
    fit: Any = fit_peer,
    floor: float = ZERO_SHOT_FLOOR,
    top: int = 1,
    **_: Any,
) -> tuple[float | None, float | None]:
    """The model from the codebook alone (``qualkam train --from codebook``: no coding read)
    on every segment of the coded sources, beside the stored rules (also the codebook alone)
    and the peer (which learns from the codings, held out by source). Codes as in ``compare``.
    Returns the zero-shot macro and micro F1."""
    data = training_set(project, layer, min_examples)
    matcher = project_matcher(project, data.codes)
    best = matcher.match(list(data.segments["input"]))[0]
    chosen = zero_shot_choice(best, floor, top)
    zero = np.zeros(data.labels.shape, dtype=bool)
    for j, code in enumerate(matcher.codes):
        zero[:, data.codes.index(code)] = chosen[:, j]
    rules, stored = rule_predictions(project, data)
    sizes = data.segments.groupby("source").size().to_dict()
    fold = segment_folds(data, assign_folds(sizes, folds, seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = out_of_fold(list(data.segments["text"]), data.labels, fold, fit)
    truth = data.labels.astype(bool)
    kinds = {"zero-shot": zero, "rules": rules if stored else None, "peer": peer}
    counts = {
        name: {c: metrics.compare(pred[:, j], truth[:, j]) for j, c in enumerate(data.codes)}
        for name, pred in kinds.items()
        if pred is not None
    }
    print(
        f"zero-shot from the codebook · {layer} · {len(data.segments)} segments, {len(sizes)} sources · "
        f"{zero_shot_rule(floor, top)} · peer: held out, {int(fold.max()) + 1} folds by source"
    )
    width = max(len(c) for c in data.codes) + 2
    print(f"{'code':<{width}}{'support':>8}" + "".join(f"{name + ' P':>13}{'R':>6}{'F1':>6}" for name in counts))
    for j, code in enumerate(data.codes):
        cells = "".join(
            f"{_prf(counts[name][code])[0]:>13}{_prf(counts[name][code])[1]:>6}{_prf(counts[name][code])[2]:>6}"
            for name in counts
        )
        print(f"{code:<{width}}{int(truth[:, j].sum()):>8}{cells}")
    summary = {name: metrics.summary(counts[name], data.codes) for name in counts}
    for kind in ("micro", "macro"):
        cells = "".join(
            f"{_prf(summary[n][kind])[0]:>13}{_prf(summary[n][kind])[1]:>6}{_prf(summary[n][kind])[2]:>6}"
            for n in counts
        )
        print(f"{kind:<{width}}{'':>8}{cells}")
    return summary["zero-shot"]["macro"]["f1"], summary["zero-shot"]["micro"].f1


def curve_report(
    project: Project,
    layer: str,
    steps: Sequence[float],
    prior_k: float,
    folds: int = 5,
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    min_examples: int = 5,
    progress: Progress | None = None,
    **_: Any,
) -> None:
    """The learning curve with and without the codebook's rows, on the same folds and sources."""
    found = {
        name: learning_curve(project, layer, steps, min_examples, folds, seed, epochs, progress, prior_k=k)
        for name, k in (("people only", None), (f"+ codebook (k={prior_k:g})", prior_k))
    }
    names = list(found)
    print(f"learning curve · {layer} · held out, {folds} folds by source · macro / micro F1")
    print(f"{'share':>6}{'sources':>9}{'coded':>7}" + "".join(f"{n:>24}" for n in names) + f"{'macro diff':>12}")
    base, with_prior = found[names[0]].points, found[names[1]].points
    for a, b in zip(base, with_prior, strict=True):
        cells = "".join(f"{_f(p.macro['f1']):>14} / {_f(p.micro['f1']):<7}" for p in (a, b))
        diff = _delta(b.macro["f1"], a.macro["f1"])
        print(f"{a.share:>6.0%}{a.sources:>9.1f}{a.coded:>7.0f}{cells}{diff:>12}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the TalkMoves folder (default: ../shared/...)")
    parser.add_argument("--work", type=Path, help="build the project here and keep it (default: a temporary folder)")
    parser.add_argument("--files", type=int, help="take this many transcripts, spread over the sorted names")
    parser.add_argument("--unit", choices=[u.value for u in Unit], default=Unit.sentence.value)
    parser.add_argument("--jobs", type=int, help="worker processes for coding (default: every core)")
    parser.add_argument("--project", type=Path, help="generic mode: measure this coded qualkam project instead")
    parser.add_argument("--coder", help="generic mode: the coder whose codings are the truth")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--min-examples", type=int, default=5)
    parser.add_argument(
        "--peer",
        choices=["default", "balanced"],
        default="default",
        help="the peer's logistic regression: default settings (the issue's peer) or class_weight=balanced",
    )
    parser.add_argument(
        "--zero-shot", action="store_true", help="measure the model from the codebook alone (no codings read)"
    )
    parser.add_argument("--floor", type=float, default=ZERO_SHOT_FLOOR, help="with --zero-shot: the cosine floor")
    parser.add_argument("--top", type=int, default=1, help="with --zero-shot: codes per segment, at most")
    parser.add_argument(
        "--prior", type=float, metavar="K", help="the codebook's texts join the training, weighing K/(K+n) segments"
    )
    parser.add_argument(
        "--curve", metavar="STEPS", help="learning curve at these shares (0.02,0.05,...) with and without --prior"
    )
    parser.add_argument(
        "--embeddings",
        action="store_true",
        help='the model with the optional embedding classifier (pip install "qualkam[embeddings]"), '
        "beside the model without it, on the same folds",
    )
    args = parser.parse_args(argv)
    if args.curve and args.prior is None:
        parser.error("--curve compares with and without the codebook: give --prior K")
    settings: dict[str, Any] = {
        "folds": args.folds,
        "seed": args.seed,
        "epochs": args.epochs,
        "min_examples": args.min_examples,
        "fit": fit_peer if args.peer == "default" else partial(fit_peer, class_weight="balanced"),
        "progress": lambda message: print(f"model: {message}", file=sys.stderr, flush=True),
        "embeddings": args.embeddings,
    }
    note = ("" if args.peer == "default" else " (peer: class_weight=balanced)") + (
        " (model: with embeddings)" if args.embeddings else ""
    )
    if args.prior is not None:
        settings["prior_k"] = args.prior
        note += f" (model: with the codebook's texts, k={args.prior:g})"

    def measure(project: Project, layer: str, title: str) -> float | None:
        if args.zero_shot:
            zero_shot_report(project, layer, floor=args.floor, top=args.top, **settings)
            return None
        if args.curve:
            steps = [float(x) for x in args.curve.split(",") if x.strip()]
            curve_report(project, layer, steps, **settings)
            return None
        result = compare(project, layer, **settings)
        diff = report(result, title)
        report_variants(result)
        return diff

    try:
        if args.project is not None or args.coder is not None:
            if args.project is None or not args.coder:
                parser.error("the generic mode needs both --project and --coder")
            with Project.open(args.project) as project:
                diff = measure(project, f"coder:{args.coder}", f"suggestions: {args.project}{note}")
        else:
            unit = Unit(args.unit)
            work = args.work or Path(tempfile.mkdtemp(prefix="qualkam-suggestions-"))
            try:
                path, placement, counts, seconds = build_talkmoves(work, args.corpus, args.files, unit, args.jobs)
                print(f"TalkMoves: {args.corpus} · project built in {seconds:.0f} s ({path})")
                print_placement(placement, counts, unit)
                with Project.open(path) as project:
                    diff = measure(project, f"coder:{CODER}", f"suggestions: TalkMoves{note}")
            finally:
                if args.work is None:
                    shutil.rmtree(work, ignore_errors=True)
    except (QualkamError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.zero_shot or args.curve:
        return 0
    return 0 if diff is not None and diff >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
