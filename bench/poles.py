"""Benchmark of a codebook's poles on pole passages (issue 15): does the right pole come up?

The issue's target: on the KAM study's own passages the default codebook finds the right pole
for >= 60% of pole passages, gives only the wrong pole for at most 20%, and shows the balance
by phase the study reports (formal dominates KAM implementation and formal KAM, the
post-bureaucratic pole the last phase). The graders hold real passages; we hold invented ones
(``bench/kam_poles/dev.yaml``, which the codebook's authors may read, and the held-out
``bench/kam_poles/test.yaml``, which they do not).

A passages file (YAML: a list of mappings, or ``passages:`` holding one; or CSV with a
header) has one row per passage with the columns ``id``, ``text``, ``phase``, ``pole``
(a value of the code attribute, or ``none`` for a passage with no pole) and, optional,
``role``, ``source_type`` and ``dimension`` (column names in any case, ``Source type`` too;
other columns are named in a warning and not read; the phase is a phase id or label of the
codebook). Each passage goes through qualkam's real path:
one source per passage (its phase, its type, one speaker turn with its role) in a temporary
project, ``code_folder`` with rule suggestions (as ``qualkam code`` makes them), then the
suggestions read per source through ``qualkam.open``. The pole of a suggestion is its
code's attribute (``--attribute``, default ``pole``).

Per passage with a pole: coded (any suggestion), right (a suggestion of the expected pole,
with or without the other), wrong only (pole suggestions, none of the expected pole), both
(the expected pole and another). Per passage without one: a false positive when it gets a
pole suggestion. The balance by phase is the ``--share`` value's share (default ``formal``)
of the pole-coded passages of each phase (a passage counts once per pole value, as the
report's balance counts segments), beside the same share among the passages' expected poles.

``--project PATH [--layer suggestions|coder:NAME|...]`` prints the balance by phase of an
existing project (the sample project coded from ``sample_transcripts/``, or real data), from
the same matrix the report draws (``build_matrix``, columns ``attr:pole``).

Not a test: ``python bench/poles.py`` (the test set, a few seconds), ``--passages
bench/kam_poles/dev.yaml``, ``--misses`` to list the passages without the right pole (their
text too: do not use it on a held-out set whose text its readers must not see), ``--keep DIR``
to keep the passages' sources and project, ``--json`` for machine reading.
Exit 0 when the targets are met, 1 when one is missed, 2 on bad input.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without installing

from qualkam.errors import QualkamError, fill  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PASSAGES = Path(__file__).with_name("kam_poles") / "test.yaml"
FIELDS = ("id", "text", "phase", "role", "source_type", "pole", "dimension")
REQUIRED = ("id", "text", "phase", "pole")
NONE = "none"  # a passage (or dimension) without a pole
RIGHT_TARGET = 0.60  # share of pole passages given the right pole, at least
WRONG_TARGET = 0.20  # share of pole passages given only the wrong pole, at most
# The study's balance: the share value dominates these phases ("above") and not the last ("below").
CLAIM = {"kam_implementation": "above", "formal_kam": "above", "post_bureaucratic_kam": "below"}
SPEAKER = "P"  # the one speaker label of a passage's source


class PassagesError(QualkamError):
    """A passages file that cannot be used; the message names the file and row."""


@dataclass(frozen=True)
class Passage:
    """One passage: its text, where it sits (phase, role, source type) and the pole it shows."""

    id: str
    text: str
    phase: str
    pole: str = NONE
    role: str | None = None
    source_type: str | None = None
    dimension: str = NONE

    @property
    def has_pole(self) -> bool:
        return self.pole != NONE


# -- reading passages ----------------------------------------------------------------------------
def read_passages(path: str | Path, notes: list[str] | None = None) -> list[Passage]:
    """The passages of a YAML or CSV file (by its suffix; YAML otherwise). Raises PassagesError
    with one line naming the file and the row at fault. Column names are read in any case, with
    spaces for '_' (``Source type``); other columns are not read, and ``notes`` gets a line
    naming them."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PassagesError(f"{path}: cannot read it ({exc.__class__.__name__}: {exc})", argument="passages") from None
    return parse_passages(text, "csv" if path.suffix.lower() == ".csv" else "yaml", str(path), notes)


def parse_passages(text: str, kind: str, where: str = "passages", notes: list[str] | None = None) -> list[Passage]:
    """Passages from the text of a YAML or CSV (``kind``) file; ``where`` names it in errors."""
    rows: list[tuple[str, Any]]
    if kind == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames:
            raise PassagesError(f"{where}: no header row; the columns are {', '.join(FIELDS)}", argument="passages")
        missing = [c for c in REQUIRED if c not in {_column(f) for f in reader.fieldnames}]
        if missing:
            raise PassagesError(
                f"{where}: the header lacks {', '.join(missing)} (columns: {', '.join(FIELDS)})", argument="passages"
            )
        try:
            rows = [(f"line {reader.line_num}", row) for row in reader]
        except csv.Error as exc:
            raise PassagesError(f"{where}: line {reader.line_num}: {exc}", argument="passages") from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f"line {mark.line + 1}: " if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise PassagesError(f"{where}: {at}not valid YAML ({problem})", argument="passages") from None
        if isinstance(data, dict) and set(data) == {"passages"}:
            data = data["passages"]
        if not isinstance(data, list):
            raise PassagesError(
                f"{where}: must be a list of passages (mappings with {', '.join(REQUIRED)})", argument="passages"
            )
        rows = [(f"passage {i}", row) for i, row in enumerate(data, 1)]
    if not rows:
        raise PassagesError(f"{where}: no passages", argument="passages")
    passages: list[Passage] = []
    seen: set[str] = set()
    ignored: dict[str, None] = {}
    for at, row in rows:
        passage = _passage(row, f"{where}: {at}", ignored)
        if passage.id in seen:
            raise PassagesError(f"{where}: {at}: id {passage.id!r} is used twice", argument="passages")
        seen.add(passage.id)
        passages.append(passage)
    if ignored and notes is not None:
        notes.append(f"{where}: column(s) not read: {', '.join(map(repr, ignored))} (columns: {', '.join(FIELDS)})")
    return passages


def _column(name: object) -> str:
    """A column name as FIELDS spell it: ``Source type`` is ``source_type``."""
    return "_".join(str(name).casefold().split())


def _passage(row: Any, where: str, ignored: dict[str, None]) -> Passage:
    if not isinstance(row, Mapping):
        raise PassagesError(f"{where}: must be a mapping with {', '.join(REQUIRED)}", argument="passages")
    if None in row:  # csv.DictReader's key for the cells past the header's last column
        raise PassagesError(f"{where}: more cells than the header has columns", argument="passages")
    given: dict[str, Any] = {}
    for name, value in row.items():
        key = _column(name)
        if key not in FIELDS:
            ignored[str(name)] = None
        elif key in given:
            raise PassagesError(f"{where}: column {key!r} is given twice ({name!r})", argument="passages")
        else:
            given[key] = value
    values: dict[str, str | None] = {}
    for key in FIELDS:
        value = given.get(key)
        if value is None:
            values[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float | dt.date):
            raise PassagesError(f"{where}: {key} must be text, not {type(value).__name__}", argument="passages")
        value = " ".join(str(value).split())  # one line: a passage is one speaker turn
        values[key] = value or None
    for key in REQUIRED:
        if values[key] is None and key != "pole":
            raise PassagesError(f"{where}: {key} is missing or empty", argument="passages")
    if values["pole"] is None:
        raise PassagesError(
            f"{where}: pole is missing or empty (write '{NONE}' for a passage without one)", argument="passages"
        )
    return Passage(
        id=str(values["id"]),
        text=str(values["text"]),
        phase=str(values["phase"]),
        pole=NONE if str(values["pole"]).casefold() == NONE else str(values["pole"]),
        role=values["role"],
        source_type=values["source_type"],
        dimension=(values["dimension"] or NONE),
    )


def write_passages(passages: Iterable[Passage], path: str | Path) -> None:
    """Write passages as YAML or CSV (by the suffix): what ``read_passages`` reads back."""
    path = Path(path)
    rows = [{k: v for k, v in asdict(p).items() if v is not None} for p in passages]
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text(yaml.safe_dump(rows, sort_keys=False, allow_unicode=True), encoding="utf-8")


# -- coding them ---------------------------------------------------------------------------------
def check_against(
    passages: Sequence[Passage], phases: Mapping[str, str], values: Sequence[str], where: str
) -> list[Passage]:
    """The passages with each phase given as the codebook's phase id (a label is accepted), or a
    PassagesError naming the first passage whose phase or pole the codebook does not know."""
    folded = {k.casefold(): v for k, v in phases.items()}
    out = []
    for p in passages:
        phase = folded.get(p.phase.casefold())
        if phase is None:
            known = ", ".join(dict.fromkeys(phases.values()))
            raise PassagesError(
                f"{where}: {p.id}: phase {p.phase!r} is not a phase of the codebook ({known})", argument="passages"
            )
        if p.has_pole and p.pole not in values:
            raise PassagesError(
                f"{where}: {p.id}: pole {p.pole!r} is not a value of the codebook's attribute "
                f"({', '.join([*values, NONE])})",
                argument="passages",
            )
        out.append(Passage(p.id, p.text, phase, p.pole, p.role, p.source_type, p.dimension))
    return out


def _source_text(p: Passage) -> str:
    """A passage as a source: front matter with its phase, type and speaker role, one turn."""
    meta: dict[str, Any] = {"id": p.id, "phase": p.phase}
    if p.source_type:
        meta["type"] = p.source_type
    if p.role:
        meta["participants"] = {SPEAKER: {"role": p.role}}
    return f"---\n{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)}---\n{SPEAKER}: {p.text}\n"


@dataclass
class Coded:
    """What the codebook suggested for each passage, and the codebook's pole values."""

    codebook: str
    attribute: str
    values: list[str]
    codes: dict[str, list[str]]  # passage id -> suggested codes, in codebook order
    poles: dict[str, set[str]]  # passage id -> pole values of those codes
    passages: list[Passage]
    phases: list[str] = field(default_factory=list)  # the codebook's phase ids, in its order
    notes: list[str] = field(default_factory=list)  # warnings of the run, one line per passage


def code_passages(
    passages: Sequence[Passage],
    codebook: str | Path = "kam",
    attribute: str = "pole",
    where: str = "passages",
    keep: str | Path | None = None,
) -> Coded:
    """Code every passage with ``codebook`` in a fresh project, one source each, and read back
    its suggestions. The sources and the project are written in a temporary folder, or in
    ``keep`` (a new or empty folder, kept for a look with ``qualkam excerpts`` and the like)."""
    import qualkam
    from qualkam.coding.codebook import load_codebook
    from qualkam.coding.run import code_folder
    from qualkam.store.project import Project

    book = load_codebook(str(codebook))
    values = list(dict.fromkeys(str(c.attributes[attribute]) for c in book.codes.values() if attribute in c.attributes))
    if not values:
        known = ", ".join(book.attribute_names()) or "none"
        raise QualkamError(
            f"the codebook {book.describe()} has no code attribute {attribute!r} (it has: {known})",
            argument="attribute",
        )
    phases = {p.id: p.id for p in book.phases} | {p.label: p.id for p in book.phases}
    passages = check_against(passages, phases, values, where)
    pole_of = {c.id: str(c.attributes[attribute]) for c in book.codes.values() if attribute in c.attributes}
    order = {code: i for i, code in enumerate(book.codes)}
    if keep is not None and Path(keep).exists() and (not Path(keep).is_dir() or any(Path(keep).iterdir())):
        raise QualkamError(f"{keep}: must be a new or empty folder", argument="keep")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(keep) if keep is not None else Path(scratch)
        folder = tmp / "passages"
        folder.mkdir(parents=True)
        names = {}
        for i, p in enumerate(passages):
            name = f"p{i:05d}.txt"  # ids need not be file names
            names[p.id] = name
            (folder / name).write_text(_source_text(p), encoding="utf-8")
        with Project.open(tmp / "poles.db", create=True) as store:
            report = code_folder(folder, book, store, out_dir=None, suggest="rules", jobs=1)
        notes = []
        id_of = {name: pid for pid, name in names.items()}
        for problem in report.problems:  # said of the passage, not of its temporary file
            passage = id_of.get(Path(problem.path).name, problem.path)
            said = f"{where}: {passage}: {fill(problem.reason, problem.arguments)}"
            if problem.skipped:
                raise PassagesError(said, argument="passages")
            notes.append(said)
        with qualkam.open(tmp / "poles.db") as view:
            frame = view.codings("suggestions")
            stored = set(view.segments()["source"].astype(str))
    lost = [p.id for p in passages if p.id not in stored]
    if lost:  # never count a passage as uncoded because its source went astray
        raise PassagesError(
            f"{where}: {lost[0]}: did not become a source of its own with one segment", argument="passages"
        )
    by_source: dict[str, set[str]] = {}
    for source, code in zip(frame["source"], frame["code"], strict=True):
        by_source.setdefault(str(source), set()).add(str(code))
    codes = {p.id: sorted(by_source.get(p.id, set()), key=lambda c: order.get(c, len(order))) for p in passages}
    poles = {pid: {pole_of[c] for c in cs if c in pole_of} for pid, cs in codes.items()}
    return Coded(book.describe(), attribute, values, codes, poles, list(passages), [p.id for p in book.phases], notes)


# -- the figures ---------------------------------------------------------------------------------
@dataclass
class Tally:
    """Counts over a group of passages with a pole."""

    passages: int = 0
    coded: int = 0
    right: int = 0
    wrong_only: int = 0
    both: int = 0
    no_pole: int = 0  # coded, but with no pole at all

    def add(self, outcome: str, coded: bool) -> None:
        self.passages += 1
        self.coded += coded
        if outcome == "right":
            self.right += 1
        elif outcome == "both":
            self.right += 1
            self.both += 1
        elif outcome == "wrong_only":
            self.wrong_only += 1
        elif coded:
            self.no_pole += 1

    def share(self, count: int) -> float | None:
        return count / self.passages if self.passages else None


def outcome(expected: str, poles: set[str]) -> str:
    """right (only the expected pole), both (it and another), wrong_only, or none (no pole)."""
    if not poles:
        return "none"
    if expected in poles:
        return "both" if len(poles) > 1 else "right"
    return "wrong_only"


@dataclass
class Balance:
    """One phase: the share value's part of the pole-coded passages, suggested and expected."""

    phase: str
    suggested: dict[str, int]
    expected: dict[str, int]
    share: str
    claim: str | None  # "above", "below" or None (the study says nothing of this phase)

    def shares(self) -> tuple[float | None, float | None]:
        return _share(self.suggested, self.share), _share(self.expected, self.share)

    @property
    def met(self) -> bool | None:
        if self.claim is None:
            return None
        return _meets(_share(self.suggested, self.share), self.claim)


def _share(counts: Mapping[str, int], value: str) -> float | None:
    total = sum(counts.values())
    return counts.get(value, 0) / total if total else None


def _meets(share: float | None, claim: str) -> bool:
    if share is None:
        return False  # no pole coded in the phase: no evidence of the balance
    return share > 0.5 if claim == "above" else share < 0.5


@dataclass
class Results:
    codebook: str
    passages_file: str
    attribute: str
    share: str
    total: Tally = field(default_factory=Tally)
    by_pole: dict[str, Tally] = field(default_factory=dict)
    by_dimension: dict[str, Tally] = field(default_factory=dict)
    by_phase: dict[str, Tally] = field(default_factory=dict)
    balance: list[Balance] = field(default_factory=list)
    no_pole_passages: int = 0
    no_pole_coded: int = 0
    false_positives: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)

    def targets(self) -> dict[str, bool]:
        right, wrong = self.total.share(self.total.right), self.total.share(self.total.wrong_only)
        claimed = [b.met for b in self.balance if b.met is not None]
        return {
            "right": right is not None and right >= RIGHT_TARGET,
            "wrong_only": wrong is not None and wrong <= WRONG_TARGET,
            "balance": bool(claimed) and all(claimed),
        }

    def to_json(self) -> dict[str, Any]:
        def tally(t: Tally) -> dict[str, Any]:
            return {**asdict(t), "right_share": t.share(t.right), "wrong_only_share": t.share(t.wrong_only)}

        return {
            "codebook": self.codebook,
            "passages": self.passages_file,
            "attribute": self.attribute,
            "total": tally(self.total),
            "by_pole": {k: tally(v) for k, v in self.by_pole.items()},
            "by_dimension": {k: tally(v) for k, v in self.by_dimension.items()},
            "by_phase": {k: tally(v) for k, v in self.by_phase.items()},
            "balance": [_balance_json(b) for b in self.balance],
            "no_pole": {
                "passages": self.no_pole_passages,
                "coded": self.no_pole_coded,
                "false_positives": self.false_positives,
            },
            "targets": self.targets(),
            "outcomes": self.outcomes,
        }


def _balance_json(b: Balance) -> dict[str, Any]:
    suggested, expected = b.shares()
    return {
        "phase": b.phase,
        "suggested": b.suggested,
        "expected": b.expected,
        f"{b.share}_share": suggested,
        f"expected_{b.share}_share": expected,
        "claim": b.claim,
        "met": b.met,
    }


def evaluate(coded: Coded, share: str = "formal", passages_file: str = "") -> Results:
    """The counts of the module docstring from a coding of the passages."""
    if share not in coded.values:
        raise QualkamError(
            f"{share!r} is not a value of the attribute {coded.attribute!r} ({', '.join(coded.values)})",
            argument="share",
        )
    results = Results(coded.codebook, passages_file, coded.attribute, share)
    # every phase of the passages, and each phase the study's claim names even without passages:
    # a claim with no evidence is missed, not skipped
    used = {p.phase for p in coded.passages} | (set(CLAIM) & set(coded.phases))
    phases = [ph for ph in dict.fromkeys([*coded.phases, *(p.phase for p in coded.passages)]) if ph in used]
    suggested: dict[str, dict[str, int]] = {ph: {} for ph in phases}
    expected: dict[str, dict[str, int]] = {ph: {} for ph in phases}
    for p in coded.passages:
        poles, any_code = coded.poles[p.id], bool(coded.codes[p.id])
        for value in poles:
            suggested[p.phase][value] = suggested[p.phase].get(value, 0) + 1
        if not p.has_pole:
            results.no_pole_passages += 1
            results.no_pole_coded += any_code
            results.false_positives += bool(poles)
            results.outcomes[p.id] = "false_positive" if poles else ("coded" if any_code else "uncoded")
            continue
        expected[p.phase][p.pole] = expected[p.phase].get(p.pole, 0) + 1
        got = outcome(p.pole, poles)
        results.outcomes[p.id] = got if got != "none" else ("no_pole" if any_code else "uncoded")
        for tally in (
            results.total,
            results.by_pole.setdefault(p.pole, Tally()),
            results.by_dimension.setdefault(p.dimension, Tally()),
            results.by_phase.setdefault(p.phase, Tally()),
        ):
            tally.add(got, any_code)
    results.by_phase = {ph: results.by_phase[ph] for ph in phases if ph in results.by_phase}
    results.by_pole = {v: results.by_pole[v] for v in coded.values if v in results.by_pole}
    results.balance = [Balance(ph, suggested[ph], expected[ph], share, CLAIM.get(ph)) for ph in phases]
    return results


# -- a project's balance -------------------------------------------------------------------------
def project_balance(
    path: str | Path, layer: str = "suggestions", attribute: str = "pole", share: str = "formal"
) -> list[Balance]:
    """The balance by phase of an existing project's codings in ``layer``: coded segments per
    value of the code attribute, as the report's balance counts them."""
    from qualkam.analysis.matrix import build_matrix
    from qualkam.store.project import Project

    path = Path(path)
    if not path.is_file():
        raise QualkamError(f"{path}: no such project file", argument="project")
    with Project.open(path) as store:
        matrix = build_matrix(store, rows="phase", cols=f"attr:{attribute}", layer=layer)
    if share not in matrix.columns:
        raise QualkamError(
            f"no coding in layer {layer!r} has {attribute} {share!r} "
            f"(values coded: {', '.join(map(str, matrix.columns)) or 'none'})",
            argument="share",
        )
    out = []
    for phase, row in matrix.iterrows():
        counts = {str(k): int(v) for k, v in row.items() if int(v)}
        out.append(Balance(str(phase), counts, {}, share, CLAIM.get(str(phase))))
    return out


# -- printing ------------------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _tally_rows(title: str, groups: Mapping[str, Tally]) -> list[str]:
    lines = [
        f"{title:<26} {'passages':>8} {'coded':>6} {'right':>6} {'right%':>7} {'wrong only':>10} {'wrong%':>7} "
        f"{'both':>5} {'no pole':>7}"
    ]
    for name, t in groups.items():
        lines.append(
            f"{name:<26} {t.passages:>8} {t.coded:>6} {t.right:>6} {_pct(t.share(t.right)):>7} {t.wrong_only:>10} "
            f"{_pct(t.share(t.wrong_only)):>7} {t.both:>5} {t.no_pole:>7}"
        )
    return lines


def balance_lines(balance: Sequence[Balance], share: str, with_expected: bool = True) -> list[str]:
    head = f"{'phase':<24} {'pole counts':>11} {share + ' share':>14}"
    if with_expected:
        head += f" {'expected':>9}"
    lines = [head + "  study's claim"]
    for b in balance:
        got, want = b.shares()
        line = f"{b.phase:<24} {sum(b.suggested.values()):>11} {_pct(got):>14}"
        if with_expected:
            line += f" {_pct(want):>9}"
        if b.claim is not None:
            line += f"  {share} {'> 50%' if b.claim == 'above' else '< 50%'}: {'met' if b.met else 'missed'}"
        lines.append(line)
    return lines


def report_lines(r: Results, misses: Sequence[str] = ()) -> list[str]:
    t = r.total
    lines = [
        f"codebook {r.codebook} · passages {r.passages_file} · attribute {r.attribute}",
        "",
        f"pole passages {t.passages}: coded {t.coded} ({_pct(t.share(t.coded))}), right pole {t.right} "
        f"({_pct(t.share(t.right))}, target >= {RIGHT_TARGET:.0%}), wrong pole only {t.wrong_only} "
        f"({_pct(t.share(t.wrong_only))}, target <= {WRONG_TARGET:.0%}), both poles {t.both}, "
        f"coded without a pole {t.no_pole}",
        f"passages without a pole {r.no_pole_passages}: coded {r.no_pole_coded}, given a pole (false positives) "
        f"{r.false_positives}",
        "",
        *_tally_rows("expected pole", r.by_pole),
        "",
        *_tally_rows("dimension", dict(sorted(r.by_dimension.items()))),
        "",
        *_tally_rows("phase", r.by_phase),
        "",
        "balance by phase (suggested pole values per passage; expected: the passages' own poles)",
        *balance_lines(r.balance, r.share),
        "",
    ]
    targets = r.targets()
    lines.append("targets: " + ", ".join(f"{name} {'met' if ok else 'missed'}" for name, ok in targets.items()))
    lines.extend(misses)
    return lines


def miss_lines(coded: Coded, results: Results) -> list[str]:
    """Passages without the right pole, and passages without a pole that got one, with their text."""
    out = ["", "misses (id, expected pole, dimension, outcome, suggested codes, text):"]
    for p in coded.passages:
        got = results.outcomes[p.id]
        if got in ("right", "both", "coded", "uncoded") and not (got == "uncoded" and p.has_pole):
            continue
        codes = ", ".join(coded.codes[p.id]) or "-"
        out.append(f"  {p.id} [{p.pole} / {p.dimension}] {got}: {codes}\n      {p.text}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=Path, default=PASSAGES, help="YAML or CSV of passages (default: test set)")
    parser.add_argument("--codebook", default="kam", help="codebook path or built-in name (default: kam)")
    parser.add_argument("--attribute", default="pole", help="the code attribute that names a pole (default: pole)")
    parser.add_argument("--share", default="formal", help="the pole whose share the balance shows (default: formal)")
    parser.add_argument("--project", type=Path, help="print the balance by phase of this project instead")
    parser.add_argument("--layer", default="suggestions", help="with --project: suggestions, coder:NAME, ...")
    parser.add_argument("--keep", type=Path, help="write the passages' sources and project here (new folder)")
    parser.add_argument("--misses", action="store_true", help="list passages without the right pole, with text")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)
    try:
        if args.project is not None:
            balance = project_balance(args.project, args.layer, args.attribute, args.share)
            claimed = [b.met for b in balance if b.met is not None]
            met = bool(claimed) and all(claimed)
            if args.json:
                print(
                    json.dumps(
                        {
                            "project": str(args.project),
                            "layer": args.layer,
                            "attribute": args.attribute,
                            "balance": [_balance_json(b) for b in balance],
                            "met": met,
                        },
                        indent=2,
                    )
                )
            else:
                print(f"project {args.project} · layer {args.layer} · attribute {args.attribute}")
                print("balance by phase (coded segments per pole value)")
                print("\n".join(balance_lines(balance, args.share, with_expected=False)))
            return 0 if met else 1
        notes: list[str] = []
        passages = read_passages(args.passages, notes)
        for note in notes:
            print(f"warning: {note}", file=sys.stderr)
        coded = code_passages(passages, args.codebook, args.attribute, where=str(args.passages), keep=args.keep)
        for note in coded.notes:
            print(f"warning: {note}", file=sys.stderr)
        shown = args.passages.resolve()
        results = evaluate(
            coded, args.share, str(shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else args.passages)
        )
    except QualkamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(results.to_json(), indent=2))
    else:
        print("\n".join(report_lines(results, miss_lines(coded, results) if args.misses else ())))
    return 0 if all(results.targets().values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
