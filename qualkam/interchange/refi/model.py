"""A REFI-QDA project as plain objects: what a ``.qde`` (or a ``.qdc``) says, nothing more.

The exporter builds one from the store and serialises it (``writer``); the importer parses
a file into one and writes it to the store (``reader``). Both speak of the same objects, so
what one writes the other reads: a model built from a project, serialised and parsed back,
is equal to itself (tests/test_refi_roundtrip.py).

As written in the file: GUIDs in canonical form (upper case, ``guids.canonical``; the writer
puts them out in lower case), times as ``xsd:dateTime`` text, positions as the file counts
them (the writer: UTF-16 code units), references as the GUID they name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Coding:
    """One ``Coding``: a code (by GUID) applied to its selection (or to a whole source)."""

    guid: str
    code: str  # the code's GUID
    user: str | None = None  # the creating user's GUID
    at: str | None = None
    note_refs: list[str] = field(default_factory=list)  # NoteRef GUIDs


@dataclass
class Selection:
    """One ``PlainTextSelection`` with its codings; its ``Description`` is the codings' memo."""

    guid: str
    start: int | None
    end: int | None
    user: str | None = None
    at: str | None = None
    name: str = ""
    description: str = ""
    codings: list[Coding] = field(default_factory=list)
    note_refs: list[str] = field(default_factory=list)


@dataclass
class Source:
    """One ``TextSource``: where its text is, its selections and its variable values."""

    guid: str
    name: str
    path: str | None = None  # plainTextPath as written
    content: str | None = None  # PlainTextContent, when the text is inline
    description: str = ""
    user: str | None = None
    at: str | None = None
    selections: list[Selection] = field(default_factory=list)
    whole: list[Coding] = field(default_factory=list)  # Coding elements on the source itself
    values: dict[str, Any] = field(default_factory=dict)  # variable GUID -> value
    note_refs: list[str] = field(default_factory=list)


@dataclass
class Code:
    """One ``Code``; the tree is given by ``parent`` (the list is in document order, parents first)."""

    guid: str
    name: str
    color: str | None = None
    description: str = ""
    parent: str | None = None  # the parent's GUID
    note_refs: list[str] = field(default_factory=list)


@dataclass
class Note:
    """One ``Note``: a memo, its text inline or in a file of the archive."""

    guid: str
    name: str
    content: str | None = None
    path: str | None = None
    description: str = ""
    user: str | None = None
    at: str | None = None
    modified: str | None = None


@dataclass
class Case:
    """One ``Case`` and the sources it refers to."""

    guid: str
    name: str
    description: str = ""
    sources: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Variable:
    guid: str
    name: str
    type: str = "Text"  # typeOfVariable


@dataclass
class Set:
    """One ``Set`` of codes and sources (qualkam writes one per code attribute value)."""

    guid: str
    name: str
    codes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


@dataclass
class Project:
    """A ``.qde`` (``<Project>``) or a ``.qdc`` (``<CodeBook>``: codes and sets only)."""

    name: str = ""
    origin: str = ""
    creating_user: str | None = None
    created: str | None = None
    modified: str | None = None
    description: str = ""  # Project/Description: the project memo
    note_refs: list[str] = field(default_factory=list)  # the project's NoteRefs
    users: dict[str, str] = field(default_factory=dict)  # GUID -> name as written
    codes: list[Code] = field(default_factory=list)
    variables: dict[str, Variable] = field(default_factory=dict)  # GUID -> variable
    cases: list[Case] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    sets: list[Set] = field(default_factory=list)
    other_sources: dict[str, int] = field(default_factory=dict)  # PDFSource... -> how many (not read)


def note_targets(project: Project) -> dict[str, list[tuple[str, str]]]:
    """Note GUID -> what refers to it, as (kind, GUID) in document order; kind is code,
    project (GUID ""), selection, coding or source."""
    found: dict[str, list[tuple[str, str]]] = {}

    def add(refs: list[str], kind: str, guid: str) -> None:
        for note in refs:
            found.setdefault(note, []).append((kind, guid))

    for code in project.codes:
        add(code.note_refs, "code", code.guid)
    add(project.note_refs, "project", "")
    for source in project.sources:
        for selection in source.selections:
            for coding in selection.codings:
                add(coding.note_refs, "coding", coding.guid)
            add(selection.note_refs, "selection", selection.guid)
        for coding in source.whole:
            add(coding.note_refs, "coding", coding.guid)
        add(source.note_refs, "source", source.guid)
    return found


def counts(project: Project) -> dict[str, int]:
    """How many of each thing the project holds (what an import reports as found)."""
    return {
        "sources": len(project.sources),
        "codes": len(project.codes),
        "selections": sum(len(s.selections) for s in project.sources),
        "codings": sum(len(sel.codings) for s in project.sources for sel in s.selections)
        + sum(len(s.whole) for s in project.sources),
        "users": len(project.users),
        "notes": len(project.notes),
        "cases": len(project.cases),
        "variables": len(project.variables),
        "sets": len(project.sets),
    }
