"""Cases: participants as cases with their own attributes, kept across sources.

A case is a speaker who is a person, merged across sources by name (case-folded): the
speaker segments carry, which the sources' participants metadata resolves to a name. Shorthand
labels (I, R, Interviewer ...) name someone else in every source and so are no case. A case's
``role`` and ``unit`` come from the participants metadata (every distinct value, joined by
``; `` when sources differ) unless a cases file sets them; any other attribute (site, tenure,
gender ...) comes from a cases file:

- ``cases.yaml``: a mapping ``Name: {attribute: value, ...}``, or a list of mappings each with
  a ``case`` (or ``name``) key;
- ``cases.csv``: a header with a ``case`` (or ``name``) column and one column per attribute;
  an empty cell sets nothing.

A cases file in the coded folder is read by every ``qualkam code`` run; ``qualkam cases import
FILE`` reads one anywhere. Matrices take ``case`` and ``case:ATTRIBUTE`` as rows, and matrices
and excerpts take case filters ``ATTRIBUTE=VALUE`` (alternatives for one attribute, all
attributes must hold), which select the speakers of those cases.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from qualkam.choices import unknown
from qualkam.errors import InputError, QualkamError
from qualkam.sources.metadata import CASE_FILES
from qualkam.sources.turns import generic_label
from qualkam.store.cases import set_case_attributes, source_participants, speaker_rows, stored_cases
from qualkam.yamlload import error_problem, error_where
from qualkam.yamlload import load as load_yaml

if TYPE_CHECKING:
    import pandas as pd

    from qualkam.store.project import Project

NAME_COLUMNS = ("case", "name")
JOIN = "; "
NONE = "(none)"


# -- the cases file ------------------------------------------------------------------------------
def _scalar(value: Any, where: str) -> Any:
    if isinstance(value, bool | int | float | str):
        return value.strip() if isinstance(value, str) else value
    if isinstance(value, dt.date):
        return value.isoformat()
    raise InputError(f"{where}: a case attribute is one value (text, number, date), not {type(value).__name__}")


def _add(
    found: dict[str, dict[str, Any]], seen: dict[str, str], name: Any, attributes: dict[Any, Any], where: str
) -> None:
    if not isinstance(name, str | int | float) or isinstance(name, bool) or not str(name).strip():
        raise InputError(f"{where}: a case needs a name (the speaker's name as the transcripts give it)")
    name = str(name).strip()
    key = name.casefold()
    if key in seen:
        raise InputError(f"{where}: case {name!r} is given twice (also as {seen[key]!r}); give each person once")
    seen[key] = name
    values: dict[str, Any] = {}
    for attribute, value in attributes.items():
        label = str(attribute).strip() if attribute is not None else ""
        if not label or label.casefold() in NAME_COLUMNS:
            if label:
                continue
            raise InputError(f"{where}: case {name!r} has an attribute without a name")
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # empty: sets nothing
        values[label] = _scalar(value, f"{where}: case {name!r}, {label}")
    found[name] = values


def parse_cases(text: str, kind: str, where: str = "cases file") -> dict[str, dict[str, Any]]:
    """Case name -> its attributes, from the text of a cases file (``kind`` ``yaml`` or ``csv``).
    A problem raises InputError naming the file, the line or case, and the fix."""
    found: dict[str, dict[str, Any]] = {}
    seen: dict[str, str] = {}
    if kind == "csv":
        reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
        lines: list[tuple[int, list[str]]] = []  # (the line a row ends on, the row), blank rows left out
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    lines.append((reader.line_num, row))
        except csv.Error as exc:
            raise InputError(f"{where}: line {reader.line_num}: not readable as CSV ({exc})") from None
        if not lines:
            raise InputError(f"{where}: empty; write a header 'case,ATTRIBUTE,...' and one row per person")
        first, rows = lines[0][0], [row for _, row in lines]
        header = [h.strip() for h in rows[0]]
        column = next((i for i, h in enumerate(header) if h.casefold() in NAME_COLUMNS), None)
        if column is None:
            raise InputError(
                f"{where}: line {first}: no 'case' (or 'name') column; name the column of people's names case"
            )
        if "" in header:
            raise InputError(f"{where}: line {first}: column {header.index('') + 1} has no name; name every column")
        dupes = sorted({h for h in header if [x.casefold() for x in header].count(h.casefold()) > 1})
        if dupes:
            raise InputError(
                f"{where}: line {first}: column(s) {', '.join(dupes)} given twice; give each attribute once"
            )
        for number, row in lines[1:]:
            if len(row) > len(header):
                raise InputError(f"{where}: line {number}: {len(row)} cells for {len(header)} columns")
            cells = dict(zip(header, row + [""] * (len(header) - len(row)), strict=True))
            name = cells.pop(header[column])
            _add(found, seen, name, cells, f"{where}: line {number}")
        return found
    if kind != "yaml":
        raise InputError(f"{where}: a cases file is .yaml, .yml or .csv")
    try:
        data = load_yaml(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise InputError(f"{where}: {error_where(exc)}: not valid YAML: {error_problem(exc)}") from None
    if data is None:
        return found
    if isinstance(data, dict) and set(data) == {"cases"}:
        data = data["cases"]
    if isinstance(data, dict):
        for name, attributes in data.items():
            if attributes is None:
                attributes = {}
            if not isinstance(attributes, dict):
                raise InputError(f"{where}: case {name!r}: give its attributes as a mapping (site: Leeds)")
            _add(found, seen, name, attributes, where)
    elif isinstance(data, list):
        for number, item in enumerate(data, start=1):
            if not isinstance(item, dict):
                raise InputError(f"{where}: entry {number}: give each case as a mapping with a 'case' key")
            folded = {str(k).casefold(): k for k in item if k is not None}
            key = next((folded[k] for k in NAME_COLUMNS if k in folded), None)
            if key is None:
                raise InputError(f"{where}: entry {number}: no 'case' (or 'name') key")
            _add(found, seen, item[key], {k: v for k, v in item.items() if k != key}, f"{where}: entry {number}")
    else:
        raise InputError(f"{where}: a cases file maps each person's name to attributes (Name: {{site: Leeds}})")
    return found


def read_cases_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """The cases a file sets (see ``parse_cases``); its kind from its suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    kind = {".yaml": "yaml", ".yml": "yaml", ".csv": "csv"}.get(suffix)
    if kind is None:
        raise InputError(f"{path}: a cases file is .yaml, .yml or .csv", argument="path")
    try:
        from qualkam.sources.textio import DecodeError, decode

        text, _ = decode(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"cases file not found: {path}", argument="path") from None
    except (OSError, DecodeError) as exc:
        raise InputError(f"{path}: cannot read the cases file: {exc}", argument="path") from None
    return parse_cases(text, kind, str(path))


def import_cases(project: Project, path: str | Path, actor: str = "qualkam") -> tuple[int, int]:
    """Set the attributes a cases file gives, merged into what the project holds; returns (cases
    in the file, cases changed)."""
    found = read_cases_file(path)
    return len(found), set_case_attributes(project, found, str(path), actor)


def folder_cases_file(folder: str | Path) -> Path | None:
    """The cases file at the top of a coded folder, if any (cases.yaml, cases.yml, cases.csv)."""
    for name in CASE_FILES:
        path = Path(folder) / name
        if path.is_file():
            return path
    return None


# -- the case table --------------------------------------------------------------------------------
@dataclass
class Case:
    key: str
    name: str
    sources: list[str] = field(default_factory=list)
    segments: int = 0
    spellings: set[str] = field(default_factory=set)
    roles: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)  # set by a cases file or REFI-QDA
    origin: str | None = None

    def values(self) -> dict[str, Any]:
        """Every attribute of the case: role and unit from the metadata unless set, then the set ones."""
        found: dict[str, Any] = {}
        if self.roles:
            found["role"] = JOIN.join(self.roles)
        if self.units:
            found["unit"] = JOIN.join(self.units)
        return {**found, **self.attributes}


def is_person(label: str) -> bool:
    """A speaker label that names someone: not blank, not a generic label such as I, R, T or
    Speaker 2 (``qualkam.sources.turns.generic_label``)."""
    return bool(label.strip()) and not generic_label(label)


def cases(project: Project) -> dict[str, Case]:
    """Every case, by key (the case-folded name), in name order."""
    found: dict[str, Case] = {}
    spelled: dict[str, dict[str, int]] = {}  # key -> spelling -> weight (segments spoken)

    def case(name: str, weight: int = 0) -> Case:
        key = name.strip().casefold()
        if key not in found:
            found[key] = Case(key, name.strip())
        spelled.setdefault(key, {})
        spelled[key][name.strip()] = spelled[key].get(name.strip(), 0) + weight
        return found[key]

    for row in speaker_rows(project):
        if not is_person(row["speaker"]):
            continue
        c = case(row["speaker"], row["segments"])
        c.spellings.add(row["speaker"])
        c.segments += row["segments"]
        if row["source"] not in c.sources:
            c.sources.append(row["source"])
        for value, into in ((row["role"], c.roles), (row["unit"], c.units)):
            if value and value not in into:
                into.append(value)
    for source, participants in source_participants(project):
        for label, info in participants.items():
            info = info if isinstance(info, dict) else {}
            name = info.get("name") or label
            if not is_person(str(name)):
                continue
            c = case(str(name))
            if source not in c.sources:
                c.sources.append(source)
            for value, into in ((info.get("role"), c.roles), (info.get("unit"), c.units)):
                if value and value not in into:
                    into.append(value)
    for key, stored in stored_cases(project).items():
        c = found.get(key) or case(stored["name"])
        c.name = stored["name"]  # as the researcher wrote it in the cases file
        c.attributes = stored["attributes"]
        c.origin = stored["origin"]
    for c in found.values():
        c.sources.sort()
        # the name as most segments spell it, a transcript's SHOUTED label only when nothing else
        names = spelled.get(c.key, {}) if c.origin is None else {}
        if names:
            c.name = max(names, key=lambda n: (not n.isupper(), names[n], n))
    return dict(sorted(found.items()))


def attribute_names(every: dict[str, Case]) -> list[str]:
    """Every case attribute, role and unit first, then in order of first use."""
    names = dict.fromkeys(["role", "unit"])
    for c in every.values():
        names.update(dict.fromkeys(c.attributes))
    return [n for n in names if any(n in c.values() for c in every.values())]


def match_attribute(names: Sequence[str], name: str, argument: str) -> str:
    """``name`` as the cases spell it among ``names`` (exactly, else ignoring letter case); an
    unknown one is an error naming ``argument``, with the names there are."""
    match = next((n for n in names if n == name), None) or next(
        (n for n in names if n.casefold() == name.casefold()), None
    )
    if match is None:
        raise unknown("case attribute", name, list(names) or ["(no case has attributes)"], argument)
    return match


def cases_frame(project: Project) -> pd.DataFrame:
    """One row per case: case (the name), sources (how many), segments (spoken), source_ids, then
    one column per attribute (role, unit, then a cases file's), and origin (the file that set
    attributes, if any)."""
    import pandas as pd

    every = cases(project)
    names = attribute_names(every)
    rows = [
        {
            "case": c.name,
            "sources": len(c.sources),
            "segments": c.segments,
            "source_ids": ", ".join(c.sources),
            **{n: c.values().get(n) for n in names},
            "origin": c.origin,
        }
        for c in every.values()
    ]
    return pd.DataFrame(rows, columns=["case", "sources", "segments", "source_ids", *names, "origin"])


# -- cases in matrices and filters ---------------------------------------------------------------
def is_case_rows(rows: str) -> bool:
    return rows == "case" or (rows.startswith("case:") and bool(rows[5:]))


def case_row_values(project: Project, frame: pd.DataFrame, rows: str, argument: str = "rows") -> pd.Series:
    """Each row's case (``rows`` ``case``) or its case's attribute (``case:NAME``) from its
    ``speaker``; ``(none)`` where the speaker is no case or the case has no such value. An
    unknown attribute is an error naming ``argument``."""
    import pandas as pd

    from qualkam.analysis.matrix import value_text

    every = cases(project)
    lookup: dict[str, Any]
    if rows == "case":
        lookup = {k: c.name for k, c in every.items()}
    else:
        match = match_attribute(attribute_names(every), rows[5:], argument)
        lookup = {k: c.values().get(match) for k, c in every.items()}
    values = [
        lookup.get(str(s).strip().casefold()) if isinstance(s, str) and is_person(s) else None for s in frame["speaker"]
    ]
    return pd.Series(values, index=frame.index, dtype=object).map(value_text).astype(object)


def parse_case_filter(conditions: Sequence[str], argument: str = "cases") -> dict[str, list[str]]:
    """``ATTRIBUTE=VALUE`` conditions by attribute (``case=NAME`` or a bare ``NAME`` selects a
    case by name); a malformed one raises naming ``argument``."""
    parsed: dict[str, list[str]] = {}
    for condition in conditions:
        attribute, sep, value = str(condition).partition("=")
        if not sep:
            attribute, value = "case", attribute
        attribute, value = attribute.strip(), value.strip()
        if not attribute or not value:
            raise QualkamError(
                f"{{argument}} {condition!r}: write ATTRIBUTE=VALUE (site=Leeds) or a case's name", argument=argument
            )
        parsed.setdefault(attribute, [])
        if value not in parsed[attribute]:
            parsed[attribute].append(value)
    return parsed


def _holds(value: Any, wanted: list[str]) -> bool:
    """A case's value is one of those wanted (ignoring case); a value the metadata gave as
    several (``Sales Director; Managing Director``) holds for each of them."""
    if value is None:
        return False
    text = str(value_text_plain(value)).casefold()
    have = {text, *(part.strip() for part in text.split(JOIN.strip()))}
    return any(w.casefold() in have for w in wanted)


def value_text_plain(value: Any) -> str:
    """A value as a filter compares it: a whole float without ``.0``."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def case_speakers(project: Project, conditions: Sequence[str], argument: str = "cases") -> list[str]:
    """The speaker spellings of every case that meets the conditions (``parse_case_filter``:
    alternatives for one attribute, every attribute must hold; values compared ignoring case).
    No case meeting them, or none of them speaking, raises: an empty filter would keep all."""
    wanted = parse_case_filter(conditions, argument)
    every = cases(project)
    names = ["case", *attribute_names(every)]
    for attribute in wanted:
        if attribute.casefold() not in {n.casefold() for n in names}:
            raise unknown("case attribute", attribute, names, argument)
    chosen = []
    for c in every.values():
        values = {"case": c.name, **c.values()}
        folded = {k.casefold(): v for k, v in values.items()}
        if all(_holds(folded.get(a.casefold()), vs) for a, vs in wanted.items()):
            chosen.append(c)
    shown = ", ".join(f"{a}={'|'.join(vs)}" for a, vs in wanted.items())
    if not chosen:
        raise QualkamError(f"{{argument}} {shown}: no case has that (see the case list)", argument=argument)
    speakers = sorted({s for c in chosen for s in c.spellings})
    if not speakers:
        raise QualkamError(
            f"{{argument}} {shown}: {', '.join(c.name for c in chosen)} speak(s) in no segment", argument=argument
        )
    return speakers


def speakers_with_cases(
    project: Project, speakers: Sequence[str], conditions: Sequence[str], argument: str = "cases"
) -> list[str]:
    """A speakers filter narrowed by case conditions: the cases' speakers, and of those only the
    ``speakers`` given, if any. Without conditions, ``speakers`` as they are."""
    if not conditions:
        return list(speakers)
    chosen = case_speakers(project, conditions, argument)
    if not speakers:
        return chosen
    given = {s.casefold() for s in speakers}
    both = [s for s in chosen if s.casefold() in given]
    if not both:
        raise QualkamError(
            f"{{argument}} selects speakers {', '.join(chosen)}, none of them among the speakers asked for",
            argument=argument,
        )
    return both
