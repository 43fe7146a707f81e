"""``qualkam reliability`` as a library call: per-code and overall agreement between coders.

Data come from qualkam.agreement.units (who coded what, with the coverage rule for missing values);
the coefficients from qualkam.agreement (segment and sentence units) or qualkam.agreement.unitized
(character units). See docs/reliability.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qualkam.agreement import interpret_alpha, per_code, set_alpha
from qualkam.agreement.units import UNITS, coder_spans, coding_data
from qualkam.choices import check_choice
from qualkam.errors import QualkamError
from qualkam.render.number import plain
from qualkam.store.project import Project
from qualkam.store.reads import code_tree


@dataclass
class ReliabilityReport:
    """Per-code figures, the overall figure, and what they were computed on."""

    unit: str
    coders: list[str]
    per_code: pd.DataFrame
    overall: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """One dict per code with plain values, None where a value is missing. The JSON, the
        terminal table and the report all read these, never the DataFrame's cells: a missing
        text is None in pandas 2 but NaN in pandas 3, and NaN is true (issue 11)."""
        return [{key: plain(value) for key, value in row.items()} for row in self.per_code.to_dict(orient="records")]

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "coders": self.coders,
            "overall": {k: plain(v) for k, v in self.overall.items()},
            "codes": self.records(),
            "notes": self.notes,
        }


def _labels(project: Project) -> dict[str, str]:
    return {code: node.label for code, node in code_tree(project).items()}


def reliability(
    project: Project,
    coders: list[str] | None = None,
    codes: list[str] | None = None,
    unit: str = "segment",
    replicates: int = 0,
    seed: int = 0,
    minimum: float = 0.667,
    distance: str = "masi",
    sources: Sequence[str] = (),
    speakers: Sequence[str] = (),
    phases: Sequence[str] = (),
) -> ReliabilityReport:
    """Agreement per code (presence/absence in each unit) and overall, between ``coders``;
    ``sources``, ``speakers``, ``phases`` keep only those units."""
    unit = check_choice("unit", unit, UNITS, "unit")
    distance = check_choice("set distance", distance, ("masi", "jaccard"), "distance")
    labels = _labels(project)
    if unit == "character":
        if speakers:
            raise QualkamError(
                "{argument} needs units that have a speaker: unit 'segment' or 'sentence'", argument="speakers"
            )
        return _character(project, coders, codes, labels, sources, phases)
    data = coding_data(project, coders, codes, unit, sources, speakers, phases)
    frame = per_code(data.presence, data.codes, replicates=replicates, seed=seed, minimum=minimum)
    frame.insert(1, "label", frame["code"].map(labels))
    overall_alpha = set_alpha(data.sets(), distance=distance)
    seen_by_all = ~np.isnan(data.presence[0]).any(axis=0)
    overall = {
        "krippendorff_alpha_sets": overall_alpha,
        "distance": distance,
        "interpretation": interpret_alpha(overall_alpha) if overall_alpha is not None else None,
        "n_units": int(len(data.units)),
        "n_units_seen_by_all": int(seen_by_all.sum()),
        "n_codes": len(data.codes),
    }
    notes = (
        [f"{int((~seen_by_all).sum())} unit(s) not seen by every coder count as missing for those who did not see them"]
        if (~seen_by_all).any()
        else []
    )
    return ReliabilityReport(unit, data.coders, frame, overall, notes)


def _character(
    project: Project,
    coders: list[str] | None,
    codes: list[str] | None,
    labels: dict[str, str],
    only: Sequence[str] = (),
    phases: Sequence[str] = (),
) -> ReliabilityReport:
    from qualkam.agreement.unitized import unitized_alpha_sources

    coders, codes, sources = coder_spans(project, coders, codes, only, phases)
    whole = unitized_alpha_sources(sources, method="2016")
    rows = []
    for code in codes:
        value = whole.per_category.get(code)
        rows.append(
            {
                "code": code,
                "label": labels.get(code),
                "krippendorff_alpha": value,
                "alpha_interpretation": interpret_alpha(value) if value is not None else None,
            }
        )
    overall = {
        "unitized_alpha_binary": whole.binary,
        "unitized_alpha_joint": whole.joint,
        "unitized_alpha_nominal": whole.alpha,
        "n_sources": whole.n_sources,
    }
    notes = [
        "character level: Krippendorff's unitized alpha (2016 form, |uα per code); "
        "the kappa family needs units, so it is not computed here"
    ]
    # The nominal uα (one value per stretch) is not reported, so its caveats are not either.
    notes += [n for n in whole.notes if not n.startswith("uα (nominal)")]
    return ReliabilityReport("character", coders, pd.DataFrame(rows), overall, notes)
