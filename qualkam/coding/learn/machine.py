"""The machine as a named coder (issue 15): how well the model's held-out suggestions agree with
each person, per code, with the coefficients people's agreement is judged by.

The model's side is its held-out predictions (each fold scored by a model that never saw it,
``training.cross_validate``), so the figures say how the model would code sources it has not
learnt from. Each person is compared on the segments of the sources they have seen (decided
anything in); elsewhere their silence is not a "no". Cohen's kappa and Krippendorff's alpha
come from ``qualkam.agreement.per_code`` (the same definitions as ``qualkam reliability``).
A code whose kappa is below ``NEAR_CHANCE`` is flagged: there the machine agrees with the
person little more than chance would. These figures are stored with the model, apart from
people's agreement: the machine is never one of the coders in people's reliability.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from qualkam.agreement import per_code
from qualkam.store import training as store
from qualkam.store.models import newest_metrics

if TYPE_CHECKING:
    from qualkam.coding.learn.data import TrainingSet
    from qualkam.store.project import Project

MACHINE = "machine"  # the machine's name beside people's in the figures
NEAR_CHANCE = 0.2  # kappa below this: "slight" agreement at most (Landis & Koch), near chance


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 3)


def machine_agreement(project: Project, data: TrainingSet, held_out: np.ndarray) -> dict[str, dict[str, Any]]:
    """Person -> code -> kappa, alpha, units compared and ``near_chance``, between the model's
    held-out predictions (segments x codes, rows as ``data.segments``) and the person's own
    accepted codings on the segments of the sources they have seen."""
    decided = store.decisions(project, data.coders)
    row_of = {int(s): i for i, s in enumerate(data.segments["segment"])}
    col_of = {c: j for j, c in enumerate(data.codes)}
    sources = np.array(list(data.segments["source"]))
    out: dict[str, dict[str, Any]] = {}
    for coder in data.coders:
        mine = decided[decided["coder"] == coder]
        seen = np.isin(sources, sorted(set(mine["source"])))
        if not seen.any():
            continue
        labels = np.zeros(data.labels.shape)
        accepted = mine[mine["status"] == "accepted"]
        for segment, code in zip(accepted["segment"], accepted["code"], strict=True):
            if int(segment) in row_of and code in col_of:
                labels[row_of[int(segment)], col_of[code]] = 1.0
        units = np.flatnonzero(seen)
        presence = np.stack([labels[units].T, held_out[units].T.astype(float)], axis=1)  # codes x 2 x units
        frame = per_code(presence, data.codes)
        figures = {}
        for row in frame.to_dict("records"):
            kappa, j = _number(row["cohen_kappa"]), col_of[row["code"]]
            figures[row["code"]] = {
                "kappa": kappa,
                "alpha": _number(row["krippendorff_alpha"]),
                "units": int(len(units)),
                "person": int(labels[units, j].sum()),
                "machine": int(held_out[units, j].sum()),
                "near_chance": None if kappa is None else kappa < NEAR_CHANCE,  # None: kappa undefined
            }
        out[coder] = figures
    return out


def newest_machine_agreement(project: Project) -> tuple[int, str, dict[str, dict[str, Any]]] | None:
    """The newest model's id, layer and ``machine_agreement`` figures, stored when it was
    trained; None without a model or for a model trained before these figures existed."""
    found = newest_metrics(project)
    if found is None or not found[2].get(MACHINE):
        return None
    model_id, layer, metrics = found
    return model_id, layer, metrics[MACHINE]
