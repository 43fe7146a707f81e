"""How good are the machine suggestions? Precision, recall and F1 against people's codings.

Issue 6 ("Codebook diagnostics"). A researcher tunes the codebook's patterns by seeing which
pattern over-fires (false positives, per rule) and which concept the patterns miss (false
negatives). The unit is the segment: a (segment, code) pair is *suggested* when any chosen
origin (``rule``, ``model`` or ``both``) suggested the code there, and is in the *reference*
when the reference layer (a people's layer: ``human``, ``coder:NAME`` or ``consensus``, see
``qualkam.store.layers``) accepted it.

Coverage rule (docs/reliability.md, ``qualkam.agreement.units.seen_sources``): only sources the
reference has *seen* (decided anything in) are evaluated. A suggestion in a source nobody
looked at is not a false positive; it is simply not judged.

The figures are ``qualkam.coding.metrics``', the ones ``train`` reports too: undefined ratios
are None, never NaN. Macro averages run over the codes with at least one reference coding or
suggestion: macro precision over those whose precision is defined, macro recall over those
whose recall is defined, macro F1 over all of them. Micro averages pool the counts of those
codes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from qualkam.agreement.units import seen_sources
from qualkam.choices import check_all, check_choice, unknown
from qualkam.coding.metrics import PRF, prf, scores, summary
from qualkam.errors import QualkamError
from qualkam.render.number import plain
from qualkam.store import models
from qualkam.store import training as store
from qualkam.store.layers import CONSENSUS, PEOPLE, Layer
from qualkam.store.project import Project
from qualkam.store.reads import code_tree
from qualkam.store.reads import coders as project_coders

__all__ = ["AGAINST_HELP", "PRF", "SUGGEST", "EvaluationReport", "evaluate", "prf", "scores"]

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
        return plain(
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


def _reference(project: Project, against: str | Layer) -> tuple[list[str], str]:
    """The coders whose decisions (accepted or rejected) make up the reference layer, and
    its name. Checks the layer and says how to get one when the project has none of it."""
    layer = Layer.parse(against, argument="against", allowed=PEOPLE)
    coders = project_coders(project)
    if layer.name == "human" and not coders:
        raise QualkamError(
            "no people's codings in this project yet, so there is no reference; review "
            "suggestions (qualkam review) or import codings (qualkam import codings) first"
        )
    if layer.name == CONSENSUS and CONSENSUS not in coders:
        raise QualkamError(
            "no consensus codings in this project yet; reconcile two coders first (qualkam reconcile), "
            "or use {argument} human or coder:NAME",
            argument="against",
        )
    if layer.name == "coder" and layer.coder not in coders:
        people = [c for c in coders if c != CONSENSUS]
        raise unknown("coder", layer.coder, people + ([CONSENSUS] if CONSENSUS in coders else []), "against")
    return store.layer_coders(project, layer), str(layer)


def _resolve_codes(project: Project, codes: list[str] | None) -> tuple[list[str], dict[str, str]]:
    """Code ids in codebook order (checked when given) and their labels."""
    nodes = sorted(code_tree(project).values(), key=lambda node: node.position)
    order = [node.id for node in nodes]
    labels = {node.id: node.label for node in nodes}
    if codes:
        codes = check_all("code", codes, order, "codes")
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
    project: Project, against: str | Layer = "human", suggest: str = "rules", codes: list[str] | None = None
) -> EvaluationReport:
    """Score the machine suggestions against a reference layer of people's codings, per code.

    ``suggest``: ``rules``, ``model`` or ``both`` (a segment counts as suggested when either
    origin suggested the code there). Raises ``QualkamError`` for an unknown layer or coder,
    a reference with no codings, or no suggestions of the chosen origin in the project.
    """
    suggest = check_choice("value", suggest, list(SUGGEST), "suggest")
    coders, name = _reference(project, against)
    origins = SUGGEST[suggest]
    available = store.suggestion_origins(project, origins)
    if not available:
        if suggest == "model":
            raise QualkamError(
                "no model suggestions in this project; run qualkam train, then qualkam code with model suggestions"
            )
        raise QualkamError(
            f"no {'rule' if suggest == 'rules' else 'machine'} suggestions in this project; run "
            "'qualkam code DIR' to make them"
        )
    order, labels = _resolve_codes(project, codes)
    chosen = set(order)
    notes: list[str] = []
    if suggest == "both" and len(available) < 2:
        only = next(iter(available))
        notes.append(f"suggestions of both origins asked for: only {only} suggestions exist in this project")

    decisions = store.decisions(project, coders)
    seen: set[str] = set().union(*seen_sources(decisions, coders).values()) if coders else set()
    accepted = decisions[
        (decisions["status"] == "accepted") & decisions["source"].isin(seen) & decisions["code"].isin(chosen)
    ]
    gold = {(int(s), c) for s, c in zip(accepted["segment"], accepted["code"], strict=True)}

    pred_info: dict[tuple[int, str], dict[str, Any]] = {}
    unseen_sources: set[str] = set()
    for suggestion in store.suggestions(project, origins):
        if suggestion.code not in chosen:
            continue
        if suggestion.source not in seen:
            unseen_sources.add(suggestion.source)
            continue
        key = (suggestion.segment, suggestion.code)
        info = pred_info.setdefault(key, {"origins": set(), "score": None, "evidence": []})
        info["origins"].add(suggestion.origin)
        if suggestion.score is not None:
            info["score"] = max(info["score"] or 0.0, float(suggestion.score))
        evidence = _evidence(suggestion.evidence)
        info["evidence"].extend(evidence)
        if not evidence:  # a model suggestion may carry no words; it still counts under its origin
            info["evidence"].append({"text": "", "rule": suggestion.origin})
    pred = set(pred_info)

    segments = store.segment_places(project, {s for s, _ in pred | gold})
    results: dict[str, PRF] = {}
    rows = []
    for code in order:
        result = results[code] = prf({k for k in pred if k[1] == code}, {k for k in gold if k[1] == code})
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
    records = _records(active)
    figures = summary(results, list(active["code"]))
    overall = {
        "micro": figures["micro"]._asdict(),
        "macro": figures["macro"],
        "sources": len(seen),
        "segments": sum(n for source, n in store.segments_per_source(project).items() if source in seen),
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

    trained_on = models.newest_layer(project) if "model" in origins else None
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
