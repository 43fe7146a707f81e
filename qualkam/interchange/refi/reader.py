"""Read a REFI-QDA ``.qdpx`` project or ``.qdc`` codebook into a qualkam project (issue 5).

The mapping is the contract in docs/refi-qda.md, the exporter's mirror image. What real
exports do that the importer has to live with (``../shared/refi-qda/SOURCES.md``):

- the ``.qde`` may be called anything ending ``.qde`` (``Project.qde``, ``Trial.qde``), the
  folder ``Sources/`` or ``sources/``, text files named by GUID or after the original file
  (qc writes ``plainTextPath="board_2017.txt"``, no ``internal://``), and a repackaged
  archive may lose them all (ATLAS.ti's sample: every path dangles, reported per source);
- NVivo writes UTF-8 with a BOM and CRLF and counts positions in UTF-16 code units, a naive
  tool counts code points: both readings are checked against the text, per source, and the
  one that fits is used and reported;
- GUIDs in either case, with or without braces; empty ``Description`` elements; the
  namespace written ``1:0``; a selection repeated once per code, or one selection with
  several codings.

Sources are matched to the project's by the hash of their text, so a project exported,
coded elsewhere and imported back gets its codings on the sources it already has; new
sources are segmented like ``qualkam code`` segments them. Each coding of a selection becomes
one person's coding of the selection's exact span (``apply_span``; counted for every segment
it overlaps), with coder and time. Everything is written in ONE transaction: a failure leaves
the project as it was, and importing the same file again adds nothing (``apply_span`` is
idempotent, memos and sources are matched before they are added).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import yaml

from qualkam.coding.codebook import COLOR, ID, Codebook, parse_codebook
from qualkam.coding.decisions import apply_span
from qualkam.errors import CodebookError, QualkamError
from qualkam.interchange.refi import model, segdata
from qualkam.interchange.refi.guids import canonical
from qualkam.interchange.refi.positions import READING_TEXT, normalise_line_endings, read_positions  # noqa: F401 - the CLI's and tests' names
from qualkam.interchange.refi.safezip import RefiFileError, SafeArchive, open_qdpx, read_qdc, read_qde
from qualkam.interchange.refi.writer import MACHINE_USER
from qualkam.sources.metadata import Participant, SourceMeta
from qualkam.store import refi as store
from qualkam.store.imports import add_memo_once, segment_spans
from qualkam.store.project import Project
from qualkam.store.sources import SourceRecord
from qualkam.yamlload import load as load_yaml

SOURCE_FIELDS = ("type", "date", "phase", "title")
FALLBACK_CODER = "imported"
_QID = re.compile(r"^\s*\[qualkam id:\s*([^\]\s]+)\s*\]\s*$")
_NAMESPACE = re.compile(r"^urn:qda-xml:(project|codebook):1[.:]0$", re.I)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_NON_TEXT = ("PictureSource", "PDFSource", "AudioSource", "VideoSource")


# -- the report -----------------------------------------------------------------------------
@dataclass
class ImportReport:
    """What a REFI-QDA import found in the file and what it added to the project."""

    path: Path
    kind: str  # "qdpx" or "qdc"
    origin: str = ""
    name: str = ""
    found: dict[str, int] = field(default_factory=dict)
    sources_new: list[str] = field(default_factory=list)
    sources_matched: list[str] = field(default_factory=list)
    codes_new: list[str] = field(default_factory=list)
    codes_matched: int = 0
    codings_new: int = 0
    codings_changed: int = 0
    codings_unchanged: int = 0
    machine_codings: int = 0  # codings by qualkam's machine user: suggestions, not a person's work
    coders: list[str] = field(default_factory=list)
    memos_new: int = 0
    memos_unchanged: int = 0
    readings: dict[str, str] = field(default_factory=dict)  # source id -> how positions were read
    codebook_version: str | None = None
    warnings: list[str] = field(default_factory=list)


# -- small helpers ------------------------------------------------------------------------
def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _kids(node: Element, name: str) -> list[Element]:
    return [child for child in node if _local(child.tag) == name]


def _kid(node: Element, name: str) -> Element | None:
    found = _kids(node, name)
    return found[0] if found else None


def _text(node: Element | None) -> str:
    """The text of an element; an empty ``<Description/>`` is the empty string."""
    return "" if node is None else "".join(node.itertext())


def _guid(value: str | None) -> str:
    """A GUID in canonical form; anything else kept as written (upper-cased) so references
    to it still meet, though it is never remembered."""
    if not value:
        return ""
    return canonical(value) or value.strip().upper()


def _opt_guid(value: str | None) -> str | None:
    return _guid(value) or None


def _int(value: str | None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def stored_time(value: str | None) -> str | None:
    """An ``xsd:dateTime`` as qualkam stores times (UTC, ISO 8601 to the second); None when
    it is missing or not a time."""
    if not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat()


def _scalar(text: str) -> Any:
    """A set's or text variable's value as the value it was: numbers and booleans back."""
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text) and any(ch in text for ch in ".eE"):
        return float(text)
    return text


def make_id(name: str, taken: set[str]) -> str:
    """A valid code id (letters, digits, underscore; a letter first) from a code's name,
    unique among ``taken``: ``Coke::diet Coke`` -> ``coke_diet_coke``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^A-Za-z0-9]+", "_", ascii_name).strip("_").lower() or "code"
    if not base[0].isalpha():
        base = f"code_{base}"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    return candidate


def parse_description(text: str) -> tuple[str, list[str], list[str], str | None]:
    """A code's ``Description`` as the exporter writes it: (definition, include, exclude, id).
    Any other tool's description is all definition."""
    qid = None
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        match = _QID.match(line)
        if match:
            qid = match.group(1)
        else:
            lines.append(line)
    definition: list[str] = []
    lists: dict[str, list[str]] = {"include:": [], "exclude:": []}
    for block in re.split(r"\n[ \t]*\n", "\n".join(lines)):
        rows = [r for r in block.strip().split("\n") if r.strip()]
        if not rows:
            continue
        head = rows[0].strip().casefold()
        if head in lists and all(r.strip().startswith("-") for r in rows[1:]):
            lists[head] += [r.strip()[1:].strip() for r in rows[1:] if r.strip()[1:].strip()]
        else:
            definition.append(block.strip())
    return "\n\n".join(definition), lists["include:"], lists["exclude:"], qid


def _decode(data: bytes) -> tuple[str, str] | None:
    """(text without BOM, encoding) for UTF-8 with or without BOM, or UTF-16 with a BOM."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8 (BOM)"
        except UnicodeDecodeError:
            return None
    for bom, name in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[2:].decode(name), f"{name} (BOM)"
            except UnicodeDecodeError:
                return None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return None


# -- parsing --------------------------------------------------------------------------------
def _check_root(root: Element, expected: tuple[str, ...], where: str) -> None:
    name = _local(root.tag)
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if name not in expected:
        raise RefiFileError(f"{where}: the root element is <{name}>, not <{expected[0]}>; is it a REFI-QDA file?")
    if namespace and not _NAMESPACE.match(namespace):
        raise RefiFileError(
            f"{where}: namespace {namespace!r} is not REFI-QDA's (urn:QDA-XML:project:1.0 or urn:QDA-XML:codebook:1.0)"
        )


def _parse_codes(holder: Element | None, parsed: model.Project) -> None:
    """The code tree, parents before children, in document order. Walked with a stack, not
    recursion: a file may nest codes a thousand levels deep."""
    codes = _kid(holder, "Codes") if holder is not None else None
    stack: list[tuple[Element, str | None]] = (
        [(code, None) for code in reversed(_kids(codes, "Code"))] if codes is not None else []
    )
    while stack:
        code, parent = stack.pop()
        guid = _guid(code.get("guid"))
        parsed.codes.append(
            model.Code(
                guid,
                (code.get("name") or "").strip(),
                code.get("color"),
                _text(_kid(code, "Description")),
                parent,
                _refs(code),
            )
        )
        stack.extend((child, guid) for child in reversed(_kids(code, "Code")))


def _parse_sets(holder: Element | None, parsed: model.Project) -> None:
    for node in _kids(holder, "Set") if holder is not None else []:
        # The project schema says MemberCode/@targetGUID, the codebook schema MemberCode/@guid.
        codes = [_guid(m.get("targetGUID") or m.get("guid")) for m in _kids(node, "MemberCode")]
        sources = [_guid(m.get("targetGUID") or m.get("guid")) for m in _kids(node, "MemberSource")]
        parsed.sets.append(model.Set(_guid(node.get("guid")), node.get("name") or "", codes, sources))


def _refs(node: Element) -> list[str]:
    """The GUIDs of a node's ``NoteRef`` children."""
    return [_guid(ref.get("targetGUID")) for ref in _kids(node, "NoteRef")]


def _codings(node: Element) -> list[model.Coding]:
    found = []
    for coding in _kids(node, "Coding"):
        ref = _kid(coding, "CodeRef")
        found.append(
            model.Coding(
                _guid(coding.get("guid")),
                _guid(ref.get("targetGUID")) if ref is not None else "",
                _opt_guid(coding.get("creatingUser")),
                coding.get("creationDateTime"),
                _refs(coding),
            )
        )
    return found


def _values(node: Element) -> dict[str, Any]:
    """``VariableValue`` children: variable GUID -> typed value."""
    values: dict[str, Any] = {}
    for item in _kids(node, "VariableValue"):
        ref = _kid(item, "VariableRef")
        if ref is None:
            continue
        for child in item:
            kind, text = _local(child.tag), _text(child).strip()
            if kind == "VariableRef":
                continue
            if kind == "BooleanValue":
                value: Any = text.lower() in ("true", "1")
            elif kind == "IntegerValue":
                value = _int(text) if _int(text) is not None else text
            elif kind == "FloatValue":
                value = _scalar(text)  # "74" (an integer in a Float variable) stays 74
            elif kind == "TextValue" and text[:1] in "[{":
                try:
                    value = json.loads(text)
                except ValueError:
                    value = text
            else:
                value = text
            values[_guid(ref.get("targetGUID"))] = value
    return values


def parse_project(root: Element) -> model.Project:
    """Read a ``<Project>`` element (any namespace spelling) into the model."""
    parsed = model.Project(
        name=root.get("name") or "",
        origin=root.get("origin") or "",
        creating_user=_opt_guid(root.get("creatingUserGUID")),
        created=root.get("creationDateTime"),
        modified=root.get("modifiedDateTime"),
    )
    users = _kid(root, "Users")
    for user in _kids(users, "User") if users is not None else []:
        parsed.users[_guid(user.get("guid"))] = (user.get("name") or user.get("id") or "").strip()
    _parse_codes(_kid(root, "CodeBook"), parsed)
    variables = _kid(root, "Variables")
    for var in _kids(variables, "Variable") if variables is not None else []:
        guid = _guid(var.get("guid"))
        parsed.variables[guid] = model.Variable(
            guid, (var.get("name") or "").strip(), var.get("typeOfVariable") or "Text"
        )
    cases = _kid(root, "Cases")
    for case in _kids(cases, "Case") if cases is not None else []:
        parsed.cases.append(
            model.Case(
                _guid(case.get("guid")),
                (case.get("name") or "").strip(),
                _text(_kid(case, "Description")),
                [_guid(r.get("targetGUID")) for r in _kids(case, "SourceRef")],
                _values(case),
            )
        )
    parsed.description = _text(_kid(root, "Description")).strip()
    parsed.note_refs = _refs(root)
    sources = _kid(root, "Sources")
    for node in list(sources) if sources is not None else []:
        kind = _local(node.tag)
        if kind != "TextSource":
            if kind:
                parsed.other_sources[kind] = parsed.other_sources.get(kind, 0) + 1
            continue
        content = _kid(node, "PlainTextContent")
        source = model.Source(
            _guid(node.get("guid")),
            (node.get("name") or "").strip(),
            node.get("plainTextPath"),
            _text(content) if content is not None else None,
            _text(_kid(node, "Description")),
            _opt_guid(node.get("creatingUser")),
            node.get("creationDateTime"),
        )
        for sel in _kids(node, "PlainTextSelection"):
            source.selections.append(
                model.Selection(
                    _guid(sel.get("guid")),
                    _int(sel.get("startPosition")),
                    _int(sel.get("endPosition")),
                    _opt_guid(sel.get("creatingUser")),
                    sel.get("creationDateTime"),
                    sel.get("name") or "",
                    _text(_kid(sel, "Description")).strip(),
                    _codings(sel),
                    _refs(sel),
                )
            )
        source.whole = _codings(node)
        source.note_refs = _refs(node)
        source.values = _values(node)
        parsed.sources.append(source)
    notes = _kid(root, "Notes")
    for node in _kids(notes, "Note") if notes is not None else []:
        content = _kid(node, "PlainTextContent")
        parsed.notes.append(
            model.Note(
                _guid(node.get("guid")),
                node.get("name") or "",
                _text(content) if content is not None else None,
                node.get("plainTextPath"),
                _text(_kid(node, "Description")).strip(),
                _opt_guid(node.get("creatingUser")),
                node.get("creationDateTime"),
                node.get("modifiedDateTime"),
            )
        )
    _parse_sets(_kid(root, "Sets"), parsed)
    return parsed


def parse_codebook_element(root: Element) -> model.Project:
    """Read a ``<CodeBook>`` (a .qdc) into the model (codes and sets)."""
    parsed = model.Project(origin=root.get("origin") or "")
    _parse_codes(root, parsed)
    _parse_sets(_kid(root, "Sets"), parsed)
    return parsed


# -- the import ----------------------------------------------------------------------------
@dataclass
class _Decision:
    coder: str
    code_id: str
    span: tuple[int, int]
    at: str | None
    selection: str
    coding: str
    memo: str | None = None


class _Importer:
    """One import into one project, inside the caller's transaction."""

    def __init__(
        self,
        project: Project,
        path: Path,
        parsed: model.Project,
        report: ImportReport,
        as_coder: str | None,
    ) -> None:
        self.project = project
        self.path = path
        self.parsed = parsed
        self.report = report
        self.as_coder = as_coder.strip() if as_coder else None
        self.via = f"import {path.name}"
        self.code_ids: dict[str, str] = {}  # GUID -> code id
        self.source_ids: dict[str, str] = {}  # GUID -> source id
        self.selection_segments: dict[str, int] = {}  # selection / coding GUID -> first segment id
        self.codebook: Codebook | None = None
        self.codebook_id: int | None = None
        self._coders: dict[str, str] = {}
        self._warned_users: set[str] = set()
        self._case_keys: list[tuple[str, str]] = []
        self._case_attributes: dict[str, dict[str, Any]] = {}  # person's name -> case variables (issue 16)
        self._by_default_guid: dict[str, str] | None = None
        self.segment_data: dict[str, Any] = {}  # source GUID -> qualkam/segments.json entry
        self.note_refs = model.note_targets(parsed)  # note GUID -> [(kind, GUID)] of what refers to it

    def load_segment_data(self, archive: SafeArchive) -> None:
        """qualkam's own segments, if the file carries them (``segdata``); a damaged file is
        reported once and every new source is segmented from its text instead."""
        info = archive.find_internal(segdata.MEMBER)
        if info is None or info.filename != segdata.MEMBER:
            return
        try:
            self.segment_data = segdata.parse(archive.read(info))
        except segdata.SegmentDataError as exc:
            self.warn(f"{segdata.MEMBER}: {exc}; each new source is segmented from its text")

    # -- helpers --
    def _variable_name(self, guid: str) -> str:
        variable = self.parsed.variables.get(guid)
        return variable.name if variable is not None else ""

    def warn(self, message: str) -> None:
        self.report.warnings.append(message)

    def remember(self, kind: str, local_id: str, guid: str) -> None:
        """Keep a GUID another tool gave, unless the object has one already or the GUID is
        taken (two qualkam objects must never export under one GUID)."""
        good = canonical(guid)
        if good is None or store.guid_for(self.project, kind, local_id) == good:
            return
        if store.guid_known(self.project, kind, local_id, good):
            return
        store.remember(self.project, kind, local_id, good)

    def coder(self, *users: str | None) -> str:
        """Who made something: ``as_coder``, else the first user named, else the project's
        creator, else the only user, else ``imported``."""
        if self.as_coder:
            return self.as_coder
        candidates = [u for u in users if u] + [self.parsed.creating_user or ""]
        if len(self.parsed.users) == 1:
            candidates.append(next(iter(self.parsed.users)))
        for guid in candidates:
            if guid:
                return self._user_name(guid)
        if FALLBACK_CODER not in self._warned_users:
            self._warned_users.add(FALLBACK_CODER)
            self.warn(
                f"some codings or notes name no user; they were imported as coder {FALLBACK_CODER!r} "
                "(choose one with the as_coder argument)"
            )
        return FALLBACK_CODER

    def _machine(self, *users: str | None) -> bool:
        """Whether a coding is by qualkam's machine user (``export_qdpx(layer='suggestions')``)."""
        first = next((u for u in users if u), None)
        return first is not None and self.parsed.users.get(first) == MACHINE_USER

    def _user_name(self, guid: str) -> str:
        if guid in self._coders:
            return self._coders[guid]
        name = self.parsed.users.get(guid, "")
        if not name:
            name = f"user {guid[:8].lower()}"
            if guid not in self.parsed.users and guid not in self._warned_users:
                self._warned_users.add(guid)
                self.warn(f"user {guid} is not in <Users>; their work was imported as coder {name!r}")
        if name != "consensus" and name.startswith(("qualkam", "model", "rule")):
            renamed = f"user {name}"
            self.warn(f"user {name!r}: the name is reserved for machine suggestions; imported as coder {renamed!r}")
            name = renamed
        self._coders[guid] = name
        if self.as_coder is None:
            self.remember("user", name, guid)
        return name

    # -- codes --
    def import_codes(self) -> None:
        existing = store.code_places(self.project)
        by_label: dict[tuple[str | None, str], list[str]] = {}
        anywhere: Counter[str] = Counter()
        for cid, (parent, label) in existing.items():
            by_label.setdefault((parent, label.casefold()), []).append(cid)
            anywhere[label.casefold()] += 1
        in_file = Counter((code.name or "").casefold() for code in self.parsed.codes)
        unique = {
            label.casefold(): cid
            for cid, (_, label) in existing.items()
            if anywhere[label.casefold()] == 1 and in_file[label.casefold()] == 1
        }
        taken = set(existing)
        new: list[dict[str, Any]] = []
        attributes = self._code_attributes()
        for code in self.parsed.codes:
            definition, include, exclude, qid = parse_description(code.description)
            parent = self.code_ids.get(code.parent) if code.parent else None
            remembered = store.remembered_code(self.project, code.guid)
            label = code.name or qid or "code"
            same_label = by_label.get((parent, label.casefold()), [])
            # The code's own GUID, else its [qualkam id] line, else a label found once in the
            # project's tree and once in the file's (another tool may have moved it), else
            # the same label under the same parent.
            if remembered is not None and remembered in existing:
                match = remembered
            elif qid and qid in existing:
                match = qid
            elif label.casefold() in unique:
                match = unique[label.casefold()]
            elif len(same_label) == 1:
                match = same_label[0]
            else:
                match = None
            if match is not None:
                self.code_ids[code.guid] = match
                self.report.codes_matched += 1
                continue
            cid = qid if qid and ID.match(qid) and qid not in taken else make_id(label, taken)
            taken.add(cid)
            self.code_ids[code.guid] = cid
            entry: dict[str, Any] = {"id": cid, "label": label}
            if parent:
                entry["parent"] = parent
            if definition:
                entry["definition"] = definition
            if include:
                entry["include"] = include
            if exclude:
                entry["exclude"] = exclude
            color = (code.color or "").strip()
            if re.fullmatch(r"#[0-9A-Fa-f]{3}", color):
                color = "#" + "".join(ch * 2 for ch in color[1:])
            if color and COLOR.match(color):
                entry["color"] = color
            elif color:
                self.warn(f"code {label!r}: colour {color!r} is not #RRGGBB; left out")
            if attributes.get(code.guid):
                entry["attributes"] = attributes[code.guid]
            new.append(entry)
            self.report.codes_new.append(cid)
        self.codebook, self.codebook_id = self._save_codebook(new)
        for code in self.parsed.codes:
            self.remember("code", self.code_ids[code.guid], code.guid)

    def _code_attributes(self) -> dict[str, dict[str, Any]]:
        """Sets named ``key: value`` with member codes are code attributes (the exporter
        writes every attribute value of a code as such a set)."""
        found: dict[str, dict[str, Any]] = {}
        for group in self.parsed.sets:
            key, sep, value = group.name.partition(": ")
            if not sep or not key.strip() or not group.codes:
                continue
            for guid in group.codes:
                attrs = found.setdefault(guid, {})
                item = _scalar(value)
                if key in attrs:
                    attrs[key] = (attrs[key] if isinstance(attrs[key], list) else [attrs[key]]) + [item]
                else:
                    attrs[key] = item
        return found

    def _current_codebook(self) -> tuple[Codebook | None, int | None]:
        book = store.majority_codebook(self.project)
        if book is None:
            return None, None
        try:
            return parse_codebook(book["yaml"], book["path"] or "<codebook>"), int(book["id"])
        except CodebookError as exc:
            raise QualkamError(
                f"the project's current codebook ({book['path']}) no longer validates, so codes "
                f"cannot be added to it; fix it and load it with 'qualkam code' first:\n{exc}"
            ) from exc

    def _save_codebook(self, new: list[dict[str, Any]]) -> tuple[Codebook | None, int | None]:
        """A new codebook version: the current one plus the imported codes (nothing new: the
        current one stays). Codes always go through a validated codebook version, so the
        project's codebook history stays whole and the exporter finds include / exclude."""
        current, current_id = self._current_codebook()
        if not new:
            return current, current_id
        if current is not None:
            data = load_yaml(current.text)  # bounded, as every YAML qualkam reads
            data["version"] = f"{current.version} + {self.path.name}"
            head = f"# {current.name} {current.version}, with {len(new)} code(s) imported from {self.path.name}\n"
        else:
            data = {
                "name": self.parsed.name or self.path.stem,
                "version": f"imported from {self.path.name}",
                "description": f"Codes imported from {self.path.name}"
                + (f" ({self.parsed.origin})" if self.parsed.origin else ""),
                "codes": [],
            }
            head = f"# {len(new)} code(s) imported from {self.path.name}\n"
        data["codes"] = list(data.get("codes") or []) + new
        text = head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
        try:
            book = parse_codebook(text, f"{self.path.name} (imported codebook)")
        except CodebookError as exc:  # our own codebook failing is a bug worth a clear report
            raise QualkamError(f"{self.path}: the imported codes do not make a valid codebook:\n{exc}") from exc
        self.report.codebook_version = f"{book.name} {book.version}"
        return book, store.add_codebook_version(self.project, book, self.as_coder or "qualkam")

    # -- sources --
    def import_sources(self, archive: SafeArchive) -> None:
        by_hash = store.source_hashes(self.project)
        taken = set(by_hash.values())
        cases = self._participants()
        suggester = None
        for source in self.parsed.sources:
            label = source.name or source.path or source.guid
            loaded = self._source_text(archive, source, label)
            if loaded is None:
                continue
            raw, encoding = loaded
            text, mapping = normalise_line_endings(raw)
            if not text.strip():
                self.warn(f"source {label!r}: its text is empty; not imported")
                continue
            content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
            if content_hash in by_hash:
                source_id = by_hash[content_hash]
                if source_id not in self.report.sources_matched and source_id not in self.report.sources_new:
                    self.report.sources_matched.append(source_id)
            else:
                source_id = self._new_id(source, taken)
                if suggester is None:
                    suggester = self._suggester()
                self._store_new(source, source_id, text, encoding, cases.get(source.guid, {}), suggester)
                by_hash[content_hash] = source_id
                taken.add(source_id)
                self.report.sources_new.append(source_id)
            self.source_ids[source.guid] = source_id
            self.remember("source", source_id, source.guid)
            self._codings(source, source_id, raw, text, mapping)

    def _source_text(self, archive: SafeArchive, source: model.Source, label: str) -> tuple[str, str] | None:
        if source.path:
            scheme = source.path.split("://", 1)[0].lower() if "://" in source.path else ""
            if scheme not in ("", "internal"):
                if source.content is not None:
                    return source.content, "xml"
                self.warn(f"source {label!r}: its text is outside the .qdpx ({source.path}); not imported")
                return None
            info = archive.find_internal(source.path)
            if info is None:
                if source.content is not None:
                    return source.content, "xml"
                self.warn(
                    f"source {label!r}: dangling path {source.path!r}: no such file in "
                    f"{archive.path.name}; the source and its codings were not imported"
                )
                return None
            decoded = _decode(archive.read(info))
            if decoded is None:
                self.warn(f"source {label!r}: {info.filename} is neither UTF-8 nor UTF-16 with a BOM; not imported")
            return decoded
        if source.content is not None:
            return source.content, "xml"
        self.warn(f"source {label!r}: no plainTextPath and no PlainTextContent; not imported")
        return None

    def _new_id(self, source: model.Source, taken: set[str]) -> str:
        base = source.name
        if not base and source.path:
            base = Path(source.path.split("://", 1)[-1]).stem
        base = base or f"source-{source.guid[:8].lower()}"
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}-{n}", n + 1
        if candidate != base:
            self.warn(
                f"source {base!r}: the project has a source with this id and another text; imported as {candidate!r}"
            )
        return candidate

    def _participants(self) -> dict[str, dict[str, Participant]]:
        """Source GUID -> speaker label -> participant, from cases (``Description`` "role:
        ...; unit: ..." as the exporter writes it, or case variables named role / unit)."""
        per_source: dict[str, dict[str, Participant]] = {}
        for case in self.parsed.cases:
            if not case.name:
                continue
            fields: dict[str, str] = {}
            for part in re.split(r"[;\n]", case.description):
                key, sep, value = part.partition(":")
                if sep and key.strip().lower() in ("label", "role", "unit", "name") and value.strip():
                    fields[key.strip().lower()] = value.strip()
            others: dict[str, Any] = {}
            for guid, value in case.values.items():
                name = self._variable_name(guid).lower()
                if name in ("role", "unit") and name not in fields and str(value).strip():
                    fields[name] = str(value).strip()
                elif name not in ("role", "unit", "") and value not in (None, ""):
                    others[self._variable_name(guid)] = value  # the case's own attribute (site, tenure ...)
            # A case renamed to be unique ("Gary (2)") names its speaker label in the Description.
            label = fields.get("label") or case.name
            person = Participant(label, fields.get("role"), fields.get("unit"), fields.get("name"))
            if others:
                self._case_attributes.setdefault(person.name or label, {}).update(others)
            self._case_keys.append((f"{label}|{person.role or ''}|{person.unit or ''}", case.guid))
            for guid in case.sources:
                per_source.setdefault(guid, {})[label] = person
        return per_source

    def _meta(self, source: model.Source, participants: dict[str, Participant]) -> SourceMeta:
        meta = SourceMeta(participants=participants)
        for guid, value in source.values.items():
            name = self._variable_name(guid)
            if not name:
                continue
            if name in SOURCE_FIELDS and value not in (None, ""):
                text = str(value).strip()
                if name == "date" and not _ISO_DATE.match(text):
                    self.warn(f"source {source.name!r}: date {text!r} is not YYYY-MM-DD; kept as attribute 'date'")
                    meta.attributes["date"] = value
                    continue
                setattr(meta, name, text[:10] if name == "date" else text)
            else:
                meta.attributes[name] = value
        for group in self.parsed.sets:
            key, sep, value = group.name.partition(": ")
            if (
                sep
                and source.guid in group.sources
                and key.strip()
                and key not in meta.attributes
                and key not in SOURCE_FIELDS
            ):
                meta.attributes[key] = _scalar(value)
        return meta

    def _suggester(self) -> tuple[Any, str, str]:
        """The pipeline, unit and suggester ``qualkam code`` would use on this project."""
        from qualkam.coding.nlp import load_pipeline
        from qualkam.coding.pipeline import pipeline_name
        from qualkam.coding.segment import Unit
        from qualkam.coding.suggest import Suggester

        usual_unit, usual_pipeline = store.usual_pipeline(self.project)
        unit = Unit(usual_unit) if usual_unit in Unit._value2member_map_ else Unit.turn
        pipeline = usual_pipeline if usual_pipeline not in (None, "", "blank:en") else None
        codebook = self.codebook or Codebook(name="", version="", path="", text="")
        return Suggester(codebook, load_pipeline(pipeline)), unit.value, pipeline_name(pipeline)

    def _store_new(
        self,
        source: model.Source,
        source_id: str,
        text: str,
        encoding: str,
        participants: dict[str, Participant],
        suggester: tuple[Any, str, str],
    ) -> None:
        from qualkam.coding.run import segment_and_suggest
        from qualkam.coding.segment import Unit, text_turns
        from qualkam.sources.formats import RawSource
        from qualkam.sources.ingest import PreparedSource

        matcher, unit, pipeline = suggester
        meta = self._meta(source, participants)
        meta.id = source_id
        phase = meta.phase
        book = self.codebook
        if book is not None and book.phases:
            phase, problem = book.resolve_phase(meta.phase, meta.date, meta.attributes)
            if problem:
                phase = meta.phase  # keep what the other tool said, and say so
                self.warn(f"source {source_id!r}: {problem.split(';')[0]}; kept as written")
        inner = source.path.split("://", 1)[-1] if source.path else "PlainTextContent"
        prepared = PreparedSource(
            Path(inner), f"{self.path.name}:{inner}", RawSource(text, "qdpx", encoding), meta, phase
        )
        stored = self._stored_segments(source, source_id, text)
        if stored is not None:  # qualkam's own file: the segments as they were
            unit = stored[0]
            segments, suggestions = _as_stored(text, stored[1], matcher)
        else:
            prepared.turns = text_turns(text, meta)
            labels = {label.casefold(): label for label in participants}
            for turn in prepared.turns:
                # A subtitle source's text is qualkam-built "Display Name (Place): words" lines whose
                # whole label is the participant (formats.py); read as text, "(Place)" looks like a role.
                whole = f"{turn.speaker} ({turn.role})".casefold() if turn.speaker and turn.role else None
                if whole in labels:
                    turn.speaker, turn.role = labels[whole], None
            segments, suggestions = segment_and_suggest(prepared, Unit(unit), matcher)
        record = SourceRecord(
            id=source_id,
            path=prepared.rel,
            format="qdpx",
            encoding=encoding,
            content_hash=prepared.content_hash,
            fingerprint=prepared.fingerprint(unit, pipeline, book.hash if book else ""),
            type=meta.type,
            date=meta.date,
            phase=phase,
            title=meta.title,
            participants={label: vars(p) for label, p in participants.items()},
            attributes=meta.attributes,
            text=text,
            unit=unit,
            pipeline=pipeline,
        )
        store.add_source(self.project, record, self.codebook_id, segments, suggestions)
        if source.description.strip():
            self._memo(
                "source",
                source_id,
                self.coder(source.user),
                source.description.strip(),
                stored_time(source.at),
                None,
                None,
            )

    def _stored_segments(
        self, source: model.Source, source_id: str, text: str
    ) -> tuple[str, list[segdata.StoredSegment]] | None:
        entry = self.segment_data.get(source.guid)
        if entry is None:
            return None
        try:
            return segdata.validate(entry, text)
        except segdata.SegmentDataError as exc:
            self.warn(f"{segdata.MEMBER}: source {source_id!r}: {exc}; segmented from its text")
            return None

    # -- codings --
    def _codings(self, source: model.Source, source_id: str, raw: str, text: str, mapping: list[int]) -> None:
        selections = source.selections
        reading, spans = read_positions(raw, [(s.start, s.end) for s in selections], [s.name for s in selections])
        self.report.readings[source_id] = reading if selections else "none"
        segments = segment_spans(self.project, source_id)
        decisions: dict[tuple[int, int, str, str], _Decision] = {}
        items = list(zip(selections, spans, strict=False))
        if source.whole:
            items.append((model.Selection("", 0, 0, source.user, source.at, "", "", source.whole), (0, len(raw))))
        for selection, span in items:
            if span is None:
                self.warn(
                    f"source {source_id!r}: selection {selection.guid or selection.name} at "
                    f"{selection.start}-{selection.end} is outside the text ({len(raw)} characters) in "
                    f"either reading; not imported"
                )
                continue
            start, end = mapping[span[0]], mapping[span[1]]
            # The segments the exact span overlaps: the first is its anchor (and where a note goes).
            hits = [(seg_id, s, e) for seg_id, s, e in segments if s < end and e > start] if start < end else []
            if not hits:
                if selection.codings or selection.description:
                    what = (
                        "holds no segment's text (only a speaker label, a line end or the space between segments)"
                        if start < end
                        else "selects no character of the stored text (only the CR of a line end)"
                    )
                    self.warn(f"source {source_id!r}: selection {selection.guid} ({start}-{end}) {what}; not imported")
                continue
            self.selection_segments[selection.guid] = hits[0][0]
            if not selection.codings and len(hits) == 1 and (hits[0][1], hits[0][2]) == (start, end):
                self.remember("segment", str(hits[0][0]), selection.guid)  # a note carrier
            for coding in selection.codings:
                self.selection_segments[coding.guid] = hits[0][0]
                if self._machine(coding.user, selection.user):
                    # qualkam's suggestions exported for review: the rules make them again here.
                    self.report.machine_codings += 1
                    continue
                code_id = self.code_for(coding.code)
                if code_id is None:
                    self.warn(
                        f"source {source_id!r}: coding {coding.guid} refers to code {coding.code or '(none)'}, "
                        "which is not in the codebook; not imported"
                    )
                    continue
                coder = self.coder(coding.user, selection.user)
                at = stored_time(coding.at) or stored_time(selection.at)
                key = (start, end, code_id, coder)
                found = decisions.get(key)
                if found is None:
                    decisions[key] = _Decision(
                        coder, code_id, (start, end), at, selection.guid, coding.guid, selection.description or None
                    )
                else:  # the same span and code twice (a selection repeated): one coding, the earliest time
                    if at and (found.at is None or at < found.at):
                        found.at = at
                    if selection.description and selection.description != found.memo:
                        found.memo = "\n\n".join(filter(None, (found.memo, selection.description)))
            if selection.description and not selection.codings:
                # A selection's Description is the memo of its codings (QualCoder, qualkam); one
                # with no coding (an ATLAS.ti quotation's comment) is a memo on the segment.
                self._memo(
                    "segment",
                    str(hits[0][0]),
                    self.coder(selection.user),
                    selection.description,
                    stored_time(selection.at),
                    None,
                    None,
                )
        for decision in decisions.values():
            outcome = apply_span(
                self.project,
                decision.coder,
                source_id,
                decision.span[0],
                decision.span[1],
                decision.code_id,
                memo=decision.memo,
                at=decision.at,
                via=self.via,
            )
            if outcome.change == "inserted":
                self.report.codings_new += 1
            elif outcome.change == "updated":
                self.report.codings_changed += 1
            else:
                self.report.codings_unchanged += 1
            if decision.coder not in self.report.coders:
                self.report.coders.append(decision.coder)
            self.remember("coding", str(outcome.coding_id), decision.coding)
            self.remember("selection", str(outcome.coding_id), decision.selection)

    # -- memos --
    def _memo(
        self,
        target_type: str,
        target_id: str | None,
        coder: str,
        text: str,
        at: str | None,
        modified: str | None,
        guid: str | None,
    ) -> None:
        """A memo, once: the same words by the same coder on the same target are not added again."""
        memo_id, new = add_memo_once(self.project, target_type, target_id, coder, text, self.via, at, modified)
        if new:
            self.report.memos_new += 1
        else:
            self.report.memos_unchanged += 1
        if coder not in self.report.coders:
            self.report.coders.append(coder)
        if guid:
            self.remember("note", str(memo_id), guid)

    def import_notes(self, archive: SafeArchive | None) -> None:
        project_texts: list[str] = []
        self._import_notes(archive, project_texts)
        described = self.parsed.description
        # qualkam writes its project memos as notes and as the Description: take them once.
        if described and " ".join(described.split()) != " ".join("\n\n".join(project_texts).split()):
            self._memo("project", None, self.coder(), described, None, None, None)

    def _import_notes(self, archive: SafeArchive | None, project_texts: list[str]) -> None:
        for note in self.parsed.notes:
            text = (note.content or "").strip()
            if not text and note.path and archive is not None:
                info = archive.find_internal(note.path)
                decoded = _decode(archive.read(info)) if info is not None else None
                text = normalise_line_endings(decoded[0])[0].strip() if decoded else ""
                if info is None:
                    self.warn(f"note {note.name!r}: dangling path {note.path!r}; its text was not found")
            text = text or note.description
            if not text:
                self.warn(f"note {note.name or note.guid!r} is empty; not imported")
                continue
            coder = self.coder(note.user)
            at, modified = stored_time(note.at), stored_time(note.modified)
            targets: list[tuple[str, str | None]] = []
            lost = False
            for kind, guid in self.note_refs.get(note.guid, []):
                if kind == "project":
                    targets.append(("project", None))
                elif kind == "code" and guid in self.code_ids:
                    targets.append(("code", self.code_ids[guid]))
                elif kind == "source" and guid in self.source_ids:
                    targets.append(("source", self.source_ids[guid]))
                elif kind in ("selection", "coding") and guid in self.selection_segments:
                    targets.append(("segment", str(self.selection_segments[guid])))
                else:
                    lost = True
            if lost and not targets:
                self.warn(
                    f"note {note.name or note.guid!r} is about something that was not imported; kept as a project memo"
                )
            for target_type, target_id in dict.fromkeys(targets or [("project", None)]):
                self._memo(target_type, target_id, coder, text, at, modified, note.guid)
                if target_type == "project":
                    project_texts.append(text)

    def remember_metadata(self) -> None:
        for guid, variable in self.parsed.variables.items():
            if variable.name:
                self.remember("variable", variable.name, guid)
        for group in self.parsed.sets:
            if group.name and group.codes:
                self.remember("set", group.name, group.guid)
        for key, guid in self._case_keys:
            self.remember("case", key, guid)
        if self._case_attributes:  # the cases' own variables: participants' attributes across sources
            from qualkam.store.cases import set_case_attributes

            set_case_attributes(self.project, self._case_attributes, self.via, self.as_coder or "qualkam")

    def code_for(self, guid: str) -> str | None:
        """The code a ``CodeRef`` names: one of the file's codes, else a project code whose
        remembered or name-based GUID it is (a file may refer to codes it does not list)."""
        if guid in self.code_ids:
            return self.code_ids[guid]
        if self._by_default_guid is None:
            self._by_default_guid = {
                store.guid_for(self.project, "code", cid): cid for cid in store.code_ids(self.project)
            }
        return self._by_default_guid.get(guid)


def _as_stored(text: str, stored: list[segdata.StoredSegment], matcher: Any) -> tuple[list[Any], list[Any]]:
    """Segments exactly as ``qualkam/segments.json`` gives them, with lemmas and rule
    suggestions as ``segment_and_suggest`` makes them: the pipeline runs once per stretch of
    one speaker and time (a turn), the suggestions are matched within it."""
    from qualkam.coding.segment import Segment

    turns: list[list[segdata.StoredSegment]] = []
    for seg in stored:
        key = (seg.speaker, seg.role, seg.speaker_unit, seg.time_start, seg.time_end)
        last = turns[-1][-1] if turns else None
        if last is not None and (last.speaker, last.role, last.speaker_unit, last.time_start, last.time_end) == key:
            turns[-1].append(seg)
        else:
            turns.append([seg])
    docs = matcher.nlp.pipe(text[turn[0].start : turn[-1].end] for turn in turns)
    segments: list[Segment] = []
    suggestions: list[Any] = []
    for turn, doc in zip(turns, docs, strict=False):
        offset = turn[0].start
        spans = [(seg.start, seg.end) for seg in turn]
        for seg, found in zip(turn, matcher.suggest(doc, offset, spans), strict=False):
            span = doc.char_span(seg.start - offset, seg.end - offset, alignment_mode="expand")
            lemmas = " ".join(t.lemma_ for t in span if not t.is_space) if span is not None else None
            segments.append(
                Segment(
                    len(segments),
                    seg.start,
                    seg.end,
                    text[seg.start : seg.end],
                    seg.speaker,
                    seg.role,
                    seg.speaker_unit,
                    seg.time_start,
                    seg.time_end,
                    lemmas,
                )
            )
            suggestions.append(found)
    return segments, suggestions


def import_qdpx(project: Project, path: str | Path, as_coder: str | None = None) -> ImportReport:
    """Import a REFI-QDA project: codes, sources, people's codings, cases, variables and
    notes, in one transaction (nothing is written when anything fails)."""
    path = Path(path)
    if as_coder is not None and not as_coder.strip():
        raise QualkamError("{argument} needs a name: the coder every user's work is imported as", argument="as_coder")
    with open_qdpx(path) as archive:
        root = read_qde(archive)
        where = f"{path}:{archive.qde.filename}"
        _check_root(root, ("Project",), where)
        parsed = parse_project(root)
        report = ImportReport(path, "qdpx", parsed.origin, parsed.name, model.counts(parsed))
        for kind, count in sorted(parsed.other_sources.items()):
            report.warnings.append(f"{count} {kind}(s) not imported: qualkam imports text sources only")
        with project.transaction():
            importer = _Importer(project, path, parsed, report, as_coder)
            importer.import_codes()
            importer.load_segment_data(archive)
            importer.import_sources(archive)
            importer.import_notes(archive)
            importer.remember_metadata()
            if _changed(report):  # importing the same file again leaves no trace, not even here
                store.audit(
                    project, as_coder or "qualkam", "project", str(path), _summary(report), parsed.origin or None
                )
    return report


def import_qdc(project: Project, path: str | Path) -> ImportReport:
    """Import a REFI-QDA codebook: the code tree with colours, descriptions and the
    attributes its sets carry, as a new codebook version (nothing new: nothing written)."""
    path = Path(path)
    root = read_qdc(path)
    _check_root(root, ("CodeBook", "Project"), str(path))
    if _local(root.tag) == "Project":
        parsed = parse_project(root)
        parsed.sources, parsed.notes, parsed.cases = [], [], []
    else:
        parsed = parse_codebook_element(root)
    parsed.name = parsed.name or path.stem
    report = ImportReport(
        path, "qdc", parsed.origin, parsed.name, {"codes": len(parsed.codes), "sets": len(parsed.sets)}
    )
    with project.transaction():
        importer = _Importer(project, path, parsed, report, None)
        importer.import_codes()
        importer.remember_metadata()
        if report.codes_new:
            store.audit(project, "qualkam", "codebook", str(path), _summary(report), parsed.origin or None)
    return report


def _changed(report: ImportReport) -> bool:
    return bool(
        report.sources_new or report.codes_new or report.codings_new or report.codings_changed or report.memos_new
    )


def _summary(report: ImportReport) -> dict[str, Any]:
    return {
        "found": report.found,
        "sources_new": report.sources_new,
        "sources_matched": report.sources_matched,
        "codes_new": len(report.codes_new),
        "codings_new": report.codings_new,
        "codings_changed": report.codings_changed,
        "memos_new": report.memos_new,
        "readings": report.readings,
        "warnings": len(report.warnings),
    }


def describe(parts: Iterable[tuple[int, str]]) -> str:
    """``2 sources, 262 codes`` from (count, noun) pairs, nouns pluralised by ``s``."""
    return ", ".join(f"{n} {noun}{'' if n == 1 else 's'}" for n, noun in parts)
