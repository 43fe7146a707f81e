"""``qualkam code`` as a library call: folder -> segments -> suggestions -> store -> outputs.

Each source is read, segmented, matched and stored in its own transaction, then dropped,
so memory stays bounded by the largest source, not the corpus (with the trained model, by
``MODEL_BATCH`` segments of consecutive sources, which the model scores in one pass; with
``jobs``, by a few sources per worker). Segmenting and matching, nearly all the work, can run
in worker processes (``qualkam.parallel``); this process reads the files and writes the store
in file order, so results do not depend on the number of jobs. Unchanged files are skipped
unread by their stat key, unchanged sources by their fingerprint (same text, metadata,
codebook, unit and pipeline).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from qualkam import __version__
from qualkam.choices import unknown
from qualkam.coding.codebook import (
    BUILTIN,
    DEFAULT_CODEBOOK,
    Codebook,
    CodebookChange,
    compare_codebooks,
    load_codebook,
    resolve_path,
)
from qualkam.coding.nlp import load_pipeline, pipe, pipeline_name
from qualkam.coding.segment import Segment, Unit, resolve_turns, split_turn
from qualkam.coding.suggest import Suggester, Suggestion
from qualkam.errors import CodebookChangeError, QualkamError, debugging, unexpected
from qualkam.parallel import available_cores, ordered_map, start_method
from qualkam.render.outputs import write_outputs
from qualkam.sources.ingest import PreparedSource, Problem, UnchangedFile, discover, prepare
from qualkam.store.codebooks import people_codings_by_code, save_codebook
from qualkam.store.project import Project
from qualkam.store.sources import (
    FileState,
    SourceRecord,
    file_states,
    fingerprints,
    remember_files,
    source_paths,
    store_source,
)

if TYPE_CHECKING:
    from qualkam.coding.learn import Model

Progress = Callable[[int, int, str], None]
SUGGEST_MODES = ("rules", "model", "both")  # the codebook's rules, the trained model (qualkam train), or both


@dataclass
class CodebookChoice:
    """The codebook a run uses, why, and what it changes in the project."""

    codebook: Codebook
    previous: Codebook | None = None  # the project's codebook before the run (None: a new project)
    change: CodebookChange | None = None  # set when the run replaces the project's codebook
    notes: list[str] = field(default_factory=list)


def choose_codebook(
    project: Project, requested: Codebook | str | Path | None = None, replace: bool = False
) -> CodebookChoice:
    """The codebook a run on ``project`` uses: the project owns its codebook.

    ``requested`` None: the project's stored codebook; the built-in default only for a project
    with none yet. A requested codebook that differs from the project's is used when no person
    has coded in the project (a note says so); with people's codings it raises
    CodebookChangeError saying what would change, unless ``replace`` is true.
    """
    # A stored version that no longer validates can still be compared with (by its codes) and
    # replaced, but not coded with.
    current = project.codebook(strict=requested is None)
    notes: list[str] = []
    if requested is None:
        if current is not None:
            stale = _file_changed(current)
            if stale:
                notes.append(
                    f"the codebook file {stale} has changed since the project stored it; this run uses "
                    f"the stored version (pass --codebook {stale} to use the file)"
                )
            return CodebookChoice(current, current, notes=notes)
        book = load_codebook(DEFAULT_CODEBOOK)
        new = f"a new project: the built-in codebook '{DEFAULT_CODEBOOK}' (pass --codebook PATH for your own)"
        return CodebookChoice(book, None, notes=[new])
    book = requested if isinstance(requested, Codebook) else load_codebook(requested)
    if current is None or current.hash == book.hash:
        return CodebookChoice(book, current)
    change = compare_codebooks(current, book)
    used = people_codings_by_code(project)
    people = sum(used.values())
    lost = {c: used[c] for c in change.removed if c in used}
    detail = "\n".join(f"  {line}" for line in change.lines())
    if people and not replace:
        lost_text = (
            f"; {sum(lost.values())} of people's codings use removed codes "
            f"({', '.join(f'{c}: {n}' for c, n in lost.items())}) and would be kept under retired codes"
            if lost
            else "; no coding by people uses a removed code"
        )
        raise CodebookChangeError(
            f"{project.path} holds {people} coding(s) by people made with the codebook {current.name} "
            f"{current.version}; {book.describe()} is a different codebook{lost_text}. It would change:\n{detail}\n"
            "Nothing was changed. To keep the project's codebook, drop --codebook; to use this one anyway, add "
            "--replace-codebook; to rename, merge or split codes so people's codings follow them, run "
            "'qualkam codebook migrate NEW.yaml --coder NAME' first.",
            change,
        )
    if people:
        notes.append(
            f"replacing the project's codebook {current.name} {current.version} with {book.describe()} "
            f"(--replace-codebook); {people} coding(s) by people are kept"
            + (f", {sum(lost.values())} of them on removed codes" if lost else "")
            + f":\n{detail}"
        )
    else:
        notes.append(
            f"the project's codebook was {current.name} {current.version}; this run uses {book.describe()} "
            f"instead (no coding by people yet, so nothing of theirs changes):\n{detail}"
        )
    return CodebookChoice(book, current, change, notes)


def _file_changed(stored: Codebook) -> str | None:
    """The file a stored codebook was loaded from, when it still exists and now says something
    else (so a re-run can say the project's version is used, not the edited file)."""
    names = {f"codebooks/{file}": name for name, file in BUILTIN.items()}
    try:
        path = resolve_path(names.get(stored.path, stored.path))
        text = path.read_text(encoding="utf-8-sig")
    except (QualkamError, OSError, UnicodeDecodeError, ValueError):
        return None
    return names.get(stored.path, stored.path) if text != stored.text else None


@dataclass
class CodeReport:
    """What a run did, for the summary and the exit code."""

    files: int = 0
    coded: int = 0
    unchanged: int = 0
    segments: int = 0
    suggestions: int = 0
    reanchored: int = 0
    detached: int = 0
    problems: list[Problem] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    missing_sources: list[str] = field(default_factory=list)
    excluded_sources: list[str] = field(default_factory=list)  # in the project, file still there but excluded
    retired_in_use: dict[str, int] = field(default_factory=dict)
    model_id: int | None = None
    codebook: Codebook | None = None  # the codebook the run used (see ``codebook.describe()``)
    codebook_notes: list[str] = field(default_factory=list)  # how it was chosen, what it changed
    folder: Path = Path(".")

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.skipped]


def segment_and_suggest(
    source: PreparedSource, unit: Unit, suggester: Suggester, rules: bool = True
) -> tuple[list[Segment], list[list[Suggestion]]]:
    """Run the pipeline once per turn; cut the turn into segments and match within it
    (``rules=False``: segments only, for ``--suggest model``)."""
    text = source.raw.text
    resolved = resolve_turns(source.turns, source.meta)
    docs = pipe(suggester.nlp, (text[turn.start : turn.end] for turn, *_ in resolved))
    segments: list[Segment] = []
    suggestions: list[list[Suggestion]] = []
    for (turn, speaker, role, speaker_unit), doc in zip(resolved, docs):
        spans = split_turn(text, turn, doc, unit)
        matched = suggester.suggest(doc, turn.start, spans) if rules else [[] for _ in spans]
        for (start, end), found in zip(spans, matched):
            span = doc.char_span(start - turn.start, end - turn.start, alignment_mode="expand")
            lemmas = " ".join(t.lemma_ for t in span if not t.is_space) if span is not None else None
            segments.append(
                Segment(
                    len(segments),
                    start,
                    end,
                    text[start:end],
                    speaker,
                    role,
                    speaker_unit,
                    turn.time_start,
                    turn.time_end,
                    lemmas,
                )
            )
            suggestions.append(found)
    return segments, suggestions


def _record(
    source: PreparedSource, unit: Unit, pipeline: str, codebook: Codebook, extra: tuple[str, ...] = ()
) -> SourceRecord:
    meta = source.meta
    return SourceRecord(
        id=source.id,
        path=source.rel,
        format=source.raw.format,
        encoding=source.raw.encoding,
        content_hash=source.content_hash,
        fingerprint=source.fingerprint(unit.value, pipeline, codebook.hash, *extra),
        type=meta.type,
        date=meta.date,
        phase=source.phase,
        title=meta.title,
        participants={label: asdict(p) for label, p in meta.participants.items()},
        attributes=meta.attributes,
        text=source.raw.text,
        unit=unit.value,
        pipeline=pipeline,
        state=source.state,
    )


MODEL_BATCH = 2000  # segments of consecutive sources the model scores in one pass (bounds the memory held)

# (record, segments, rule suggestions, progress callback); segments None: unchanged, nothing to store
Pending = list[tuple["SourceRecord | None", "list[Segment] | None", list[list[Suggestion]], Callable[[], None]]]

# A worker process's suggester and settings, made once by _worker_init (see qualkam.parallel).
_WORKER: tuple[Suggester, Unit, bool] | None = None


def _worker_init(
    codebook: Codebook, model: str | None, unit: Unit, rules: bool, suggester: Suggester | None = None
) -> None:
    """Build the worker's suggester, or take the one a forked worker inherited."""
    global _WORKER
    _WORKER = (suggester or Suggester(codebook, load_pipeline(model)), unit, rules)


@dataclass
class Failed:
    """A source whose segmenting or matching raised: reported as that file's problem."""

    reason: str


def _guarded(
    source: PreparedSource, unit: Unit, suggester: Suggester, rules: bool
) -> tuple[list[Segment], list[list[Suggestion]]] | Failed:
    """``segment_and_suggest``, with an unforeseen exception turned into ``Failed`` so one
    source cannot stop the run (nor, in a worker, break the pool)."""
    try:
        return segment_and_suggest(source, unit, suggester, rules)
    except Exception as exc:
        if debugging():
            raise
        return Failed(unexpected(exc))


def _worker_code(source: PreparedSource) -> tuple[list[Segment], list[list[Suggestion]]] | Failed:
    assert _WORKER is not None, "_worker_init did not run"
    suggester, unit, rules = _WORKER
    return _guarded(source, unit, suggester, rules)


def resolve_jobs(jobs: int | None, files: list[Path]) -> int:
    """``--jobs``: a number given is used as it is; by default every core. Forked workers
    start at no cost; workers that must start afresh (another thread runs, or no fork on this
    platform) cost seconds, so then a small folder is coded in this process."""
    if jobs is not None:
        if jobs < 1:
            raise QualkamError(f"--jobs {jobs}: give 1 or more worker processes")
        return jobs
    cores = available_cores()
    if cores == 1 or start_method() == "fork":
        return cores
    size = 0
    for path in files:
        try:
            size += path.stat().st_size
        except OSError:
            continue  # read_source reports it
        if size >= AUTO_JOBS_MIN_BYTES:
            return cores
    return 1


AUTO_JOBS_MIN_BYTES = 1_000_000  # about 150,000 words: below it, one process beats workers started afresh


def _finish(
    record: SourceRecord | None,
    segments: list[Segment] | None,
    suggestions: list[list[Suggestion]],
    codebook_id: int,
    project: Project,
    report: CodeReport,
    done: Callable[[], None],
    suggest: str = "rules",
    learned: Model | None = None,
    pending: Pending | None = None,
) -> None:
    """Store one coded source (``segments`` None: unchanged, nothing to store); with a model,
    queue it in ``pending`` for ``_flush`` (the model suggests for a batch of sources at once)."""
    if record is None or segments is None:
        report.unchanged += 1
        if pending:  # progress stays in file order
            pending.append((record, None, [], done))
        else:
            done()
        return
    if learned is not None and pending is not None:
        pending.append((record, segments, suggestions, done))
        if sum(len(p[1] or ()) for p in pending) >= MODEL_BATCH:
            _flush(pending, codebook_id, project, report, suggest, learned)
        return
    _store(record, segments, suggestions, codebook_id, project, report)
    done()


def _flush(
    pending: Pending, codebook_id: int, project: Project, report: CodeReport, suggest: str, learned: Model
) -> None:
    """The model's suggestions for the queued sources in one pass; store them in order."""
    found_all = iter(
        learned.suggest_many([(record.id, segments) for record, segments, _, _ in pending if segments is not None])
    )
    for record, segments, suggestions, done in pending:
        if segments is not None:
            found = next(found_all)
            suggestions = found if suggest == "model" else [rules + model for rules, model in zip(suggestions, found)]
            _store(record, segments, suggestions, codebook_id, project, report)
        done()
    pending.clear()


def _store(
    record: SourceRecord,
    segments: list[Segment],
    suggestions: list[list[Suggestion]],
    codebook_id: int,
    project: Project,
    report: CodeReport,
) -> None:
    try:
        stored = store_source(project, record, codebook_id, segments, suggestions)
    except sqlite3.Error:
        raise  # the store itself (full disk, read-only, locked): the run cannot go on
    except Exception as exc:  # this source's data: its transaction rolled back, the run goes on
        if debugging():
            raise
        report.problems.append(Problem(str(report.folder / record.path), unexpected(exc)))
        return
    report.coded += 1
    report.segments += stored.segments
    report.suggestions += stored.suggestions
    report.reanchored += stored.reanchored
    report.detached += stored.detached


def code_folder(
    folder: str | Path,
    codebook: Codebook | str | Path | None,
    project: Project,
    unit: Unit = Unit.turn,
    model: str | None = None,
    encoding: str | None = None,
    out_dir: str | Path | None = "qualkam-out",
    progress: Progress | None = None,
    suggest: str = "rules",
    jobs: int | None = None,
    replace_codebook: bool = False,
    exclude: Sequence[str] = (),
) -> CodeReport:
    """Code every transcript in ``folder`` into ``project``; write the outputs to ``out_dir``.

    ``codebook``: None uses the project's own codebook (the built-in ``kam`` only for a new
    project); a Codebook, built-in name or path is used as well, but one that differs from
    the project's codebook in a project with people's codings raises CodebookChangeError
    unless ``replace_codebook`` (see ``choose_codebook``). The report says which it used.

    ``suggest``: ``rules`` (the codebook's patterns), ``model`` (the newest model from
    ``qualkam train``, stored with origin ``model``) or ``both``. ``jobs``: worker processes
    that segment and match (None: see ``resolve_jobs``); the store is written in file order
    by this process, so the result is the same for any number of jobs. ``exclude``: gitignore
    patterns of files not to read, added to the folder's ``.qualkamignore``; the project store
    and ``out_dir`` are never read as sources.
    """
    if suggest not in SUGGEST_MODES:
        raise unknown("--suggest", suggest, SUGGEST_MODES)
    choice = choose_codebook(project, codebook, replace_codebook)
    codebook = choice.codebook
    learned = None
    if suggest != "rules":
        from qualkam.coding.learn import load_model  # spaCy textcat and scikit-learn only when asked for

        learned = load_model(project)
    folder = Path(folder)
    own = [project.path] + ([Path(out_dir)] if out_dir is not None else [])
    files, problems = discover(folder, exclude, own)
    workers = resolve_jobs(jobs, files)
    report = CodeReport(
        files=len(files),
        problems=list(problems),
        model_id=learned.id if learned else None,
        codebook=codebook,
        codebook_notes=choice.notes,
        folder=folder,
    )
    pipeline = pipeline_name(model)
    rules = suggest != "model"
    # The suggest mode and model version join the fingerprint (only when not the default, so
    # fingerprints of rule runs stay as they were): `--suggest model` after a rules run, or
    # after a new `qualkam train`, must re-suggest.
    extra = () if learned is None else (f"suggest:{suggest}", f"model:{learned.id}")
    codebook_id = save_codebook(project, codebook)
    known = fingerprints(project)
    # What a file's stat key stands for besides the file: a change to any of these re-reads it.
    settings = json.dumps([__version__, unit.value, pipeline, codebook.hash, extra, encoding])
    restated: list[FileState] = []  # unchanged sources read again (their stat changed): remember the new stat
    seen: set[str] = set()
    handled = 0
    pending: Pending | None = [] if learned is not None else None  # coded, waiting for the model's batch

    def tick(path: str) -> Callable[[], None]:
        def done() -> None:
            nonlocal handled
            handled += 1
            if progress is not None:
                progress(handled, len(files), path)

        return done

    def work() -> Iterator[tuple[Problem | UnchangedFile | SourceRecord, PreparedSource | None]]:
        """Each file in order: a problem, or its record with the source to code (None: unchanged)."""
        for item in prepare(folder, files, codebook, encoding, file_states(project), settings):
            if isinstance(item, Problem):
                report.problems.append(item)
                if item.skipped:
                    yield item, None
                continue
            if isinstance(item, UnchangedFile):
                seen.add(item.source_id)
                yield item, None
                continue
            seen.add(item.id)
            try:
                record = _record(item, unit, pipeline, codebook, extra)
            except Exception as exc:  # e.g. metadata the fingerprint cannot hold
                if debugging():
                    raise
                problem = Problem(str(item.path), unexpected(exc))
                report.problems.append(problem)
                yield problem, None
                continue
            if known.get(record.id) != record.fingerprint:
                yield record, item
                continue
            if item.state is not None:
                restated.append(item.state)
            yield record, None

    @cache
    def suggester() -> Suggester:  # built only if this process codes a source itself
        return Suggester(codebook, load_pipeline(model))

    def worker_args() -> tuple:  # when the pool starts: forked workers inherit the suggester built here
        return codebook, model, unit, rules, suggester() if start_method() == "fork" else None

    coded = ordered_map(
        work(),
        lambda source: _guarded(source, unit, suggester(), rules),
        workers,
        _worker_code,
        _worker_init,
        worker_args,
    )
    for key, result in coded:
        if isinstance(result, Failed) and isinstance(key, SourceRecord):
            key = Problem(str(folder / key.path), result.reason)
            report.problems.append(key)
        if isinstance(key, Problem):
            if pending:  # progress stays in file order
                _flush(pending, codebook_id, project, report, suggest, learned)  # type: ignore[arg-type]
            tick(key.path)()
            continue
        assert not isinstance(result, Failed)  # a failed source became a Problem above
        segments, suggestions = result if result is not None else (None, [])
        if isinstance(key, UnchangedFile):
            _finish(None, None, [], codebook_id, project, report, tick(str(key.path)), suggest, learned, pending)
        else:
            _finish(key, segments, suggestions, codebook_id, project, report, tick(key.path), suggest, learned, pending)
    if pending:
        _flush(pending, codebook_id, project, report, suggest, learned)  # type: ignore[arg-type]
    remember_files(project, restated)
    paths = source_paths(project)
    for source_id in sorted(set(known) - seen):
        path = paths.get(source_id)
        there = path is not None and (folder / path).is_file()
        (report.excluded_sources if there else report.missing_sources).append(source_id)
    report.retired_in_use = {
        r[0]: r[1]
        for r in project.query(
            "SELECT c.code_id, COUNT(*) FROM codings c JOIN codes k ON k.id = c.code_id "
            "WHERE k.retired_at IS NOT NULL AND c.coder IS NOT NULL GROUP BY c.code_id ORDER BY c.code_id"
        )
    }
    if out_dir is not None:
        report.outputs = write_outputs(project, out_dir)
    return report
