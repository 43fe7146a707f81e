"""Ingest: walk a folder, read each source with its metadata, and report what cannot be used.

Sources are yielded one at a time so a large archive is never held in memory at once.
A bad file is reported once (path and reason) and the rest go on.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .codebook import Codebook
from .errors import InputError, SourceError
from .formats import SUPPORTED, RawSource, read_source
from .metadata import SIDECAR_NAMES, MetadataError, SourceMeta, build_meta, load_sidecar
from .segment import text_turns
from .turns import Turn


@dataclass
class Problem:
    """Something in the input that the run reports; ``skipped`` when the file was not coded."""

    path: str
    reason: str
    skipped: bool = True

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class PreparedSource:
    """A source read, its metadata merged and its phase assigned, ready to segment and code."""

    path: Path
    rel: str
    raw: RawSource
    meta: SourceMeta
    phase: str | None
    turns: list[Turn] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.meta.id or str(Path(self.rel).with_suffix("")).replace(os.sep, "/")

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.raw.text.encode("utf-8")).hexdigest()

    def fingerprint(self, *settings: str) -> str:
        """What the stored coding depends on: text, metadata and the run's settings."""
        meta = {
            "meta": {k: v for k, v in vars(self.meta).items() if k != "warnings"},
            "phase": self.phase,
            "settings": settings,
        }
        blob = json.dumps(meta, sort_keys=True, default=lambda o: vars(o) if hasattr(o, "__dict__") else str(o))
        return hashlib.sha256((self.content_hash + blob).encode("utf-8")).hexdigest()


def discover(folder: Path) -> tuple[list[Path], list[Problem]]:
    """Every supported file below ``folder`` in a stable order, and the files we will not read."""
    if not folder.exists():
        raise InputError(f"folder not found: {folder}")
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give the folder that holds the transcripts")
    files: list[Path] = []
    problems: list[Problem] = []
    for root, dirs, names in os.walk(folder, onerror=lambda exc: problems.append(Problem(str(exc.filename), f"cannot list folder: {exc.strerror}"))):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(names):
            path = Path(root) / name
            if name.startswith((".", "~$")) or name in SIDECAR_NAMES:
                continue
            suffix = path.suffix.lower()
            if suffix in SUPPORTED:
                files.append(path)
            elif suffix == ".doc":
                problems.append(Problem(str(path), "old Word .doc format; save it as .docx"))
            else:
                problems.append(Problem(str(path), f"unknown file type {suffix or '(none)'!r}; qualkam reads {', '.join(sorted(SUPPORTED))}"))
    if not files and not problems:
        raise InputError(f"no files in {folder}; qualkam reads {', '.join(sorted(SUPPORTED))}")
    if not files:
        raise InputError(f"no transcripts in {folder} ({len(problems)} other file(s)); qualkam reads {', '.join(sorted(SUPPORTED))}")
    return files, problems


def prepare(folder: Path, files: list[Path], codebook: Codebook, encoding: str | None = None) -> Iterator[PreparedSource | Problem]:
    """Read each file and yield a PreparedSource, or a Problem for a file that cannot be used.

    Warnings about a usable file (a bad date, an unknown phase or type) are yielded as
    Problems with ``skipped=False`` just before its source.
    """
    sidecars: dict[Path, dict[str, dict]] = {}
    seen_ids: dict[str, str] = {}
    for path in files:
        rel = str(path.relative_to(folder))
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
        try:
            raw = read_source(path, encoding)
        except SourceError as exc:
            yield Problem(exc.path, exc.reason)
            continue
        fields = dict(raw.file_fields)
        fields.update(sidecars[path.parent].get(path.name, {}))
        fields.update(raw.front_matter or {})
        try:
            meta = build_meta(fields, str(path))
        except MetadataError as exc:
            yield Problem(str(path), str(exc).removeprefix(f"{path}: "))
            continue
        for warning in meta.warnings:
            yield Problem(str(path), warning.removeprefix(f"{path}: "), skipped=False)
        if meta.type and meta.type not in codebook.source_types:
            yield Problem(str(path), f"source type {meta.type!r} is not one of the codebook's ({', '.join(codebook.source_types)}); add it to source_types", skipped=False)
        phase, phase_problem = codebook.resolve_phase(meta.phase, meta.date, meta.attributes)
        if phase_problem:
            yield Problem(str(path), phase_problem, skipped=False)
        source = PreparedSource(path, rel, raw, meta, phase)
        if source.id in seen_ids:
            yield Problem(str(path), f"id {source.id!r} is already used by {seen_ids[source.id]}; give each source its own id")
            continue
        seen_ids[source.id] = str(path)
        source.turns = raw.cue_turns if raw.cue_turns is not None else text_turns(raw.text, meta)
        yield source
