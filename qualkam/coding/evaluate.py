"""How good are the machine suggestions? Precision, recall and F1 against people's codings.

Issue 6 ("Codebook diagnostics"). A researcher tunes the codebook's patterns by seeing which
pattern over-fires (false positives, per rule) and which concept the patterns miss (false
negatives). The unit is the segment: a (segment, code) pair is *suggested* when any chosen
origin (``rule``, ``model`` or ``both``) suggested the code there, and is in the *reference*
when the reference layer (``human``, ``coder:NAME`` or ``consensus``, see
``qualkam.store.layers``) accepted it.

Coverage rule (docs/reliability.md, ``qualkam.agreement.units.seen_sources``): only sources the
reference has *seen* (decided anything in) are evaluated. A suggestion in a source nobody
looked at is not a false positive; it is simply not judged.

Undefined figures: precision is None when nothing was suggested (0/0), recall is None when
the reference has nothing (0/0); F1 = 2·TP / (2·TP + FP + FN) is None only when both are
empty. Macro averages run over the codes with at least one reference coding or suggestion:
macro precision over those whose precision is defined, macro recall over those whose recall
is defined, macro F1 over all of them. Micro averages pool the counts of those codes.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd

from qualkam.agreement.units import seen_sources
from qualkam.choices import check_all, check_choice, unknown
from qualkam.errors import QualkamError
from qualkam.store.project import Project

SUGGEST = {"rules": ("rule",), "model": ("model",), "both": ("rule", "model")}
AGAINST_HELP = "human, consensus or coder:NAME"

PER_CODE_COLUMNS = ["code", "label", "reference", "suggested", "tp", "fp", "fn", "precision", "recall", "f1"]
FP_COLUMNS = [
    "code",
    "source",
    "segment",
    "position",
    "speaker",
    "origin",
    "score",
    "evidence",
    "rules",
    "spans",
    "start",
    "text",
]
FN_COLUMNS = ["code", "source", "segment", "position", "speaker", "start", "text"]
RULE_COLUMNS = ["code", "rule", "tp", "fp", "precision"]


class PRF(NamedTuple):
    """Counts and scores of one comparison; unpacks as (tp, fp, fn, precision, recall, f1)."""

    tp: int
    fp: int
    fn: int
    precision: float | None
    recall: float | None
    f1: float | None


def scores(tp: int, fp: int, fn: int) -> PRF:
    """Precision, recall and F1 from counts; None where a ratio is 0/0 (never NaN)."""
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    return PRF(tp, fp, fn, precision, recall, f1)


def prf(pred: set[Hashable], gold: set[Hashable]) -> PRF:
    """Compare a predicted set with a gold set of units (e.g. (segment, code) pairs)."""
    tp = len(pred & gold)
    return scores(tp, len(pred) - tp, len(gold) - tp)


def _mean(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


@dataclass
class EvaluationReport:
    """Per-code figures, the averages, the errors to read, and what was compared."""

    against: str
    suggest: str
    per_code: pd.DataFrame
    overall: dict[str, Any]
    false_positives: pd.DataFrame
    false_negatives: pd.DataFrame
    per_rule: pd.DataFrame
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON: missing figures are None, never NaN."""
        return _clean(
            {
                "against": self.against,
                "suggest": self.suggest,
                "sources": self.sources,
                "overall": self.overall,
                "codes": _records(self.per_code),
                "rules": _records(self.per_rule),
                "false_positives": _records(self.false_positives),
                "false_negatives": _records(self.false_negatives),
                "notes": self.notes,
            }
        )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _clean(value: Any) -> Any:
    """NaN (or numpy scalars) that slipped through become None (or Python numbers)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _reference_condition(project: Project, against: str) -> tuple[str, tuple[Any, ...], str]:
    """SQL for every decision of the reference (accepted or rejected), and a name for it.

    Checks the layer and says how to get one when the project has none of it.
    """
    if against not in ("human", "consensus") and not (against.startswith("coder:") and against[6:]):
        raise unknown("--against", against, ["human", "consensus", "coder:NAME"])
    coders = [
        r[0] for r in project.query("SELECT coder FROM codings WHERE coder IS NOT NULL GROUP BY coder ORDER BY MIN(id)")
    ]
    people = [c for c in coders if c != "consensus"]
    if against == "human":
        if not coders:
            raise QualkamError(
                "no people's codings in this project yet, so there is no reference; review "
                "suggestions (qualkam review --coder NAME) or import codings "
                "(qualkam import codings FILE --coder NAME) first"
            )
        return "c.coder IS NOT NULL", (), "human"
    if against == "consensus":
        if "consensus" not in coders:
            raise QualkamError(
                "no consensus codings in this project yet; run 'qualkam reconcile --coder A --coder B "
                "--decider NAME' first, or use --against human or coder:NAME"
            )
        return "c.coder = 'consensus'", (), "consensus"
    name = against[6:]
    if name not in coders:
        raise unknown("coder", name, people + (["consensus"] if "consensus" in coders else []), "--against")
    return "c.coder = ?", (name,), against


def _resolve_codes(project: Project, codes: list[str] | None) -> tuple[list[str], dict[str, str]]:
    """Code ids in codebook order (checked when given) and their labels."""
    rows = project.query("SELECT id, label FROM codes ORDER BY position")
    order = [r[0] for r in rows]
    labels = {r[0]: r[1] for r in rows}
    if codes:
        codes = check_all("code", codes, order, "--code")
        return [c for c in order if c in codes], labels
    return order, labels


def _evidence(raw: str | None) -> list[dict[str, Any]]:
    try:
        items = json.loads(raw or "[]")
    except json.JSONDecodeError:
        return []
    return [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []


def _words(evidence: dict[str, Any]) -> str:
    """What to show for one piece of evidence: the matched words, or for a model suggestion
    (evidence = similar coded segments, no offsets) which segment it resembled."""
    if "start" not in evidence and evidence.get("segment") is not None:
        return f"similar to {evidence.get('source', '?')} · segment {evidence['segment']}"
    return str(evidence.get("text") or "")


def evaluate(
    project: Project, against: str = "human", suggest: str = "rules", codes: list[str] | None = None
) -> EvaluationReport:
    """Score the machine suggestions against a reference layer of people's codings, per code.

    ``suggest``: ``rules``, ``model`` or ``both`` (a segment counts as suggested when either
    origin suggested the code there). Raises ``QualkamError`` for an unknown layer or coder,
    a reference with no codings, or no suggestions of the chosen origin in the project.
    """
    suggest = check_choice("--suggest", suggest, list(SUGGEST))
    condition, params, name = _reference_condition(project, against)
    origins = SUGGEST[suggest]
    marks = ",".join("?" * len(origins))
    available = {
        r[0]
        for r in project.query(
            f"SELECT DISTINCT origin FROM codings WHERE coder IS NULL AND origin IN ({marks})", origins
        )
    }
    if not available:
        if suggest == "model":
            raise QualkamError(
                "no model suggestions in this project; run qualkam train, then qualkam code --suggest model"
            )
        raise QualkamError(
            f"no {'rule' if suggest == 'rules' else 'machine'} suggestions in this project; run "
            "'qualkam code DIR' to make them"
        )
    order, labels = _resolve_codes(project, codes)
    chosen = set(order)
    notes: list[str] = []
    if suggest == "both" and len(available) < 2:
        notes.append(f"--suggest both: only {next(iter(available))} suggestions exist in this project")

    decisions = pd.read_sql_query(
        f"""SELECT c.coder, c.source_id AS source, c.segment_id AS segment, c.code_id AS code, c.status
            FROM codings c WHERE {condition} AND c.segment_id IS NOT NULL""",
        project.conn,
        params=params,
    )
    coders = list(dict.fromkeys(decisions["coder"]))
    seen: set[str] = set().union(*seen_sources(decisions, coders).values()) if coders else set()
    accepted = decisions[
        (decisions["status"] == "accepted") & decisions["source"].isin(seen) & decisions["code"].isin(chosen)
    ]
    gold = {(int(s), c) for s, c in zip(accepted["segment"], accepted["code"])}

    suggestions = project.query(
        f"""SELECT c.segment_id, c.source_id, c.code_id, c.origin, c.score, c.evidence
            FROM codings c WHERE c.coder IS NULL AND c.status = 'suggested' AND c.segment_id IS NOT NULL
            AND c.origin IN ({marks})""",
        origins,
    )
    pred_info: dict[tuple[int, str], dict[str, Any]] = {}
    unseen_sources: set[str] = set()
    for row in suggestions:
        if row["code_id"] not in chosen:
            continue
        if row["source_id"] not in seen:
            unseen_sources.add(row["source_id"])
            continue
        key = (int(row["segment_id"]), row["code_id"])
        info = pred_info.setdefault(key, {"origins": set(), "score": None, "evidence": []})
        info["origins"].add(row["origin"])
        if row["score"] is not None:
            info["score"] = max(info["score"] or 0.0, float(row["score"]))
        evidence = _evidence(row["evidence"])
        info["evidence"].extend(evidence)
        if not evidence:  # a model suggestion may carry no words; it still counts under its origin
            info["evidence"].append({"text": "", "rule": row["origin"]})
    pred = set(pred_info)

    segments = _segments(project, {s for s, _ in pred | gold})
    rows = []
    for code in order:
        result = prf({k for k in pred if k[1] == code}, {k for k in gold if k[1] == code})
        rows.append(
            {
                "code": code,
                "label": labels.get(code),
                "reference": result.tp + result.fn,
                "suggested": result.tp + result.fp,
                **result._asdict(),
            }
        )
    per_code = pd.DataFrame(rows, columns=PER_CODE_COLUMNS)
    active = per_code[(per_code["reference"] > 0) | (per_code["suggested"] > 0)]
    if not codes:  # every code was considered; show the ones with something to say
        per_code = active.reset_index(drop=True)
    micro = scores(int(active["tp"].sum()), int(active["fp"].sum()), int(active["fn"].sum()))
    records = _records(active)
    overall = {
        "micro": micro._asdict(),
        "macro": {
            "precision": _mean([r["precision"] for r in records]),
            "recall": _mean([r["recall"] for r in records]),
            "f1": _mean([r["f1"] for r in records]),
            "codes": len(records),
            "codes_with_precision": sum(r["precision"] is not None for r in records),
            "codes_with_recall": sum(r["recall"] is not None for r in records),
        },
        "sources": len(seen),
        "segments": sum(
            int(r[1])
            for r in project.query("SELECT source_id, COUNT(*) FROM segments GROUP BY source_id")
            if r[0] in seen
        ),
        "reference": len(gold),
        "suggested": len(pred),
    }

    position = {c: i for i, c in enumerate(order)}
    fps = []
    rule_counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for key in sorted(pred, key=lambda k: (position[k[1]], segments[k[0]]["source"], segments[k[0]]["position"])):
        info = pred_info[key]
        rules = list(dict.fromkeys(e.get("rule") or "?" for e in info["evidence"]))
        for rule in rules:
            rule_counts[key[1], rule][0 if key in gold else 1] += 1
        if key in gold:
            continue
        seg = segments[key[0]]
        words = list(dict.fromkeys(_words(e) for e in info["evidence"] if _words(e)))
        fps.append(
            {
                "code": key[1],
                "source": seg["source"],
                "segment": key[0],
                "position": seg["position"],
                "speaker": seg["speaker"],
                "origin": ",".join(sorted(info["origins"])),
                "score": info["score"],
                "evidence": "; ".join(words),
                "rules": ", ".join(rules),
                "spans": [
                    [int(e["start"]), int(e["end"])]
                    for e in info["evidence"]
                    if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
                ],
                "start": seg["start"],
                "text": seg["text"],
            }
        )
    fns = []
    for key in sorted(
        gold - pred, key=lambda k: (position[k[1]], segments[k[0]]["source"], segments[k[0]]["position"])
    ):
        seg = segments[key[0]]
        fns.append(
            {
                "code": key[1],
                "source": seg["source"],
                "segment": key[0],
                "position": seg["position"],
                "speaker": seg["speaker"],
                "start": seg["start"],
                "text": seg["text"],
            }
        )
    per_rule = pd.DataFrame(
        [
            {"code": code, "rule": rule, "tp": tp, "fp": fp, "precision": scores(tp, fp, 0).precision}
            for (code, rule), (tp, fp) in sorted(
                rule_counts.items(), key=lambda kv: (position[kv[0][0]], -kv[1][1], -kv[1][0], kv[0][1])
            )
        ],
        columns=RULE_COLUMNS,
    )

    trained_on = _model_layer(project) if "model" in origins else None
    if trained_on is not None and (trained_on == name or "human" in (trained_on, name)):
        notes.append(
            f"the newest model learned from {trained_on}, which overlaps this reference: the model's "
            "figures here are in-sample (optimistic); 'qualkam train' reports held-out ones"
        )
    if unseen_sources:
        notes.append(
            f"{len(unseen_sources)} source(s) with suggestions not evaluated: {name} has not seen them "
            "(decided nothing there), so their suggestions are neither right nor wrong"
        )
    no_precision = [r["code"] for r in records if r["precision"] is None]
    no_recall = [r["code"] for r in records if r["recall"] is None]
    if no_precision:
        notes.append(f"precision undefined (nothing suggested, 0/0) for: {', '.join(no_precision)}")
    if no_recall:
        notes.append(f"recall undefined (no reference codings, 0/0) for: {', '.join(no_recall)}")
    if not gold:
        notes.append(f"{name} accepted no code in the evaluated sources (only rejections); recall is undefined")
    notes.append(
        "macro averages: over codes with a reference coding or a suggestion; precision over those with "
        "suggestions, recall over those with reference codings, F1 over all of them"
    )
    return EvaluationReport(
        name,
        suggest,
        per_code.reset_index(drop=True),
        overall,
        pd.DataFrame(fps, columns=FP_COLUMNS),
        pd.DataFrame(fns, columns=FN_COLUMNS),
        per_rule,
        sorted(seen),
        notes,
    )


def _model_layer(project: Project) -> str | None:
    """The layer the newest trained model learned from (None: no model table or no model)."""
    try:
        row = project.query("SELECT layer FROM models ORDER BY id DESC LIMIT 1")
    except sqlite3.OperationalError:  # a project from before `qualkam train`
        return None
    return row[0][0] if row else None


def _segments(project: Project, ids: set[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    found: dict[int, dict[str, Any]] = {}
    listed = sorted(ids)
    for i in range(0, len(listed), 500):  # SQLite caps the number of parameters
        chunk = listed[i : i + 500]
        for row in project.query(
            f"SELECT id, source_id, position, speaker, start, text FROM segments "
            f"WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            found[int(row["id"])] = {
                "source": row["source_id"],
                "position": int(row["position"]),
                "speaker": row["speaker"],
                "start": int(row["start"]),
                "text": row["text"],
            }
    return found
