"""``qualkam code`` as a library call: folder -> segments -> suggestions -> store -> outputs.

Each source is read, segmented, matched and stored in its own transaction, then dropped,
so memory stays bounded by the largest source, not the corpus; a source over ``PART_CHARS``
characters is coded and stored a part (whole turns) at a time, still in one transaction, so
memory is bounded by its text and a part, not by its segments (issue 14). With the trained
model the parts wait for ``MODEL_BATCH`` segments and the end of their source, which the model
scores in one pass (it reads each segment's neighbours); with ``jobs``, a few parts per worker
are in flight. Segmenting and matching, nearly all the work, can run in worker processes
(``qualkam.parallel``); this process reads the files and writes the store in file order, so
results do not depend on the number of jobs. Unchanged files are skipped
unread by their stat key, unchanged sources by their fingerprint (same text, metadata,
codebook, unit and pipeline).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

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
from qualkam.sources.formats import RawSource
from qualkam.sources.ingest import PreparedSource, Problem, UnchangedFile, discover, prepare
from qualkam.store.codebooks import people_codings_by_code, save_codebook
from qualkam.store.project import Project
from qualkam.store.run import retired_codes_in_use
from qualkam.store.sources import (
    FileState,
    SourceRecord,
    SourceWriter,
    StoreResult,
    file_states,
    fingerprints,
    remember_files,
    source_paths,
    store_source,
)

if TYPE_CHECKING:
    from qualkam.coding.learn import Model
    from qualkam.coding.suggest import Evidence, Suggester, Suggestion

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
    source: PreparedSource, unit: Unit, suggester: Suggester, rules: bool, base: int = 0
) -> tuple[list[Segment], list[list[Suggestion]]] | Failed:
    """``segment_and_suggest``, with an unforeseen exception turned into ``Failed`` so one
    source cannot stop the run (nor, in a worker, break the pool); ``base``: where the
    source, a part of one, starts in the whole source's text."""
    try:
        coded = segment_and_suggest(source, unit, suggester, rules)
        return _moved(*coded, base) if base else coded
    except Exception as exc:
        if debugging():
            raise
        return Failed(unexpected(exc))


def _worker_code(part: _Part) -> tuple[list[Segment], list[list[Suggestion]]] | Failed:
    assert _WORKER is not None, "_worker_init did not run"
    return _code_part(part, _WORKER.unit, _WORKER.suggester, _WORKER.rules)


PART_CHARS = 1_000_000  # a longer source is coded and stored in parts of whole turns of about this many characters


@dataclass
class _Part:
    """Turns of a source to code: the whole source, or (a source over ``PART_CHARS``) a copy
    holding some of its turns and the stretch of text they lie in, which starts at ``base``
    in the source's text (what a worker process is sent is this part, not the source)."""

    source: PreparedSource
    base: int = 0


def _parts(source: PreparedSource) -> Iterator[tuple[_Part, int, bool]]:
    """The parts of ``source`` in order, each with where in its text the part ends and whether
    it is the last (issue 14:
    a very large transcript is coded a part at a time, in workers when there are several, so
    memory is bounded by a part and progress moves within the file). Each turn is coded on
    its own, so the parts give the same segments and suggestions as the whole."""
    text, turns = source.raw.text, source.turns
    if len(text) <= PART_CHARS or len(turns) < 2:
        yield _Part(source), len(text), True
        return
    first = 0
    while first < len(turns):
        size, last = 0, first
        while last < len(turns) and (last == first or size + turns[last].end - turns[last].start <= PART_CHARS):
            size += turns[last].end - turns[last].start
            last += 1
        group = turns[first:last]
        low, high = min(t.start for t in group), max(t.end for t in group)
        raw = RawSource(text[low:high], source.raw.format, source.raw.encoding)
        shifted = [replace(t, start=t.start - low, end=t.end - low) for t in group]
        part = PreparedSource(source.path, source.rel, raw, source.meta, source.phase, shifted)
        done = last == len(turns)
        yield _Part(part, low), len(text) if done else high, done
        first = last


def _shifted(evidence: Evidence, base: int) -> Evidence:
    return replace(evidence, start=evidence.start + base, end=evidence.end + base)


def _code_part(
    part: _Part, unit: Unit, suggester: Suggester, rules: bool
) -> tuple[list[Segment], list[list[Suggestion]]] | Failed:
    """``_guarded`` on a part, its offsets moved back into the whole source's text."""
    return _guarded(part.source, unit, suggester, rules, part.base)


def _moved(
    segments: list[Segment], suggestions: list[list[Suggestion]], base: int
) -> tuple[list[Segment], list[list[Suggestion]]]:
    for seg in segments:
        seg.start += base
        seg.end += base
    moved = [
        [replace(sug, evidence=[_shifted(cast("Evidence", e), base) for e in sug.evidence]) for sug in found]
        for found in suggestions
    ]
    return segments, moved


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


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # read_source reports it


AUTO_JOBS_MIN_BYTES = 1_000_000  # about 150,000 words: below it, one process beats workers started afresh


@dataclass(frozen=True)
class _PartKey:
    """Which part of a coded source a result is: the first and the last open and commit its
    transaction, ``upto`` says how much of its text is coded once the part is stored."""

    record: SourceRecord
    first: bool
    last: bool
    upto: int

    @property
    def path(self) -> str:
        return self.record.path


@dataclass
class _Waiting:
    """A part of a source, coded by the rules, waiting for the model's batch (or stored at
    once without a model); ``key`` None: an unchanged source, whose progress waits so progress
    stays in file order; ``failed``: why the part could not be coded."""

    key: _PartKey | None
    segments: list[Segment] | None
    suggestions: Sequence[Sequence[Suggestion]]
    path: str
    failed: str | None = None


PROGRESS_UNITS = ("files", "bytes")


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
        progress_unit: str = "files",
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
        if progress_unit not in PROGRESS_UNITS:
            raise unknown("progress unit", progress_unit, PROGRESS_UNITS, "progress_unit")
        self.progress_unit = progress_unit
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
        self.sizes = [_size(path) for path in self.files] if progress_unit == "bytes" else []
        self.total_bytes = sum(self.sizes)
        self.bytes_done = 0  # bytes of the files done, for progress in bytes
        self.positions = 0  # segments of the source being stored in parts, stored so far
        self.writer: SourceWriter | None = None  # the transaction of the source being stored in parts
        self.failed: set[str] = set()  # sources with a part that could not be coded or stored
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
        try:
            for key, result in coded:
                self._take(key, result)
            self._flush()
        finally:
            self._abort()  # a source stored in parts and not finished (an error, an interrupt) rolls back
        self._wrap_up()
        return self.report

    # -- each file in order ------------------------------------------------------------------
    def _sources(self) -> Iterator[tuple[Problem | UnchangedFile | SourceRecord | _PartKey, _Part | None]]:
        """Each file in order: a problem, an unchanged source, or the parts of a source to code."""
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
                first = True
                for part, upto, last in _parts(item):
                    yield _PartKey(record, first, last, upto), part
                    first = False
                continue
            if item.state is not None:
                self.restated.append(item.state)
            yield record, None

    def _suggester_here(self) -> Suggester:
        """The suggester of this process, built only if it codes a source itself (or forks workers)."""
        if self._suggester is None:
            self._suggester = _new_suggester(self.codebook, self.model)
        return self._suggester

    def _code_here(self, part: _Part) -> tuple[list[Segment], list[list[Suggestion]]] | Failed:
        return _code_part(part, self.unit, self._suggester_here(), self.rules)

    def _worker_args(self) -> tuple:
        # When the pool starts: forked workers inherit the suggester built here.
        forked = start_method() == "fork"
        return self.codebook, self.model, self.unit, self.rules, self._suggester_here() if forked else None

    def _take(
        self,
        key: Problem | UnchangedFile | SourceRecord | _PartKey,
        result: tuple[list[Segment], list[list[Suggestion]]] | Failed | None,
    ) -> None:
        """One file's outcome (or one part of a source's), in file order: a problem, an
        unchanged source, or a coded part."""
        if isinstance(key, _PartKey):
            if isinstance(result, Failed):
                self._queue(_Waiting(key, None, [], key.path, result.reason))
            else:
                assert result is not None  # a part always has something to code
                self._queue(_Waiting(key, *result, key.path))
            return
        if isinstance(key, Problem):
            self._flush()  # progress stays in file order
            self._done(key.path)
        elif isinstance(key, UnchangedFile):
            self._unchanged(str(key.path))
        else:
            self._unchanged(key.path)

    def _unchanged(self, path: str) -> None:
        self.report.unchanged += 1
        if self.waiting:  # progress stays in file order
            self.waiting.append(_Waiting(None, None, [], path))
        else:
            self._done(path)

    def _queue(self, part: _Waiting) -> None:
        """Store a coded part; with a model, queue it for ``_flush`` (the model suggests for a
        batch of parts at once). A batch ends only where a source ends: the model reads each
        segment's neighbours (its context), so a source's parts are scored in one pass and the
        suggestions are the same as for the source coded whole. With the model, memory for one
        very large source therefore grows with its segments."""
        if self.learned is None:
            self._settle(part)
            return
        self.waiting.append(part)
        ends_source = part.key is None or part.key.last
        if ends_source and sum(len(w.segments or ()) for w in self.waiting) >= MODEL_BATCH:
            self._flush()

    def _flush(self) -> None:
        """The model's suggestions for the queued parts in one pass; store them in order."""
        if not self.waiting:
            return
        assert self.learned is not None, "only a run with a model queues sources"
        found_all = iter(
            self.learned.suggest_many(
                [(w.key.record.id, w.segments) for w in self.waiting if w.key is not None and w.segments is not None]
            )
        )
        for w in self.waiting:
            if w.key is not None and w.segments is not None:
                found = next(found_all)
                w.suggestions = (
                    found
                    if self.suggest == "model"
                    else [[*rules, *model] for rules, model in zip(w.suggestions, found, strict=False)]
                )
        waiting, self.waiting = self.waiting, []
        for w in waiting:
            self._settle(w)

    def _settle(self, part: _Waiting) -> None:
        """Store one part (or note why it failed), then move the progress on."""
        key = part.key
        if key is None:
            self._done(part.path)
            return
        record = key.record
        if part.failed is not None:
            self._fail(record, part.failed)
        elif record.id not in self.failed:
            assert part.segments is not None
            if key.first and key.last:
                self._store(record, part.segments, part.suggestions)
            else:
                self._store_part(key, part.segments, part.suggestions)
        if key.last:
            self.failed.discard(record.id)
            self._done(record.path)
        else:
            self._advance(key)

    def _fail(self, record: SourceRecord, reason: str) -> None:
        """A part of ``record`` could not be coded or stored: the source is rolled back whole,
        and reported once."""
        if record.id in self.failed:
            return
        self._abort()
        self.failed.add(record.id)
        self.report.problems.append(Problem(str(self.report.folder / record.path), reason))

    def _abort(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.abort()

    def _store_part(self, key: _PartKey, segments: list[Segment], suggestions: Sequence[Sequence[Suggestion]]) -> None:
        """One part of a source stored in parts, in the source's one transaction: the first
        part opens it, the last commits it (``SourceWriter``)."""
        if key.first:
            self.positions = 0
        for seg in segments:  # a part numbers its segments from 0
            seg.position += self.positions
        self.positions += len(segments)
        try:
            if key.first:
                writer = SourceWriter(self.project, key.record, self.codebook_id)
                self.writer = writer.__enter__()
            assert self.writer is not None, "the first part opens the source's transaction"
            self.writer.add(segments, suggestions)
            if key.last:
                stored = self.writer.finish()
                writer, self.writer = self.writer, None
                writer.__exit__(None, None, None)
                self._count(stored)
        except sqlite3.Error:
            self._abort()
            raise  # the store itself (full disk, read-only, locked): the run cannot go on
        except Exception as exc:  # this source's data: its transaction rolled back, the run goes on
            self._abort()
            if debugging():
                raise
            self._fail(key.record, unexpected(exc))

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
        self._count(stored)

    def _count(self, stored: StoreResult) -> None:
        report = self.report
        report.coded += 1
        report.segments += stored.segments
        report.suggestions += stored.suggestions
        report.reanchored += stored.reanchored
        report.detached += stored.detached

    def _advance(self, key: _PartKey) -> None:
        """Progress within a file stored in parts (in bytes: its share of the file's size)."""
        if self.progress is None or self.progress_unit != "bytes" or self.handled >= len(self.sizes):
            return
        length = len(key.record.text) or 1
        within = self.sizes[self.handled] * min(key.upto, length) // length
        self.progress(self.bytes_done + within, self.total_bytes, key.path)

    def _done(self, path: str) -> None:
        if self.handled < len(self.sizes):
            self.bytes_done += self.sizes[self.handled]
        self.handled += 1
        if self.progress is None:
            return
        if self.progress_unit == "bytes":
            self.progress(self.bytes_done, self.total_bytes, path)
        else:
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
    progress_unit: str = "files",
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

    ``progress(done, total, path)`` is called in file order: with ``progress_unit`` ``files``
    once per file (files done, files found); with ``bytes`` also as a large source is coded,
    a part at a time (bytes of the files done, and the share of the file being coded, of the
    files' total size), ending at the total.
    """
    from qualkam.analysis.cases import folder_cases_file, import_cases

    cases_file = folder_cases_file(folder)
    if cases_file is not None:  # read first: a broken cases file stops the run before it writes
        from qualkam.analysis.cases import read_cases_file

        read_cases_file(cases_file)
    report = CodingRun(
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
        progress_unit=progress_unit,
    ).run()
    if cases_file is not None:  # participants' attributes (issue 16): kept across sources
        import_cases(project, cases_file)
    return report
