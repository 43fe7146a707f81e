"""Source metadata: YAML front matter, sidecar ``metadata.yaml`` / ``metadata.csv``, participants.

Front matter wins over a sidecar field by field, because it sits in the file itself.
The format is documented in docs/sources-format.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qualkam.yamlload import error_problem, error_where
from qualkam.yamlload import load as load_yaml

KNOWN_FIELDS = ("id", "type", "date", "phase", "title", "participants")
SIDECAR_NAMES = ("metadata.yaml", "metadata.yml", "metadata.csv")
CASE_FILES = ("cases.yaml", "cases.yml", "cases.csv")  # participants' attributes (qualkam.analysis.cases)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class MetadataError(ValueError):
    """Metadata that cannot be read; the message names the field or line."""


@dataclass
class Participant:
    """One speaker label as the metadata describes it."""

    label: str
    role: str | None = None
    unit: str | None = None
    name: str | None = None


@dataclass
class SourceMeta:
    """Everything known about a source apart from its text."""

    id: str | None = None
    type: str | None = None
    date: str | None = None
    phase: str | None = None
    title: str | None = None
    participants: dict[str, Participant] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def participant(self, label: str | None) -> Participant | None:
        """Find a participant by label, ignoring case and a trailing ``(Role)``."""
        if not label:
            return None
        if label in self.participants:
            return self.participants[label]
        folded = label.casefold()
        for key, value in self.participants.items():
            if key.casefold() == folded or (value.name and value.name.casefold() == folded):
                return value
        return None


def split_front_matter(text: str) -> tuple[dict[str, Any] | None, str, int]:
    """Return (front matter mapping or None, body, line number where the body starts).

    Raises MetadataError with a line number when the front matter is not valid YAML.
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        if text.startswith("---\n") and "\n---" not in text[4:]:
            raise MetadataError("line 1: front matter opened with '---' but never closed; add a closing '---' line")
        return None, text, 1
    block = match.group(1) or ""
    try:
        data = load_yaml(block) if block.strip() else {}
    except yaml.YAMLError as exc:
        raise MetadataError(f"{error_where(exc, 2)}: malformed front matter: {error_problem(exc)}") from exc
    if not isinstance(data, dict):
        raise MetadataError("line 2: front matter must be a mapping of field: value")
    body_line = text[: match.end()].count("\n") + 1
    return data, text[match.end() :], body_line


def parse_participants(value: Any, where: str) -> dict[str, Participant]:
    """Accept a mapping (label -> role string or mapping) or the CSV form ``L=Role|Unit; ...``."""
    if value in (None, ""):
        return {}
    result: dict[str, Participant] = {}
    if isinstance(value, str):
        for item in filter(None, (part.strip() for part in value.split(";"))):
            label, sep, rest = item.partition("=")
            if not sep or not label.strip():
                raise MetadataError(f"{where}: participants entry {item!r} is not 'Label=Role|Unit'")
            role, _, unit = rest.partition("|")
            result[label.strip()] = Participant(label.strip(), role.strip() or None, unit.strip() or None)
        return result
    if isinstance(value, list):  # a list of {label:, role:, unit:} mappings
        value = {str(item.get("label") or item.get("name")): item for item in value if isinstance(item, dict)}
    if not isinstance(value, dict):
        raise MetadataError(f"{where}: participants must map each speaker label to a role")
    for label, info in value.items():
        label = str(label)
        if info is None or isinstance(info, str):
            result[label] = Participant(label, info or None)
        elif isinstance(info, dict):
            unknown = {str(k) for k in info} - {"role", "unit", "name", "label"}
            if unknown:
                raise MetadataError(
                    f"{where}: participant {label!r} has unknown field(s) {sorted(unknown)}; use role, unit, name"
                )
            result[label] = Participant(
                label,
                _str_or_none(info.get("role")),
                _str_or_none(info.get("unit")),
                _str_or_none(info.get("name")),
            )
        else:
            raise MetadataError(f"{where}: participant {label!r} must be a role or a mapping with role/unit")
    return result


def _str_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _normalise_date(value: Any, where: str, warnings: list[str]) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if _DATE.match(text):
        try:
            dt.date.fromisoformat(text)
            return text
        except ValueError:
            pass
    warnings.append(f"{where}: date {text!r} is not a valid YYYY-MM-DD date; source kept without a date")
    return None


def _coerce_attribute(value: Any) -> Any:
    """CSV cells arrive as strings; numbers should compare as numbers for phase rules."""
    if isinstance(value, str):
        stripped = value.strip()
        if re.fullmatch(r"-?\d+", stripped):
            return int(stripped)
        if re.fullmatch(r"-?\d+\.\d+", stripped):
            return float(stripped)
        return stripped
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return _plain(value)


def _plain(value: Any) -> Any:
    """YAML can give what JSON cannot hold (mapping keys of mixed types, sets, bytes): make it
    JSON data, keys as text, so the fingerprint and the store take any front matter."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def build_meta(fields: dict[str, Any], where: str) -> SourceMeta:
    """Turn a raw field mapping (front matter merged over sidecar) into SourceMeta."""
    meta = SourceMeta()
    meta.id = _str_or_none(fields.get("id"))
    meta.type = _str_or_none(fields.get("type"))
    if meta.type:
        meta.type = meta.type.strip().lower()
    meta.title = _str_or_none(fields.get("title"))
    meta.phase = _str_or_none(fields.get("phase"))
    meta.date = _normalise_date(fields.get("date"), where, meta.warnings)
    meta.participants = parse_participants(fields.get("participants"), where)
    for key, value in fields.items():
        if key not in KNOWN_FIELDS and key != "file" and value not in (None, ""):
            meta.attributes[str(key)] = _coerce_attribute(value)
    return meta


def load_sidecar(folder: Path) -> tuple[dict[str, dict[str, Any]], Path | None]:
    """Read the folder's sidecar (if any) into ``file name -> fields``.

    Raises MetadataError naming the sidecar and the row or entry at fault.
    """
    for name in SIDECAR_NAMES:
        path = folder / name
        if path.is_file():
            break
    else:
        return {}, None
    try:
        raw = path.read_bytes()
        from qualkam.sources.textio import DecodeError, decode

        text, _ = decode(raw)
    except (OSError, DecodeError) as exc:
        raise MetadataError(f"{path}: cannot read sidecar: {exc}") from exc
    entries: dict[str, dict[str, Any]] = {}
    if path.suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "file" not in [f.strip() for f in reader.fieldnames]:
            raise MetadataError(f"{path}:1: metadata.csv needs a 'file' column naming each file")
        for line_no, row in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
            name = row.get("file", "")
            if not name:
                raise MetadataError(f"{path}:{line_no}: empty 'file' cell")
            entries[name] = {k: v for k, v in row.items() if v != ""}
        return entries, path
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise MetadataError(f"{path}: {error_where(exc, 1)}: malformed YAML: {error_problem(exc)}") from exc
    if data is None:
        return {}, path
    if isinstance(data, list):
        for index, item in enumerate(data):
            if not isinstance(item, dict) or not item.get("file"):
                raise MetadataError(f"{path}: entry {index + 1} needs a 'file' field")
            entries[str(item["file"])] = dict(item)
    elif isinstance(data, dict):
        for name, item in data.items():
            if not isinstance(item, dict):
                raise MetadataError(f"{path}: entry {name!r} must be a mapping of field: value")
            entries[str(name)] = dict(item)
    else:
        raise MetadataError(f"{path}: must map file names to fields, or list entries with 'file:'")
    return entries, path
