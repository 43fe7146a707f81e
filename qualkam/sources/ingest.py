"""Ingest: walk a folder, read each source with its metadata, and report what cannot be used.

Sources are yielded one at a time so a large archive is never held in memory at once.
A bad file is reported once (path and reason) and the rest go on. A file whose size, time
and inode (and its folder's sidecars, and the run's settings) match what the project
recorded when it was last coded is not read again (``FileState``), which keeps a re-run of
an unchanged archive to a walk of the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from qualkam.coding.codebook import Codebook
from qualkam.coding.segment import text_turns
from qualkam.errors import InputError, SourceError, debugging, fill, unexpected
from qualkam.sources.formats import SUPPORTED, RawSource, read_source
from qualkam.sources.ignore import SourceFilter
from qualkam.sources.metadata import CASE_FILES, SIDECAR_NAMES, MetadataError, SourceMeta, build_meta, load_sidecar
from qualkam.sources.turns import Turn
from qualkam.store.sources import FileState


@dataclass
class Problem:
    """Something in the input that the run reports; ``skipped`` when the file was not coded."""

    path: str
    reason: str
    skipped: bool = True
    arguments: tuple[str, ...] = ()  # named in ``reason`` as ``{NAME}`` (qualkam.errors.fill)

    def __str__(self) -> str:
        return self.worded()

    def worded(self, names: Mapping[str, str] | None = None) -> str:
        """The problem, each argument it names written as ``names`` spells it (the CLI: its flag)."""
        return fill(f"{self.path}: {self.reason}", self.arguments, names)


HASH_PIECE = 1 << 20  # characters encoded at a time to hash a source


@dataclass
class PreparedSource:
    """A source read, its metadata merged and its phase assigned, ready to segment and code."""

    path: Path
    rel: str
    raw: RawSource
    meta: SourceMeta
    phase: str | None
    turns: list[Turn] = field(default_factory=list)
    state: FileState | None = None  # what to remember about the file, to skip it next time

    @property
    def id(self) -> str:
        return self.meta.id or str(Path(self.rel).with_suffix("")).replace(os.sep, "/")

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the text in UTF-8, encoded a piece at a time (a 200 MB source is not
        copied whole to hash it, issue 14), once."""
        digest, text = hashlib.sha256(), self.raw.text
        for at in range(0, len(text), HASH_PIECE):
            digest.update(text[at : at + HASH_PIECE].encode("utf-8"))
        return digest.hexdigest()

    def fingerprint(self, *settings: str) -> str:
        """What the stored coding depends on: text, metadata and the run's settings."""
        meta = {
            "meta": {k: v for k, v in vars(self.meta).items() if k != "warnings"},
            "phase": self.phase,
            "settings": settings,
        }
        blob = json.dumps(meta, sort_keys=True, default=lambda o: vars(o) if hasattr(o, "__dict__") else str(o))
        return hashlib.sha256((self.content_hash + blob).encode("utf-8")).hexdigest()


RACY_SECONDS = 2.0  # a file changed this recently may change again within the clock's resolution


@dataclass
class UnchangedFile:
    """A file skipped unread: its stat key matches the one recorded when it was coded."""

    path: Path
    source_id: str


def _stat_part(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def file_key(path: Path, sidecars: list[list], settings: str, started: float) -> str | None:
    """What a file's coding depends on besides its bytes, which are not read: its absolute
    ``path``, size, time and inode, its folder's sidecars', and the run's settings. None for a
    file changed in the last seconds (its time could not show a second change)."""
    part = _stat_part(path)
    if part[1] / 1e9 > started - RACY_SECONDS:
        return None
    blob = json.dumps([str(path), part, sidecars, settings])
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _sidecar_stats(folder: Path) -> list[list]:
    return [[name, *_stat_part(folder / name)] for name in SIDECAR_NAMES if (folder / name).is_file()]


NO_TURNS_MIN_CHARS = 2000  # a text this long with no speaker label is probably not what it seems
CONVERSATIONS = {
    "interview",
    "meeting",
    "focus group",
    "focus_group",
    "conversation",
    "call",
    "podcast",
    "chat",
    "dialogue",
    "transcript",
    "lesson",
}


_NON_SPACE = re.compile(r"\S")  # \s: the characters str.isspace() and str.strip() take as space


def text_ends(text: str) -> tuple[str, str]:
    """The first and last characters of ``text`` that are not space ("" when there are none):
    ``text.lstrip()[:1]`` and ``text.rstrip()[-1:]`` without copying a very large text (issue 14)."""
    first = _NON_SPACE.search(text)
    if first is None:
        return "", ""
    last = len(text) - 1
    while text[last].isspace():
        last -= 1
    return first.group(), text[last]


def no_turns_warning(raw: RawSource, meta: SourceMeta, turns: list[Turn]) -> str | None:
    """A text of some length in which no speaker turn was found: a JSON file renamed .txt, or a
    transcript whose labels qualkam does not know (issue 11). Field notes and documents (a
    ``type`` that is not a conversation) are expected to have none."""
    # Text that opens like JSON is never a transcript as it stands, whatever its length.
    first, last = text_ends(raw.text)
    looks_json = first in ("{", "[") and last in ("}", "]")
    if raw.cue_turns is not None or any(t.speaker for t in turns) or not first:
        return None
    if len(raw.text) < NO_TURNS_MIN_CHARS and not looks_json:
        return None
    if meta.type and meta.type not in CONVERSATIONS:
        return None
    longest = max((t.end - t.start for t in turns), default=0)
    hint = " It looks like JSON: if it is a JSON transcript, name it .json." if looks_json else ""
    return (
        f"no speaker turns found in {len(raw.text):,} characters: coded as {len(turns)} segment(s) without a "
        f"speaker, the longest {longest:,} characters.{hint} If it is a transcript, start each turn with "
        f"'Name:' (the forms are in docs/sources-format.md); if it is notes or a document, give it a type "
        f"such as 'type: fieldnote' in its metadata."
    )


def discover(folder: Path, exclude: Sequence[str] = (), own: Sequence[Path] = ()) -> tuple[list[Path], list[Problem]]:
    """Every supported file below ``folder`` in a stable order, and the files we will not read.

    Not sources, and not reported: hidden files, sidecars, qualkam's own files (``own``: this
    run's project store and output folder; any store named qualkam.db, journals, folders of
    outputs) and what ``exclude`` or a ``.qualkamignore`` names (gitignore syntax).
    """
    if not folder.exists():
        raise InputError(f"folder not found: {folder}")
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give the folder that holds the transcripts")
    rules = SourceFilter(folder, exclude, own)
    files: list[Path] = []
    problems: list[Problem] = []
    for root, dirs, names in os.walk(
        folder, onerror=lambda exc: problems.append(Problem(str(exc.filename), f"cannot list folder: {exc.strerror}"))
    ):
        dirs[:] = rules.keep_folders(root, sorted(dirs))
        for name in sorted(names):
            path = Path(root) / name
            if (
                name.startswith((".", "~$"))
                or name in SIDECAR_NAMES
                or name in CASE_FILES
                or rules.excluded(root, name)
            ):
                continue
            suffix = path.suffix.lower()
            if suffix in SUPPORTED:
                files.append(path)
            elif suffix == ".doc":
                problems.append(Problem(str(path), "old Word .doc format; save it as .docx"))
            elif suffix == ".xls":
                problems.append(Problem(str(path), "old Excel .xls format; save it as .xlsx"))
            else:
                problems.append(
                    Problem(
                        str(path),
                        f"unknown file type {suffix or '(none)'!r}; qualkam reads {', '.join(sorted(SUPPORTED))}",
                    )
                )
    if not files and not problems:
        raise InputError(f"no files in {folder}; qualkam reads {', '.join(sorted(SUPPORTED))}")
    if not files:
        raise InputError(
            f"no transcripts in {folder} ({len(problems)} other file(s)); qualkam reads {', '.join(sorted(SUPPORTED))}"
        )
    return files, problems


def prepare(
    folder: Path,
    files: list[Path],
    codebook: Codebook,
    encoding: str | None = None,
    known: dict[str, FileState] | None = None,
    settings: str = "",
) -> Iterator[PreparedSource | Problem | UnchangedFile]:
    """Read each file and yield a PreparedSource, or a Problem for a file that cannot be used.

    Warnings about a usable file (a bad date, an unknown phase or type) are yielded as
    Problems with ``skipped=False`` just before its source. With ``known`` (absolute path ->
    the state recorded when the file was coded with ``settings``), a file whose key still
    matches is not read: its recorded warnings are yielded again, then an UnchangedFile.
    """
    sidecars: dict[Path, dict[str, dict]] = {}
    sidecar_stats: dict[Path, list[list]] = {}
    seen_ids: dict[str, str] = {}
    started = time.time()
    for path in files:
        # One file's failure is that file's problem: an exception qualkam did not foresee
        # (a reader's bug, a library's) is reported with the file, and the run goes on.
        items: list[PreparedSource | Problem | UnchangedFile] = []
        try:
            for item in _prepare_one(
                path, folder, codebook, encoding, known, settings, started, sidecars, sidecar_stats, seen_ids
            ):
                items.append(item)
        except Exception as exc:
            if debugging():
                raise
            items = [*(i for i in items if isinstance(i, Problem)), Problem(str(path), unexpected(exc))]
        yield from items


def _prepare_one(
    path: Path,
    folder: Path,
    codebook: Codebook,
    encoding: str | None,
    known: dict[str, FileState] | None,
    settings: str,
    started: float,
    sidecars: dict[Path, dict[str, dict]],
    sidecar_stats: dict[Path, list[list]],
    seen_ids: dict[str, str],
) -> Iterator[PreparedSource | Problem | UnchangedFile]:
    """``prepare`` for one file."""
    rel = str(path.relative_to(folder))
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:  # bytes the file system gave that are not text (os.fsdecode's surrogates)
        yield Problem(str(path), "the file name is not valid UTF-8 text; rename the file")
        return
    if known is not None and path.parent not in sidecar_stats:
        sidecar_stats[path.parent] = _sidecar_stats(path.parent)
    if path.parent not in sidecars:
        try:
            entries, sidecar_path = load_sidecar(path.parent)
        except MetadataError as exc:
            yield Problem(str(path.parent), str(exc), skipped=False)
            entries, sidecar_path = {}, None
        sidecars[path.parent] = entries
        if sidecar_path is not None:
            present = {p.name for p in path.parent.iterdir()}
            for name in sorted(set(entries) - present):
                yield Problem(str(sidecar_path), f"describes {name!r}, which is not in the folder", skipped=False)
    state = None
    if known is not None:
        try:
            resolved = path.resolve()
            state = FileState(str(resolved), file_key(resolved, sidecar_stats[path.parent], settings, started))
        except OSError:
            state = None  # read_source reports the file
        before = known.get(state.path) if state is not None else None
        if state is not None and before is not None and before.key == state.key and before.source_id not in seen_ids:
            for warning in before.warnings:
                yield Problem(str(path), warning, skipped=False)
            seen_ids[before.source_id] = str(path)
            yield UnchangedFile(path, before.source_id)
            return
    described = sidecars[path.parent].get(path.name, {})
    try:
        # A spreadsheet's or JSON file's column names come from its sidecar entry.
        raw = read_source(path, encoding, columns=described.get("columns"))
    except SourceError as exc:
        yield Problem(exc.path, exc.reason, arguments=exc.named)
        return
    fields = dict(raw.file_fields)
    fields.update(described)
    fields.update(raw.front_matter or {})
    fields.pop("columns", None)  # how to read the file, not an attribute of the source
    try:
        meta = build_meta(fields, str(path))
    except MetadataError as exc:
        yield Problem(str(path), str(exc).removeprefix(f"{path}: "))
        return
    warnings = list(raw.warnings) + [warning.removeprefix(f"{path}: ") for warning in meta.warnings]
    if meta.type and meta.type not in codebook.source_types:
        warnings.append(
            f"source type {meta.type!r} is not one of the codebook's ({', '.join(codebook.source_types)}); "
            "add it to source_types"
        )
    phase, phase_problem = codebook.resolve_phase(meta.phase, meta.date, meta.attributes)
    if phase_problem:
        warnings.append(phase_problem)
    for warning in warnings:
        yield Problem(str(path), warning, skipped=False)
    source = PreparedSource(path, rel, raw, meta, phase)
    if source.id in seen_ids:
        yield Problem(
            str(path), f"id {source.id!r} is already used by {seen_ids[source.id]}; give each source its own id"
        )
        return
    seen_ids[source.id] = str(path)
    if state is not None:
        state.source_id, state.warnings = source.id, warnings
        source.state = state
    source.turns = raw.cue_turns if raw.cue_turns is not None else text_turns(raw.text, meta)
    unlabelled = no_turns_warning(raw, meta, source.turns)
    if unlabelled:
        warnings.append(unlabelled)
        yield Problem(str(path), unlabelled, skipped=False)
    yield source
