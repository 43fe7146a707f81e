"""Reconciling coders into a consensus coder (issue 4).

Works on segments and on each coder's *set* of codes per segment (``qualkam.agreement.units``), over
the segments every listed coder has seen. Where the sets are identical the consensus coder
gets the same codings at once (``apply_agreements``); each disagreement is decided by a
person, in the terminal loop (``qualkam/cli/reconcile.py``) or through a sheet
(``write_sheet`` / ``read_sheet`` / ``apply_sheet``).

A decision gives the consensus coder an accepted coding for each code of the chosen set and
a *rejected* coding for every other code the coders gave there (or the consensus held).
The rejected rows matter: they record a "neither" decision, which would otherwise leave no
trace, and they are how a second run knows the segment is decided (resumable). Every write
goes through ``decisions.apply_decision`` with the decider as the audit line's actor and
the reason as the codings' memo and in the audit note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualkam.agreement.units import coding_data
from qualkam.analysis.disagreements import code_list, coder_column, expand_codes
from qualkam.coding.decisions import Action, apply_decision
from qualkam.errors import QualkamError
from qualkam.interchange.codings_import import ImportRowsError, RowProblem, read_table
from qualkam.interchange.sheets import fill_sheet, sheet_path, write_csv_sheet
from qualkam.render.files import write_workbook
from qualkam.store.project import Project
from qualkam.store.reads import code_tree
from qualkam.store.review import accepted_codes, segment_ids, segments_coded_by

DEFAULT_CONSENSUS = "consensus"
BOTH, NEITHER = "both", "neither"
AGREEMENT_NOTE = "reconcile: agreement"
SHEET_FIXED = ("segment", "source", "speaker", "text", "decision", "reason")
_SPLIT_IDS = re.compile(r"[;,\s]+")
_WHOLE = re.compile(r"^[+-]?\d+(\.0*)?$")


def _text(value: Any) -> str:
    """A cell as text: empty for nothing, ``12`` (not ``12.0``) for a whole number."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _segment_id(text: str) -> int | None:
    return int(float(text)) if _WHOLE.match(text) else None


@dataclass(frozen=True)
class Disagreement:
    """One segment where the coders' sets of codes differ."""

    segment_id: int
    source: str
    speaker: str
    text: str
    sets: tuple[frozenset[str], ...]  # one per coder, in the plan's order

    def union(self) -> frozenset[str]:
        return frozenset().union(*self.sets)


@dataclass(frozen=True)
class Choice:
    """What the decider chose: one coder's set, ``both`` (the union), ``neither``, or other codes."""

    kind: str  # "coder", "both", "neither" or "other"
    coder: str | None = None
    codes: frozenset[str] = frozenset()

    def label(self) -> str:
        if self.kind == "coder":
            return f"keep {self.coder}"
        if self.kind == "other":
            return f"other: {'; '.join(sorted(self.codes)) or 'no code'}"
        return self.kind

    def result(self, coders: Sequence[str], item: Disagreement) -> frozenset[str]:
        """The consensus set this choice gives on ``item``."""
        if self.kind == "coder":
            if self.coder is None or self.coder not in coders:
                raise QualkamError(f"{self.coder!r} is not one of the coders reconciled ({', '.join(coders)})")
            return item.sets[list(coders).index(self.coder)]
        if self.kind == BOTH:
            return item.union()
        if self.kind == NEITHER:
            return frozenset()
        return self.codes


@dataclass
class Plan:
    """What a reconciliation has to do, read from the store."""

    coders: list[str]
    codes: list[str]
    consensus: str
    agreements: list[tuple[int, frozenset[str]]]  # agreed, non-empty, not yet given to the consensus coder
    pending: list[Disagreement]  # disagreements still to decide, in reading order
    decided: list[Disagreement]  # disagreements the consensus coder already has
    agreed: int = 0  # segments where every coder gave the same set (empty sets included)
    missing: int = 0  # segments some coder has not seen: not reconciled
    labels: dict[str, str] = field(default_factory=dict)

    def disagreement(self, segment_id: int) -> Disagreement | None:
        """The disagreement on a segment, pending or decided (None: the coders agree or it is missing)."""
        return {item.segment_id: item for item in (*self.pending, *self.decided)}.get(segment_id)


@dataclass
class Applied:
    """What writing decisions did to the consensus coder's codings."""

    segments: int = 0
    codings: int = 0  # codings inserted or changed
    unchanged: int = 0


def check_names(coders: Sequence[str], consensus: str, decider: str | None = None) -> None:
    """The consensus coder must be a new layer, not one of the coders it reconciles. Errors
    name the argument at fault: ``consensus``, ``coders`` or ``decider``."""
    if not consensus or not consensus.strip():
        raise QualkamError("{argument} needs a name for the consensus coder (default: consensus)", argument="consensus")
    if consensus in coders:
        raise QualkamError(
            f"{{argument}} {consensus!r} is one of the coders being reconciled; name the consensus "
            "coder differently (default: consensus)",
            argument="consensus",
        )
    if len(set(coders)) < 2:
        raise QualkamError("reconcile needs at least two coders; name two or more in {argument}", argument="coders")
    if decider is not None and not decider.strip():
        raise QualkamError("{argument} needs the name of the person deciding, e.g. ana", argument="decider")


def plan_reconcile(
    project: Project, coders: Sequence[str], consensus: str = DEFAULT_CONSENSUS, codes: Sequence[str] | None = None
) -> Plan:
    """Sort the segments every coder has seen into agreements and disagreements, pending or decided."""
    coders = list(dict.fromkeys(c.strip() for c in coders if c.strip()))
    check_names(coders, consensus)
    data = coding_data(project, coders, expand_codes(project, codes), "segment")
    sets = data.sets()
    done = segments_coded_by(project, consensus, data.codes)
    plan = Plan(
        coders=data.coders,
        codes=data.codes,
        consensus=consensus,
        agreements=[],
        pending=[],
        decided=[],
        labels={code.id: code.label for code in code_tree(project).values()},
    )
    for u, row in enumerate(data.units.itertuples(index=False)):
        given = tuple(sets[c][u] for c in range(len(coders)))
        if any(g is None for g in given):
            plan.missing += 1
            continue
        segment = int(row.segment)
        if len(set(given)) == 1:
            plan.agreed += 1
            if given[0] and segment not in done:
                plan.agreements.append((segment, given[0]))
            continue
        item = Disagreement(
            segment,
            row.source,
            row.speaker if isinstance(row.speaker, str) else "",
            row.text,
            tuple(g or frozenset() for g in given),
        )
        (plan.decided if segment in done else plan.pending).append(item)
    return plan


def _write(
    project: Project,
    plan: Plan,
    segment_id: int,
    accept: frozenset[str],
    reject: frozenset[str],
    decider: str,
    note: str,
    memo: str | None,
    applied: Applied,
) -> None:
    for code in sorted(accept) + sorted(reject - accept):
        action = Action.accept if code in accept else Action.reject
        outcome = apply_decision(project, plan.consensus, segment_id, code, action, memo=memo, via=note, actor=decider)
        if outcome.change == "unchanged":
            applied.unchanged += 1
            continue
        applied.codings += 1
    applied.segments += 1


def apply_agreements(project: Project, plan: Plan, decider: str) -> Applied:
    """Give the consensus coder every agreed set, in one transaction."""
    check_names(plan.coders, plan.consensus, decider)
    applied = Applied()
    with project.transaction():
        for segment_id, codes in plan.agreements:
            _write(project, plan, segment_id, codes, frozenset(), decider.strip(), AGREEMENT_NOTE, None, applied)
    plan.agreements = []
    return applied


def _decide(
    project: Project,
    plan: Plan,
    item: Disagreement,
    choice: Choice,
    decider: str,
    reason: str | None,
    applied: Applied,
) -> frozenset[str]:
    result = choice.result(plan.coders, item)
    reason = (reason or "").strip() or None
    note = f"reconcile: {choice.label()}" + (f"; reason: {reason}" if reason else "")
    _write(
        project,
        plan,
        item.segment_id,
        result,
        # Codes the consensus coder already holds here among the reconciled ones: a changed mind rejects them.
        item.union() | accepted_codes(project, plan.consensus, item.segment_id, plan.codes),
        decider.strip(),
        note,
        reason,
        applied,
    )
    return result


def decide_disagreement(
    project: Project, plan: Plan, item: Disagreement, choice: Choice, decider: str, reason: str | None = None
) -> frozenset[str]:
    """One decision, saved at once in its own transaction; returns the consensus set."""
    check_names(plan.coders, plan.consensus, decider)
    applied = Applied()
    with project.transaction():
        result = _decide(project, plan, item, choice, decider, reason, applied)
    if item in plan.pending:
        plan.pending.remove(item)
        plan.decided.append(item)
    return result


def known_codes(project: Project) -> list[str]:
    """Every code id of the project, retired ones included."""
    return list(code_tree(project))


def other_choice(text: str, known: Sequence[str]) -> Choice:
    """Typed code ids (``a; b`` or ``a b``) as a choice; unknown ids are an error naming them."""
    ids = list(dict.fromkeys(i for i in _SPLIT_IDS.split(text.strip()) if i))
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise QualkamError(f"unknown code(s) {', '.join(unknown)}; see 'qualkam codebook show'")
    return Choice("other", codes=frozenset(ids))


def parse_decision(text: str, coders: Sequence[str], known: Sequence[str]) -> Choice:
    """A sheet's ``decision`` cell: a coder's name, ``both``, ``neither``, or code ids."""
    value = text.strip()
    by_name = {c.casefold(): c for c in coders}
    if value.casefold() in by_name:
        return Choice("coder", coder=by_name[value.casefold()])
    if value.casefold() in (BOTH, NEITHER):
        return Choice(value.casefold())
    try:
        return other_choice(value, known)
    except QualkamError:
        raise QualkamError(
            f"decision {value!r} is not a coder ({', '.join(coders)}), 'both', 'neither', "
            "or known code ids separated by ';'"
        ) from None


# -- the sheet ----------------------------------------------------------------------------
def sheet_columns(plan: Plan) -> list[str]:
    return [
        "segment",
        "source",
        "speaker",
        "text",
        *[coder_column(c, SHEET_FIXED) for c in plan.coders],
        "decision",
        "reason",
    ]


def sheet_rows(plan: Plan) -> list[dict[str, Any]]:
    """One row per pending disagreement, each coder's codes beside the text, decision and reason empty."""
    rows = []
    for item in plan.pending:
        row: dict[str, Any] = {
            "segment": item.segment_id,
            "source": item.source,
            "speaker": item.speaker,
            "text": item.text,
        }
        for coder, given in zip(plan.coders, item.sets, strict=True):
            row[coder_column(coder, SHEET_FIXED)] = code_list(given, plan.codes)
        row.update(decision="", reason="")
        rows.append(row)
    return rows


def write_sheet(plan: Plan, path: str | Path) -> Path:
    """The pending disagreements as .csv or .xlsx, written atomically."""
    path, suffix = sheet_path(path, "sheet_out", "reconcile.xlsx")
    columns, rows = sheet_columns(plan), sheet_rows(plan)
    if suffix == ".csv":
        write_csv_sheet(rows, columns, path)
        return path
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "disagreements"
    widths = {"segment": 9, "source": 22, "speaker": 16, "text": 70, "decision": 22, "reason": 40}
    fill_sheet(sheet, columns, rows, widths, ("decision", "reason"))
    return write_workbook(book, path)


@dataclass(frozen=True)
class SheetDecision:
    """One filled-in row of a reconcile sheet."""

    row: int
    item: Disagreement
    choice: Choice
    reason: str | None


def read_sheet(project: Project, plan: Plan, path: str | Path) -> tuple[list[SheetDecision], int]:
    """The decisions of a filled-in sheet and the number of rows left undecided.

    Every row is checked first; any bad row (unknown segment, a segment where the coders
    agree, a second row for a segment, a decision that is no coder, ``both``, ``neither``
    or known code ids) raises ``ImportRowsError`` listing them all, with their row numbers.
    """
    path = Path(path)
    header, body = read_table(path)
    problems = [
        RowProblem(1, f"missing column {name!r}; the sheet from {{argument}} has it")
        for name in ("segment", "decision")
        if name not in header
    ]
    if problems:
        raise _bad_rows(path, problems)
    known = known_codes(project)
    segments = segment_ids(project)
    where = {name: header.index(name) for name in ("segment", "decision", "reason") if name in header}
    get = lambda row, name: _text(row[where[name]]) if name in where and where[name] < len(row) else ""  # noqa: E731
    lookup = {item.segment_id: item for item in (*plan.pending, *plan.decided)}
    decisions: list[SheetDecision] = []
    first: dict[int, int] = {}
    undecided = 0
    for number, row in body:
        raw, decision, reason = get(row, "segment"), get(row, "decision"), get(row, "reason")
        if not decision:
            if reason:
                problems.append(
                    RowProblem(
                        number,
                        "a reason but no decision; write a coder's name, both, neither or code ids in 'decision'",
                    )
                )
            else:
                undecided += 1
            continue
        segment = _segment_id(raw)
        if segment is None:
            problems.append(
                RowProblem(number, f"segment {raw!r} is not a segment id" if raw else "the segment id is empty")
            )
            continue
        item = lookup.get(segment)
        if item is None:
            problems.append(
                RowProblem(
                    number,
                    (
                        f"segment {segment}: the coders {', '.join(plan.coders)} do not disagree here (or one has not "
                        "seen its source); nothing to decide"
                        if segment in segments
                        else f"unknown segment {segment}: the sheet is from another project or its source was "
                        "re-coded; write a new sheet with {argument}"
                    ),
                )
            )
            continue
        if segment in first:
            problems.append(RowProblem(number, f"segment {segment} is also on row {first[segment]}; keep one row"))
            continue
        first[segment] = number
        try:
            choice = parse_decision(decision, plan.coders, known)
        except QualkamError as exc:
            problems.append(RowProblem(number, str(exc)))
            continue
        decisions.append(SheetDecision(number, item, choice, reason or None))
    if problems:
        raise _bad_rows(path, problems)
    return decisions, undecided


def _bad_rows(path: Path, problems: list[RowProblem]) -> ImportRowsError:
    # Some reasons point to the sheet ``write_sheet`` makes: the CLI's --sheet-out.
    error = ImportRowsError(path, problems)
    error.argument = "sheet_out"
    return error


def apply_sheet(project: Project, plan: Plan, decisions: Sequence[SheetDecision], decider: str) -> Applied:
    """Every decision of a sheet in one transaction: all rows or none."""
    check_names(plan.coders, plan.consensus, decider)
    applied = Applied()
    with project.transaction():
        for decision in decisions:
            _decide(project, plan, decision.item, decision.choice, decider, decision.reason, applied)
    for decision in decisions:
        if decision.item in plan.pending:
            plan.pending.remove(decision.item)
            plan.decided.append(decision.item)
    return applied


# -- a reconcile session: the loop of the ``reconcile`` command, without a terminal ----------
OTHER_KEY = "o"  # other codes: the decider types their ids
SKIP_KEY, QUIT_KEY = "s", "q"


class ReconcileSession:
    """A decider walking the pending disagreements of a plan once, in reading order: the
    current one, a choice for it (each saved at once, in its own transaction), skip, quit.

    Keys: ``1``..``n`` (or ``a`` / ``b``) keep that coder's codes, ``u`` both, ``n`` neither,
    ``o`` other codes (``choice("o", codes="a; b")``). A notebook or a test calls
    ``decide(Choice(...))`` directly; the ``reconcile`` command reads keys and shows ``current``.
    """

    def __init__(self, project: Project, plan: Plan, decider: str) -> None:
        self.project = project
        self.plan = plan
        self.decider = decider
        self.items = list(plan.pending)  # the disagreements to ask about, fixed when the session starts
        self.index = 0
        self.decided = 0
        self.skipped = 0
        self._known = known_codes(project)
        self._quit = False

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def finished(self) -> bool:
        return self._quit or self.index >= len(self.items)

    @property
    def current(self) -> Disagreement | None:
        """The disagreement to decide now (None: the session is over)."""
        return None if self.finished else self.items[self.index]

    @property
    def left(self) -> int:
        """Disagreements of the plan still to decide (skipped ones included)."""
        return len(self.plan.pending)

    def choice(self, key: str, codes: str | None = None) -> Choice | None:
        """The choice a key stands for (None: not a choice key). ``o`` takes ``codes``, the
        typed code ids; an unknown id is a QualkamError naming it."""
        coders = self.plan.coders
        if key.isdigit() and 1 <= int(key) <= len(coders):
            return Choice("coder", coder=coders[int(key) - 1])
        if key in ("a", "b"):
            return Choice("coder", coder=coders["ab".index(key)])
        if key == "u":
            return Choice(BOTH)
        if key == "n":
            return Choice(NEITHER)
        if key == OTHER_KEY:
            return other_choice(codes or "", self._known)
        return None

    def decide(self, choice: Choice, reason: str | None = None) -> frozenset[str]:
        """Decide the current disagreement; returns the consensus set and moves on. On a
        QualkamError nothing is written and the session stays where it was."""
        item = self.current
        if item is None:
            raise QualkamError("the reconciliation is over; nothing left to decide in this session")
        result = decide_disagreement(self.project, self.plan, item, choice, self.decider, reason)
        self.decided += 1
        self.index += 1
        return result

    def skip(self) -> None:
        """Leave the current disagreement undecided (a later session asks again)."""
        if self.current is not None:
            self.skipped += 1
            self.index += 1

    def quit(self) -> None:
        self._quit = True
