"""The review queue: which suggestions a coder still has to decide, in what order, and the
context to show with each. The terminal loop lives in qualkam/cli/review.py; this module
holds no I/O, so a notebook or a test can walk the same queue.

An item is one machine suggestion on one segment (or, with ``status="all"``, any segment
that has a suggestion or a coding by this coder). Progress is saved per coder and per queue
(its filters), so quitting and resuming continues after the last item handled.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qualkam.choices import check_choice, check_known, unknown
from qualkam.errors import QualkamError
from qualkam.store.audit import now
from qualkam.store.project import Project

STATUSES = ("suggested", "accepted", "rejected", "all")
ORDERS = ("reading", "uncertain")


def _many(value: str | Sequence[str] | None) -> list[str]:
    """A filter's values: one name, several (repeated options) or none."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(dict.fromkeys(value))


def _one_key(value: str | Sequence[str] | None) -> Any:
    names = _many(value)
    return None if not names else names[0] if len(names) == 1 else names


@dataclass(frozen=True)
class Filters:
    """What part of the project a review covers: each of code, source, phase and speaker is
    one name, a sequence of names (any of them) or None."""

    code: str | Sequence[str] | None = None
    source: str | Sequence[str] | None = None
    phase: str | Sequence[str] | None = None
    status: str = "suggested"
    order: str = "reading"
    speaker: str | Sequence[str] | None = None

    def key(self) -> str:
        # The reading order keeps its old key, so progress saved before --order existed still resumes;
        # one value per filter keeps the key it had before filters could be repeated.
        base = [_one_key(self.code), _one_key(self.source), _one_key(self.phase), self.status]
        if _many(self.speaker):
            base.append({"speaker": _many(self.speaker)})
        return json.dumps(base if self.order == "reading" else [*base, self.order])


@dataclass(frozen=True)
class Item:
    """One decision to make: a segment, and the suggested code (None: the segment as a whole)."""

    segment_id: int
    code_id: str | None


@dataclass
class ItemView:
    """Everything the reviewer sees for one item."""

    item: Item
    source: str
    source_type: str | None
    phase: str | None
    speaker: str | None
    role: str | None
    time_start: str | None
    text: str
    start: int
    before: str | None
    after: str | None
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    decisions: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


def _descendants(project: Project, code: str) -> list[str]:
    rows = project.query("SELECT id, parent FROM codes")
    if code not in {r["id"] for r in rows}:
        raise unknown("code", code, [r["id"] for r in rows], "--code")
    found, frontier = [code], [code]
    while frontier:
        frontier = [r["id"] for r in rows if r["parent"] in frontier]
        found += frontier
    return found


def build_queue(project: Project, coder: str, filters: Filters) -> list[Item]:
    """The items of this review in reading order (source, then position in it), or with
    ``order="uncertain"`` the model's least sure suggestions first (see ``uncertain_first``)."""
    check_choice("--status", filters.status, STATUSES)
    check_choice("--order", filters.order, ORDERS)
    where, params = ["1 = 1"], []
    for column, kind, option, values in (
        ("s.source_id", "source", "--source", filters.source),
        ("src.phase", "phase", "--phase", filters.phase),
        ("s.speaker", "speaker", "--speaker", filters.speaker),
    ):
        names = check_known(project, kind, _many(values), option)
        if names:
            where.append(f"{column} IN ({','.join('?' * len(names))})")
            params += names
    code_clause = ""
    if _many(filters.code):
        codes = list(dict.fromkeys(c for code in _many(filters.code) for c in _descendants(project, code)))
        code_clause = f" AND c.code_id IN ({','.join('?' * len(codes))})"
        params_codes = codes
    else:
        params_codes = []
    if filters.status == "suggested":
        sql = f"""SELECT DISTINCT s.id, c.code_id, src.id AS src, s.position FROM codings c
                  JOIN segments s ON s.id = c.segment_id JOIN sources src ON src.id = s.source_id
                  WHERE c.coder IS NULL {code_clause} AND {" AND ".join(where)}
                  AND NOT EXISTS (SELECT 1 FROM codings d WHERE d.segment_id = c.segment_id
                                  AND d.code_id = c.code_id AND d.coder = ?)
                  ORDER BY src.id, s.position, c.code_id"""
        rows = project.query(sql, (*params_codes, *params, coder))
    elif filters.status in ("accepted", "rejected"):
        sql = f"""SELECT DISTINCT s.id, c.code_id, src.id AS src, s.position FROM codings c
                  JOIN segments s ON s.id = c.segment_id JOIN sources src ON src.id = s.source_id
                  WHERE c.coder = ? AND c.status = ? {code_clause} AND {" AND ".join(where)}
                  ORDER BY src.id, s.position, c.code_id"""
        rows = project.query(sql, (coder, filters.status, *params_codes, *params))
    else:
        sql = f"""SELECT DISTINCT s.id, c.code_id, src.id AS src, s.position FROM codings c
                  JOIN segments s ON s.id = c.segment_id JOIN sources src ON src.id = s.source_id
                  WHERE (c.coder IS NULL OR c.coder = ?) {code_clause} AND {" AND ".join(where)}
                  ORDER BY src.id, s.position, c.code_id"""
        rows = project.query(sql, (coder, *params_codes, *params))
    items = [Item(r[0], r[1]) for r in rows]
    return uncertain_first(project, items) if filters.order == "uncertain" else items


def uncertain_first(project: Project, items: list[Item]) -> list[Item]:
    """Model suggestions whose calibrated score is closest to their code's threshold (the
    newest model's; 0.5 for a code it does not know) first, where a decision teaches the
    most; then every other item in reading order. Closeness is measured in log-odds, so
    0.02 against a threshold of 0.01 counts as far as 0.67 against 0.5."""
    from qualkam.coding.learn import DEFAULT_THRESHOLD, latest_thresholds

    def logit(p: float) -> float:
        p = min(max(p, 1e-6), 1 - 1e-6)
        return math.log(p / (1 - p))

    thresholds = latest_thresholds(project)
    scores = {
        (r[0], r[1]): r[2]
        for r in project.query(
            "SELECT segment_id, code_id, MAX(score) FROM codings WHERE coder IS NULL AND origin = 'model' "
            "AND score IS NOT NULL GROUP BY segment_id, code_id"
        )
    }
    distance = {
        i: abs(logit(scores[(item.segment_id, item.code_id)]) - logit(thresholds.get(item.code_id, DEFAULT_THRESHOLD)))
        for i, item in enumerate(items)
        if (item.segment_id, item.code_id) in scores
    }
    model = sorted(distance, key=lambda i: (distance[i], i))
    return [items[i] for i in model] + [item for i, item in enumerate(items) if i not in distance]


def resume_index(project: Project, coder: str, filters: Filters, queue: list[Item]) -> int | None:
    """Where to start: just after the last item this coder handled in this queue (None: a
    first review of this queue). Decided items have left the queue, skipped ones wait."""
    row = project.query("SELECT segment_id FROM review_progress WHERE coder = ? AND queue = ?", (coder, filters.key()))
    if not row or row[0][0] is None or not queue:
        return None
    last = row[0][0]
    if filters.order != "reading":  # not in reading order: after the last item handled, if it is still here
        hits = [index for index, item in enumerate(queue) if item.segment_id == last]
        return (hits[-1] + 1) % len(queue) if hits else 0
    order = project.query(
        "SELECT s.id, src.id, s.position FROM segments s JOIN sources src ON src.id = s.source_id WHERE s.id = ?",
        (last,),
    )
    if not order:
        return 0
    key = (order[0][1], order[0][2])
    positions = {
        r[0]: (r[1], r[2])
        for r in project.query(
            f"SELECT s.id, s.source_id, s.position FROM segments s WHERE s.id IN ({','.join('?' * len(queue))})",
            tuple(i.segment_id for i in queue),
        )
    }
    for index, item in enumerate(queue):
        if positions[item.segment_id] > key:
            return index
    return 0


def save_progress(project: Project, coder: str, filters: Filters, item: Item) -> None:
    """Remember the last item handled (its own small transaction)."""
    with project.transaction() as conn:
        conn.execute(
            """INSERT INTO review_progress (coder, queue, segment_id, updated_at) VALUES (?, ?, ?, ?)
               ON CONFLICT(coder, queue) DO UPDATE SET segment_id = excluded.segment_id, updated_at = excluded.updated_at""",
            (coder, filters.key(), item.segment_id, now()),
        )


def _neighbour(project: Project, source: str, position: int) -> str | None:
    row = project.query("SELECT speaker, text FROM segments WHERE source_id = ? AND position = ?", (source, position))
    if not row:
        return None
    speaker, text = row[0]
    return f"{speaker}: {text}" if speaker else text


def view(project: Project, coder: str, item: Item) -> ItemView:
    """The segment in context: the turn before and after, who spoke, and every suggestion."""
    seg = project.query(
        """SELECT s.*, src.type AS source_type, src.phase FROM segments s JOIN sources src ON src.id = s.source_id
           WHERE s.id = ?""",
        (item.segment_id,),
    )
    if not seg:
        raise QualkamError(f"segment {item.segment_id} is gone (its source changed); run the review again")
    s = seg[0]
    suggestions = [
        {"code": r["code_id"], "score": r["score"], "origin": r["origin"], "evidence": json.loads(r["evidence"])}
        for r in project.query(
            "SELECT code_id, score, origin, evidence FROM codings WHERE segment_id = ? AND coder IS NULL "
            "ORDER BY score DESC, code_id",
            (item.segment_id,),
        )
    ]
    decisions = {
        r[0]: r[1]
        for r in project.query(
            "SELECT code_id, status FROM codings WHERE segment_id = ? AND coder = ?", (item.segment_id, coder)
        )
    }
    labels = {r[0]: r[1] for r in project.query("SELECT id, label FROM codes")}
    return ItemView(
        item=item,
        source=s["source_id"],
        source_type=s["source_type"],
        phase=s["phase"],
        speaker=s["speaker"],
        role=s["role"],
        time_start=s["time_start"],
        text=s["text"],
        start=s["start"],
        before=_neighbour(project, s["source_id"], s["position"] - 1),
        after=_neighbour(project, s["source_id"], s["position"] + 1),
        suggestions=suggestions,
        decisions=decisions,
        labels=labels,
    )
