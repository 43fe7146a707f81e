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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
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
from qualkam.coding.pipeline import pipeline_name
from qualkam.coding.segment import Segment, Unit, resolve_turns, split_turn
from qualkam.errors import CodebookChangeError, QualkamError, debugging, fill, unexpected
from qualkam.parallel import available_cores, ordered_map, start_method
from qualkam.sources.ingest import PreparedSource, Problem, UnchangedFile, discover, prepare
from qualkam.store.codebooks import people_codings_by_code, save_codebook
from qualkam.store.project import Project
from qualkam.store.run import retired_codes_in_use
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
    from qualkam.coding.suggest import Suggester, Suggestion

# spaCy, the suggester and pandas (for the outputs) are imported where they are first used: a
# re-run over an unchanged folder codes nothing and rewrites no output, so it never loads them
# and costs little more than the start-up (issue 14).

Progress = Callable[[int, int, str], None]
SUGGEST_MODES = ("rules", "model", "both")  # the codebook's rules, the trained model (qualkam train), or both


CODEBOOK_ARGUMENTS = ("codebook", "replace_codebook")  # what choose_codebook's notes and errors name


@dataclass(frozen=True)
class Note:
    """A note on the codebook a run chose. Like a QualkamError's message, the text names the
    arguments as ``{codebook}`` and ``{replace_codebook}``: ``str(note)`` writes their names,
    ``note.worded(flags)`` the CLI's."""

    text: str
    arguments: tuple[str, ...] = CODEBOOK_ARGUMENTS

    def __str__(self) -> str:
        return self.worded()

    def worded(self, names: Mapping[str, str] | None = None) -> str:
        return fill(self.text, self.arguments, names)


@dataclass
class CodebookChoice:
    """The codebook a run uses, why, and what it changes in the project."""

    codebook: Codebook
    previous: Codebook | None = None  # the project's codebook before the run (None: a new project)
    change: CodebookChange | None = None  # set when the run replaces the project's codebook
    notes: list[Note] = field(default_factory=list)


def choose_codebook(
    project: Project, requested: Codebook | str | Path | None = None, replace: bool = False
) -> CodebookChoice:
    """The codebook a run on ``project`` uses: the project owns its codebook.

    ``requested`` None: the project's stored codebook; the built-in default only for a project
    with none yet. A requested codebook that differs from the project's is used when no person
    has coded in the project (a note says so); with people's codings it raises
    CodebookChangeError saying what would change, unless ``replace`` is true. Notes and the
    error name the arguments of ``code_folder``: ``codebook`` and ``replace_codebook``.
    """
    book: Codebook | None = None
    if requested is not None:
        # The requested text is parsed first: when it is the project's own (a re-run that names
        # its codebook), the stored version need not be parsed as well.
        row = project.codebook_row()
        stored_hash = row["hash"] if row is not None else None
        book = requested if isinstance(requested, Codebook) else load_codebook(requested, stored_hash)
        if book.hash == stored_hash:
            return CodebookChoice(book, book)
    # A stored version that no longer validates can still be compared with (by its codes) and
    # replaced, but not coded with.
    current = project.codebook(strict=requested is None)
    notes: list[Note] = []
    if requested is None:
        if current is not None:
            stale = _file_changed(current)
            if stale:
                notes.append(
                    Note(
                        f"the codebook file {stale} has changed since the project stored it; this run uses "
                        f"the stored version (pass {{codebook}} {stale} to use the file)"
                    )
                )
            return CodebookChoice(current, current, notes=notes)
        book = load_codebook(DEFAULT_CODEBOOK)
        new = Note(f"a new project: the built-in codebook '{DEFAULT_CODEBOOK}' (pass {{codebook}} PATH for your own)")
        return CodebookChoice(book, None, notes=[new])
    assert book is not None  # requested is not None here
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
            "Nothing was changed. To keep the project's codebook, drop {codebook}; to use this one anyway, add "
            "{replace_codebook}; to rename, merge or split codes so people's codings follow them, run "
            "'qualkam codebook migrate NEW.yaml --coder NAME' first.",
            change,
            arguments=CODEBOOK_ARGUMENTS,
        )
    if people:
        notes.append(
            Note(
                f"replacing the project's codebook {current.name} {current.version} with {book.describe()} "
                f"({{replace_codebook}}); {people} coding(s) by people are kept"
                + (f", {sum(lost.values())} of them on removed codes" if lost else "")
                + f":\n{detail}"
            )
        )
    else:
        notes.append(
            Note(
                f"the project's codebook was {current.name} {current.version}; this run uses {book.describe()} "
                f"instead (no coding by people yet, so nothing of theirs changes):\n{detail}"
            )
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
    codebook_notes: list[Note] = field(default_factory=list)  # how it was chosen, what it changed
    folder: Path = Path(".")

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.skipped]


def segment_and_suggest(
    source: PreparedSource, unit: Unit, suggester: Suggester, rules: bool = True
) -> tuple[list[Segment], list[list[Suggestion]]]:
    """Run the pipeline once per turn; cut the turn into segments and match within it
    (``rules=False``: segments only, for ``--suggest model``)."""
    from qualkam.coding.nlp import pipe

    text = source.raw.text
    resolved = resolve_turns(source.turns, source.meta)
    docs = pipe(suggester.nlp, (text[turn.start : turn.end] for turn, *_ in resolved))
    segments: list[Segment] = []
    suggestions: list[list[Suggestion]] = []
    for (turn, speaker, role, speaker_unit), doc in zip(resolved, docs, strict=False):
        spans = split_turn(text, turn, doc, unit)
        matched = suggester.suggest(doc, turn.start, spans) if rules else [[] for _ in spans]
        for (start, end), found in zip(spans, matched, strict=False):
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


@dataclass(frozen=True)
class _Worker:
    """What a worker process codes with, made once by ``_worker_init`` (see qualkam.parallel)."""

    suggester: Suggester
    unit: Unit
    rules: bool


_WORKER: _Worker | None = None


def _worker_init(
    codebook: Codebook, model: str | None, unit: Unit, rules: bool, suggester: Suggester | None = None
) -> None:
    """Build the worker's suggester, or take the one a forked worker inherited."""
    global _WORKER
    _WORKER = _Worker(suggester or _new_suggester(codebook, model), unit, rules)


def _new_suggester(codebook: Codebook, model: str | None) -> Suggester:
    from qualkam.coding.nlp import load_pipeline
    from qualkam.coding.suggest import Suggester

    return Suggester(codebook, load_pipeline(model))


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
    return _guarded(source, _WORKER.unit, _WORKER.suggester, _WORKER.rules)


def resolve_jobs(jobs: int | None, files: list[Path]) -> int:
    """``jobs``: a number given is used as it is; by default every core. Forked workers
    start at no cost; workers that must start afresh (another thread runs, or no fork on this
    platform) cost seconds, so then a small folder is coded in this process."""
    if jobs is not None:
        if jobs < 1:
            raise QualkamError(f"{{argument}} {jobs}: give 1 or more worker processes", argument="jobs")
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


@dataclass
class _Waiting:
    """A source coded by the rules, waiting for the model's batch; ``segments`` None: an
    unchanged source, whose progress waits so progress stays in file order."""

    record: SourceRecord | None
    segments: list[Segment] | None
    suggestions: list[list[Suggestion]]
    path: str


class CodingRun:
    """One ``qualkam code`` run over a folder: what it was asked (the settings), the project
    it writes, its progress, and the summary it returns (``CodeReport``).

    Making one checks the arguments, chooses the codebook and the model and finds the files,
    writing nothing. ``run()`` then stores the codebook, and for each file in order reads it,
    codes it (here or in worker processes) and stores it in its own transaction; at the end
    it notes sources no longer there and writes the outputs. ``code_folder`` is the same as
    a function call.
    """

    def __init__(
        self,
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
    ) -> None:
        # What the run was asked, and what it codes with: checked and chosen here, before
        # anything is written (a wrong value or a refused codebook leaves the project as it was).
        self.project = project
        self.folder = Path(folder)
        self.unit = unit
        self.model = model
        self.encoding = encoding
        self.out_dir = out_dir
        self.progress = progress
        if suggest not in SUGGEST_MODES:
            raise unknown("suggestion mode", suggest, SUGGEST_MODES, "suggest")
        self.suggest = suggest
        self.rules = suggest != "model"
        choice = choose_codebook(project, codebook, replace_codebook)
        self.codebook = choice.codebook
        self.learned: Model | None = None
        if suggest != "rules":
            from qualkam.coding.learn import load_model  # spaCy textcat and scikit-learn only when asked for

            self.learned = load_model(project)
        own = [project.path] + ([Path(out_dir)] if out_dir is not None else [])
        self.files, problems = discover(self.folder, exclude, own)
        self.workers = resolve_jobs(jobs, self.files)
        self.pipeline = pipeline_name(model)
        # The suggest mode and model version join the fingerprint (only when not the default, so
        # fingerprints of rule runs stay as they were): `--suggest model` after a rules run, or
        # after a new `qualkam train`, must re-suggest.
        self.extra: tuple[str, ...] = ()
        if self.learned is not None:
            self.extra = (f"suggest:{suggest}", f"model:{self.learned.id}")
        # What a file's stat key stands for besides the file: a change to any of these re-reads it.
        self.settings = json.dumps([__version__, unit.value, self.pipeline, self.codebook.hash, self.extra, encoding])
        # What the run has done so far: the summary and the progress.
        self.report = CodeReport(
            files=len(self.files),
            problems=list(problems),
            model_id=self.learned.id if self.learned else None,
            codebook=self.codebook,
            codebook_notes=choice.notes,
            folder=self.folder,
        )
        self.codebook_id = 0  # the stored codebook's row, once run() has saved it
        self.known: dict[str, str] = {}  # source id -> fingerprint stored before the run
        self.handled = 0  # files done, for progress
        self.seen: set[str] = set()  # source ids found in the folder
        self.restated: list[FileState] = []  # unchanged sources read again (their stat changed)
        self.waiting: list[_Waiting] = []  # coded, waiting for the model's batch
        self._suggester: Suggester | None = None

    def run(self) -> CodeReport:
        """Code the folder; returns the summary (``self.report``)."""
        self.codebook_id = save_codebook(self.project, self.codebook)
        self.known = fingerprints(self.project)
        coded = ordered_map(
            self._sources(),
            self._code_here,
            self.workers,
            _worker_code,
            _worker_init,
            self._worker_args,
        )
        for key, result in coded:
            self._take(key, result)
        self._flush()
        self._wrap_up()
        return self.report

    # -- each file in order ------------------------------------------------------------------
    def _sources(self) -> Iterator[tuple[Problem | UnchangedFile | SourceRecord, PreparedSource | None]]:
        """Each file in order: a problem, or its record with the source to code (None: unchanged)."""
        report = self.report
        states = file_states(self.project)
        for item in prepare(self.folder, self.files, self.codebook, self.encoding, states, self.settings):
            if isinstance(item, Problem):
                report.problems.append(item)
                if item.skipped:
                    yield item, None
                continue
            if isinstance(item, UnchangedFile):
                self.seen.add(item.source_id)
                yield item, None
                continue
            self.seen.add(item.id)
            try:
                record = _record(item, self.unit, self.pipeline, self.codebook, self.extra)
            except Exception as exc:  # e.g. metadata the fingerprint cannot hold
                if debugging():
                    raise
                problem = Problem(str(item.path), unexpected(exc))
                report.problems.append(problem)
                yield problem, None
                continue
            if self.known.get(record.id) != record.fingerprint:
                yield record, item
                continue
            if item.state is not None:
                self.restated.append(item.state)
            yield record, None

    def _suggester_here(self) -> Suggester:
        """The suggester of this process, built only if it codes a source itself (or forks workers)."""
        if self._suggester is None:
            self._suggester = _new_suggester(self.codebook, self.model)
        return self._suggester

    def _code_here(self, source: PreparedSource) -> tuple[list[Segment], list[list[Suggestion]]] | Failed:
        return _guarded(source, self.unit, self._suggester_here(), self.rules)

    def _worker_args(self) -> tuple:
        # When the pool starts: forked workers inherit the suggester built here.
        forked = start_method() == "fork"
        return self.codebook, self.model, self.unit, self.rules, self._suggester_here() if forked else None

    def _take(
        self,
        key: Problem | UnchangedFile | SourceRecord,
        result: tuple[list[Segment], list[list[Suggestion]]] | Failed | None,
    ) -> None:
        """One file's outcome, in file order: a problem, an unchanged source, or a coded one."""
        if isinstance(result, Failed) and isinstance(key, SourceRecord):
            key = Problem(str(self.folder / key.path), result.reason)
            self.report.problems.append(key)
        if isinstance(key, Problem):
            self._flush()  # progress stays in file order
            self._done(key.path)
            return
        assert not isinstance(result, Failed)  # a failed source became a Problem above
        if isinstance(key, UnchangedFile):
            self._unchanged(str(key.path))
        elif result is None:
            self._unchanged(key.path)
        else:
            self._coded(key, *result)

    def _unchanged(self, path: str) -> None:
        self.report.unchanged += 1
        if self.waiting:  # progress stays in file order
            self.waiting.append(_Waiting(None, None, [], path))
        else:
            self._done(path)

    def _coded(self, record: SourceRecord, segments: list[Segment], suggestions: list[list[Suggestion]]) -> None:
        """Store a coded source; with a model, queue it for ``_flush`` (the model suggests for
        a batch of sources at once)."""
        if self.learned is not None:
            self.waiting.append(_Waiting(record, segments, suggestions, record.path))
            if sum(len(w.segments or ()) for w in self.waiting) >= MODEL_BATCH:
                self._flush()
            return
        self._store(record, segments, suggestions)
        self._done(record.path)

    def _flush(self) -> None:
        """The model's suggestions for the queued sources in one pass; store them in order."""
        if not self.waiting:
            return
        assert self.learned is not None, "only a run with a model queues sources"
        found_all = iter(
            self.learned.suggest_many(
                [(w.record.id, w.segments) for w in self.waiting if w.record is not None and w.segments is not None]
            )
        )
        for w in self.waiting:
            if w.record is not None and w.segments is not None:
                found = next(found_all)
                suggestions: Sequence[Sequence[Suggestion]] = (
                    found
                    if self.suggest == "model"
                    else [[*rules, *model] for rules, model in zip(w.suggestions, found, strict=False)]
                )
                self._store(w.record, w.segments, suggestions)
            self._done(w.path)
        self.waiting.clear()

    def _store(
        self, record: SourceRecord, segments: Sequence[Segment], suggestions: Sequence[Sequence[Suggestion]]
    ) -> None:
        report = self.report
        try:
            stored = store_source(self.project, record, self.codebook_id, segments, suggestions)
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

    def _done(self, path: str) -> None:
        self.handled += 1
        if self.progress is not None:
            self.progress(self.handled, len(self.files), path)

    # -- after the last file -----------------------------------------------------------------
    def _wrap_up(self) -> None:
        project, report = self.project, self.report
        remember_files(project, self.restated)
        paths = source_paths(project)
        for source_id in sorted(set(self.known) - self.seen):
            path = paths.get(source_id)
            there = path is not None and (self.folder / path).is_file()
            (report.excluded_sources if there else report.missing_sources).append(source_id)
        report.retired_in_use = retired_codes_in_use(project)
        if self.out_dir is not None:
            from qualkam.render.outputs import write_outputs  # pandas, only when outputs are out of date

            report.outputs = write_outputs(project, self.out_dir)


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
    return CodingRun(
        folder,
        codebook,
        project,
        unit=unit,
        model=model,
        encoding=encoding,
        out_dir=out_dir,
        progress=progress,
        suggest=suggest,
        jobs=jobs,
        replace_codebook=replace_codebook,
        exclude=exclude,
    ).run()
