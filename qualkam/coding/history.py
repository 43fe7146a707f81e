"""Codebook history: every codebook version a project stored, and what changed between two.

``qualkam codebook history`` lists the versions (number in the project, name, version string,
hash, when and from where each was loaded, its codes, the codings made under it);
``qualkam codebook diff V1 V2`` lists codes added, removed, renamed, split and changed field
by field. A rename is *recorded* when a ``qualkam codebook migrate`` between the two versions
mapped it; otherwise a removed and an added code whose words are alike (Jaccard similarity of
their label, definition, include rules and examples at least ``RENAME_SIMILARITY``) are listed
as *possibly renamed*, for the researcher to confirm. The heuristic is symmetric: diff(a, b)
and diff(b, a) pair the same codes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from qualkam.coding.codebook import CODE_FIELDS, Code, Codebook, parse_codebook
from qualkam.errors import CodebookError, NotFoundError, QualkamError
from qualkam.store.history import StoredVersion, codings_before_history, recorded_migrations, stored_versions

if TYPE_CHECKING:
    import pandas as pd

    from qualkam.store.project import Project

RENAME_SIMILARITY = 0.5  # the least word overlap for a removed and an added code to be "possibly renamed"
LIST_FIELDS = ("include", "exclude", "examples")
_WORD = re.compile(r"\w+")
BEFORE_HISTORY = "before history"


# -- the pure diff -------------------------------------------------------------------------------
@dataclass
class Renamed:
    """A code of the first version that is another code in the second."""

    old: str
    new: str
    how: str  # "renamed" or "merged" (recorded by a migration), or "possibly renamed" (alike)
    similarity: float | None = None


@dataclass
class FieldChange:
    code: str  # the code's id in the second version
    field: str
    before: Any
    after: Any


@dataclass
class CodebookDiff:
    """What changed from codebook ``a`` to codebook ``b``."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[Renamed] = field(default_factory=list)
    split: dict[str, list[str]] = field(default_factory=dict)
    changed: list[FieldChange] = field(default_factory=list)
    phases_added: list[str] = field(default_factory=list)
    phases_removed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.added
            or self.removed
            or self.renamed
            or self.split
            or self.changed
            or self.phases_added
            or self.phases_removed
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "renamed": [asdict(r) for r in self.renamed],
            "split": {k: list(v) for k, v in self.split.items()},
            "changed": [asdict(c) for c in self.changed],
            "phases_added": list(self.phases_added),
            "phases_removed": list(self.phases_removed),
        }


def _words(code: Code) -> set[str]:
    text = " ".join([code.label, code.definition, *code.include, *code.examples])
    return {w.casefold() for w in _WORD.findall(text) if len(w) > 2}


def similarity(a: Code, b: Code) -> float:
    """Jaccard similarity of the two codes' words (label, definition, include rules, examples);
    1.0 for the same label. Symmetric."""
    if a.label.strip().casefold() == b.label.strip().casefold():
        return 1.0
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def _value(code: Code, name: str) -> Any:
    value = getattr(code, name)
    return asdict(value) if name == "patterns" else value


def _field_changes(code_id: str, before: Code, after: Code) -> list[FieldChange]:
    return [
        FieldChange(code_id, name, _value(before, name), _value(after, name))
        for name in CODE_FIELDS
        if _value(before, name) != _value(after, name)
    ]


def diff_codebooks(
    a: Codebook,
    b: Codebook,
    renames: dict[str, str] | None = None,
    splits: dict[str, list[str]] | None = None,
) -> CodebookDiff:
    """Codes added, removed, renamed (``renames`` recorded old -> new, then alike pairs), split
    (``splits`` recorded), and changed field by field (a renamed code against its old self)."""
    diff = CodebookDiff()
    only_a = [c for c in a.codes if c not in b.codes]
    only_b = [c for c in b.codes if c not in a.codes]
    taken_old: set[str] = set()
    taken_new: set[str] = set()
    targets = list((renames or {}).values())
    for old, new in (renames or {}).items():
        if old in only_a and new in b.codes:
            how = "merged" if targets.count(new) > 1 or new in a.codes else "renamed"
            diff.renamed.append(Renamed(old, new, how))
            taken_old.add(old)
            if new in only_b:
                taken_new.add(new)
    for old, news in (splits or {}).items():
        kept = [n for n in news if n in b.codes]
        if old in only_a and kept:
            diff.split[old] = kept
            taken_old.add(old)
            taken_new.update(n for n in kept if n in only_b)
    # Alike pairs, best first; ties broken on the pair's ids in sorted order so that the
    # reverse diff makes the same choices.
    left = [c for c in only_a if c not in taken_old]
    right = [c for c in only_b if c not in taken_new]
    pairs = [(similarity(a.codes[o], b.codes[n]), o, n) for o in left for n in right]
    pairs = [p for p in pairs if p[0] >= RENAME_SIMILARITY]
    pairs.sort(key=lambda p: (-p[0], min(p[1], p[2]), max(p[1], p[2])))
    for score, old, new in pairs:
        if old in taken_old or new in taken_new:
            continue
        diff.renamed.append(Renamed(old, new, "possibly renamed", round(score, 3)))
        taken_old.add(old)
        taken_new.add(new)
    diff.renamed.sort(key=lambda r: list(a.codes).index(r.old))
    diff.removed = [c for c in only_a if c not in taken_old]
    diff.added = [c for c in only_b if c not in taken_new]
    for code_id, code in b.codes.items():
        if code_id in a.codes:
            diff.changed += _field_changes(code_id, a.codes[code_id], code)
    for r in diff.renamed:
        if r.how != "merged":
            diff.changed += _field_changes(r.new, a.codes[r.old], b.codes[r.new])
    old_phases, new_phases = [p.id for p in a.phases], [p.id for p in b.phases]
    diff.phases_added = [p for p in new_phases if p not in old_phases]
    diff.phases_removed = [p for p in old_phases if p not in new_phases]
    return diff


# -- a project's versions ------------------------------------------------------------------------
def parse_stored(version: StoredVersion) -> Codebook:
    """A stored version's codebook, parsed from the YAML the project kept."""
    try:
        return parse_codebook(version.yaml, version.path or f"<version {version.number}>", spacy_check=False)
    except CodebookError as exc:
        raise QualkamError(
            f"codebook version {version.number} ({version.name} {version.version}) stored in the project "
            f"no longer validates: {'; '.join(exc.problems[:3])}"
        ) from exc


def _codes_count(version: StoredVersion) -> int | None:
    try:
        return len(parse_stored(version).codes)
    except QualkamError:
        return None


def history(project: Project) -> list[dict[str, Any]]:
    """One dict per stored version, oldest first: number, name, version, hash, loaded_at (first),
    loaded_from, loads (times it became current), codes, people_codings, suggestions, current."""
    rows = []
    for v in stored_versions(project):
        rows.append(
            {
                "number": v.number,
                "name": v.name,
                "version": v.version,
                "hash": v.hash,
                "loaded_at": v.loaded_at,
                "loaded_from": v.path,
                "loads": len(v.loads),
                "last_loaded_at": v.loads[-1]["at"] if v.loads else v.loaded_at,
                "codes": _codes_count(v),
                "people_codings": v.people_codings,
                "suggestions": v.suggestions,
                "current": v.current,
            }
        )
    return rows


def history_frame(project: Project) -> pd.DataFrame:
    """``history`` as a DataFrame; ``attrs["before_history"]`` counts the codings that record
    no version (people's, suggestions)."""
    import pandas as pd

    columns = [
        "number",
        "name",
        "version",
        "hash",
        "loaded_at",
        "loaded_from",
        "loads",
        "last_loaded_at",
        "codes",
        "people_codings",
        "suggestions",
        "current",
    ]
    frame = pd.DataFrame(history(project), columns=columns)
    people, suggestions = codings_before_history(project)
    frame.attrs["before_history"] = {"people_codings": people, "suggestions": suggestions}
    return frame


def find_version(project: Project, ref: str | int, argument: str = "version") -> StoredVersion:
    """A stored version by its number (``2`` or ``v2``), ``current``, ``previous`` (the one
    stored before the current), its version string when one version has it (``1.2``), or a
    prefix of its hash (six characters or more)."""
    versions = stored_versions(project)
    if not versions:
        raise NotFoundError(f"{project.path} has no codebook yet: no versions to compare", argument=argument)
    text = str(ref).strip()
    folded = text.casefold()
    current = next((v for v in versions if v.current), versions[-1])
    if folded == "current":
        return current
    if folded == "previous":
        earlier = [v for v in versions if v.number < current.number]
        if not earlier:
            raise NotFoundError(f"{{argument}} previous: version {current.number} is the first", argument=argument)
        return earlier[-1]
    digits = folded.removeprefix("v")
    if digits.isdigit():
        for v in versions:
            if v.number == int(digits):
                return v
        raise NotFoundError(
            f"{{argument}} {text!r}: the project has codebook versions 1 to {len(versions)} (see the codebook history)",
            argument=argument,
        )
    named = [v for v in versions if v.version.casefold() == folded]
    if len(named) == 1:
        return named[0]
    if len(folded) >= 6:
        found = [v for v in versions if v.hash.startswith(folded)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise QualkamError(
                f"{{argument}} {text!r}: several versions' hashes start so; give more", argument=argument
            )
    raise NotFoundError(
        f"{{argument}} {text!r}: give a version number (1 to {len(versions)}), current, previous, "
        "a version string that one version has, or six or more characters of its hash",
        argument=argument,
    )


def recorded_mapping(
    project: Project, first: StoredVersion, second: StoredVersion
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The renames and splits migrations recorded on the way from ``first`` to ``second`` (by
    version number, composed in order; from a later to an earlier version, the renames turned
    round). Splits are kept only going forward."""
    low, high = sorted((first.number, second.number))
    numbers = {v.id: v.number for v in stored_versions(project)}
    steps = [m for m in recorded_migrations(project) if low < numbers.get(m["codebook_id"], 0) <= high]
    renames: dict[str, str] = {}
    splits: dict[str, list[str]] = {}
    for step in steps:
        renames = {old: step["renames"].get(now, now) for old, now in renames.items()}
        for old, new in step["renames"].items():
            if old not in renames.values():
                renames.setdefault(old, new)
        splits.update(step["splits"])
    renames = {old: new for old, new in renames.items() if old != new}
    if first.number <= second.number:
        return renames, splits
    backwards: dict[str, str] = {}
    for old, new in renames.items():
        backwards.setdefault(new, old)  # a merge turned round: the first of its codes
    return backwards, {}


def version_info(version: StoredVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "name": version.name,
        "version": version.version,
        "hash": version.hash,
        "loaded_at": version.loaded_at,
        "loaded_from": version.path,
    }


def codebook_diff(project: Project, first: str | int, second: str | int) -> dict[str, Any]:
    """What changed from stored version ``first`` to ``second`` (see ``find_version``), as a
    dict: ``from`` and ``to`` (the versions), then ``CodebookDiff.as_dict``'s keys."""
    one = find_version(project, first, "first")
    two = find_version(project, second, "second")
    renames, splits = recorded_mapping(project, one, two)
    diff = diff_codebooks(parse_stored(one), parse_stored(two), renames, splits)
    return {"from": version_info(one), "to": version_info(two), **diff.as_dict()}


def versions_in_use(project: Project) -> list[dict[str, Any]]:
    """The versions the project's codings were made under, with how many (people's codings,
    suggestions), and the codings made before the history began; for the report."""
    used = [
        {
            "label": f"{v.name} {v.version} (version {v.number}{', current' if v.current else ''})",
            "hash": v.hash[:12],
            "people_codings": v.people_codings,
            "suggestions": v.suggestions,
        }
        for v in stored_versions(project)  # not history(): the report need not parse every version
        if v.people_codings or v.suggestions or v.current
    ]
    people, suggestions = codings_before_history(project)
    if people or suggestions:
        used.append({"label": BEFORE_HISTORY, "hash": "", "people_codings": people, "suggestions": suggestions})
    return used
