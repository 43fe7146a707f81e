"""Trained models in the project (table ``models``, migration 004_models).

Each ``qualkam train`` adds a row; the newest is the one used. A row holds the spaCy
pipeline's bytes and three JSON documents: the settings it was trained with, its data
(calibration, thresholds, the coded examples used as evidence) and its cross-validated
metrics. Reading them needs neither spaCy nor scikit-learn.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qualkam.store.schema import fetch_all

if TYPE_CHECKING:
    from qualkam.store.project import Project


@dataclass
class StoredModel:
    """One row of ``models``, its JSON parsed."""

    id: int
    created_at: str
    layer: str
    codes: list[str]
    settings: dict[str, Any]
    data: dict[str, Any]
    metrics: dict[str, Any]
    model: bytes


def add_model(
    project: Project,
    layer: str,
    codes: list[str],
    settings: dict[str, Any],
    data: dict[str, Any],
    metrics: dict[str, Any],
    model: bytes,
    audit: dict[str, Any],
) -> int:
    """Store a new model version, audited as ``train`` with ``audit`` as its after; its id."""
    from qualkam.store.audit import now, record_audit

    with project.transaction() as conn:
        model_id = conn.execute(
            "INSERT INTO models (created_at, layer, codes, settings, data, metrics, model) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                now(),
                layer,
                json.dumps(codes),
                json.dumps(settings),
                json.dumps(data, ensure_ascii=False),
                json.dumps(metrics),
                model,
            ),
        ).lastrowid
        assert model_id is not None
        record_audit(project, "qualkam", "train", "model", str(model_id), None, audit)
    return int(model_id)


def stored_model(project: Project, model_id: int | None = None) -> StoredModel | None:
    """Model ``model_id``, or the newest; None when there is no such model."""
    sql = "SELECT * FROM models " + ("WHERE id = ?" if model_id is not None else "ORDER BY id DESC LIMIT 1")
    rows = fetch_all(project, sql, (model_id,) if model_id is not None else ())
    if not rows:
        return None
    row = rows[0]
    return StoredModel(
        int(row["id"]),
        row["created_at"],
        row["layer"],
        json.loads(row["codes"]),
        json.loads(row["settings"]),
        json.loads(row["data"]),
        json.loads(row["metrics"]),
        bytes(row["model"]),
    )


def model_rows(project: Project) -> list[dict[str, Any]]:
    """Every stored model version, newest first: id, created_at, layer, codes (JSON), bytes."""
    return [
        dict(r)
        for r in fetch_all(
            project, "SELECT id, created_at, layer, codes, length(model) AS bytes FROM models ORDER BY id DESC"
        )
    ]


def newest_data(project: Project) -> dict[str, Any] | None:
    """The data document of the newest model (calibration, thresholds...); None without one."""
    row = fetch_all(project, "SELECT data FROM models ORDER BY id DESC LIMIT 1")
    return json.loads(row[0][0]) if row else None


def newest_metrics(project: Project) -> tuple[int, str, dict[str, Any]] | None:
    """The newest model's id, layer and held-out figures; None without a model (or in a project
    from before ``qualkam train``)."""
    try:
        row = fetch_all(project, "SELECT id, layer, metrics FROM models ORDER BY id DESC LIMIT 1")
    except sqlite3.OperationalError:
        return None
    return (int(row[0][0]), str(row[0][1]), json.loads(row[0][2])) if row else None


def newest_layer(project: Project) -> str | None:
    """The layer the newest model learned from; None without a model, or in a project from
    before ``qualkam train`` (no models table)."""
    try:
        row = fetch_all(project, "SELECT layer FROM models ORDER BY id DESC LIMIT 1")
    except sqlite3.OperationalError:
        return None
    return row[0][0] if row else None
