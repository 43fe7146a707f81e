"""Thematic saturation after Guest, Namey & Chen (2020), "A simple method to assess and report
thematic saturation in qualitative research", PLOS ONE 15(5): e0232076 (issue 16, point 3).

The sources are put in order (the order they were collected: by date, by default), then:

- the **base** is the first ``base`` sources (4 by default); its number of distinct codes is the
  denominator of every ratio;
- a **run** is the next ``run`` sources (2 by default); its *new information* is the number of
  codes that appear in it and in no source before it, as a percentage of the base's codes;
- runs roll forward one source at a time (sources 5-6, then 6-7, 7-8, ...) until one adds new
  information at or below the **threshold** (5% by default, "≤5%"; 0% is the strict form);
- **saturation** is then reported as the number of sources before that run, "with the ``run``
  sources after it confirming": both figures are given (``point`` without the confirming run,
  ``through`` with it), as the paper reports them.

The denominator stays the base: codes found in runs are not added to it. A source with no codes
in the layer is still a source (it added nothing new), so every source in scope is counted, coded
or not. The layer and the filters are those of every other analysis (``qualkam.store.layers``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pandas as pd

from qualkam.analysis.matrix import NONE, _natural, value_text  # one numeric order for attribute values
from qualkam.choices import check_choice, check_known
from qualkam.errors import QualkamError
from qualkam.store.analysis import phase_ids, sources_as_added
from qualkam.store.codings import known_layer, layer_codings, segments_with_sources
from qualkam.store.layers import Layer
from qualkam.store.names import source_attribute_keys
from qualkam.store.project import Project
from qualkam.store.segments import SegmentFilter

BASE, RUN, THRESHOLD = 4, 2, 5.0
ORDERS = ("date", "given")  # or the name of a source field or attribute
SOURCE_FIELDS = ("phase", "source_type", "source", "date", "title", "format")
TABLE_COLUMNS = ["position", "source", "order_value", "codes", "new", "cumulative", "in_base", "new_codes"]
RUN_COLUMNS = ["run", "first", "last", "first_source", "last_source", "new", "percent_new", "within"]


@dataclass(frozen=True)
class Saturation:
    """A saturation assessment: the table per source, the runs, and the verdict.

    ``table``: one row per source in order (TABLE_COLUMNS): its position (1-based), the value it
    was ordered by, its distinct codes, the codes new in it (in no earlier source), the distinct
    codes so far, whether it is in the base, and the new codes' ids. ``runs``: one row per run
    (RUN_COLUMNS): its first and last positions and sources, its new codes, their percentage of
    the base's codes (None when the base has no codes) and whether that is within the threshold.
    ``point``: the sources before the first run within the threshold (None: not reached);
    ``through``: ``point`` plus the confirming run.
    """

    order: str
    base: int
    run: int
    threshold: float
    layer: str
    table: pd.DataFrame
    runs: pd.DataFrame
    base_codes: int
    total_codes: int
    point: int | None
    through: int | None
    notes: list[str] = field(default_factory=list)

    @property
    def reached(self) -> bool:
        return self.point is not None

    @property
    def sources(self) -> int:
        return len(self.table)

    @property
    def allowed_new(self) -> int | None:
        """The most new codes a run may add and still be within the threshold (None: no base codes)."""
        if not self.base_codes:
            return None
        return math.floor(Fraction(str(self.threshold)) * self.base_codes / 100)

    def parameters(self) -> str:
        """The parameters as the paper asks them reported: base, run, threshold, order."""
        return (
            f"base {self.base}, run {self.run}, new information threshold ≤{_percent(self.threshold)}%, by {self.order}"
        )

    def verdict(self) -> str:
        """One sentence: where saturation was reached, or why and by how far it was not."""
        if self.point is not None:
            run = self.runs[self.runs["within"]].iloc[0]
            return (
                f"Saturation at {self.point} sources ({self.parameters()}), with the {self.run} after it "
                f"confirming: {self.through} sources. Run {int(run['run'])} (sources {int(run['first'])}-"
                f"{int(run['last'])}) added {int(run['new'])} new code{'s' if int(run['new']) != 1 else ''}, "
                f"{_percent(run['percent_new'])}% of the base's {self.base_codes}."
            )
        return (
            f"Saturation not reached ({self.parameters()}): {self.notes[0] if self.notes else 'no run is within it'}."
        )

    def summary(self) -> dict[str, Any]:
        """The figures for JSON: parameters, counts, the point, the verdict and notes."""
        return {
            "order": self.order,
            "base": self.base,
            "run": self.run,
            "threshold_percent": self.threshold,
            "layer": self.layer,
            "sources": self.sources,
            "base_codes": self.base_codes,
            "total_codes": self.total_codes,
            "reached": self.reached,
            "point": self.point,
            "through": self.through,
            "allowed_new_per_run": self.allowed_new,
            "verdict": self.verdict(),
            "notes": list(self.notes),
        }


def _percent(value: Any) -> str:
    """A percentage for reading: whole numbers without decimals, others with one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.1f}"


def parse_threshold(value: str | float | int) -> float:
    """A threshold in percent from ``5``, ``5%``, ``"0.5"`` or ``2.5``: between 0 and 100."""
    text = str(value).strip().rstrip("%").strip()
    try:
        number = float(text)
    except ValueError:
        raise QualkamError(
            f"{{argument}} must be a percentage such as 5 or 5% (the share of the base's codes a run "
            f"may add); got {value!r}",
            argument="threshold",
        ) from None
    if not math.isfinite(number) or not 0 <= number <= 100:
        raise QualkamError(f"{{argument}} must be between 0 and 100 (percent); got {value!r}", argument="threshold")
    return number


def _whole(value: Any, argument: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise QualkamError(
            f"{{argument}} must be a whole number of sources, {least} or more; got {value!r}", argument=argument
        )
    return value


def _source_values(frame: pd.DataFrame, name: str) -> dict[str, str]:
    """Source id -> its value of a source field or attribute, as text (``(none)`` if missing)."""
    firsts = frame.drop_duplicates("source")
    if name in SOURCE_FIELDS:
        values = firsts[name]
    else:
        values = firsts["source_attributes"].map(lambda text: json.loads(text or "{}").get(name))
    return {str(s): value_text(v) for s, v in zip(firsts["source"], values, strict=True)}


def ordered_sources(
    project: Project, frame: pd.DataFrame, order: str, given: Sequence[str] = ()
) -> tuple[list[str], dict[str, str], list[str]]:
    """The sources of ``frame`` (segments with their sources) in ``order``, each one's order value,
    and notes on what the order could not decide (sources without a date go last, in id order)."""
    present = list(dict.fromkeys(str(s) for s in frame["source"]))
    notes: list[str] = []
    if order == "given":
        ranked = list(given) if given else sources_as_added(project)
        rank = {s: i for i, s in enumerate(ranked)}
        ordered = sorted(present, key=lambda s: (rank.get(s, len(rank)), s))
        return ordered, {s: str(i + 1) for i, s in enumerate(ordered)}, notes
    name = order
    values = _source_values(frame, name)
    if name == "phase":
        declared = {p: i for i, p in enumerate(phase_ids(project))}

        def key(source: str) -> tuple[Any, ...]:
            value = values[source]
            if value == NONE:
                return (2, 0, "", source)
            return (0, declared[value], "", source) if value in declared else (1, 0, value, source)
    else:

        def key(source: str) -> tuple[Any, ...]:
            value = values[source]
            return (1, 0, "", source) if value == NONE else (0, _natural(value), source)

    ordered = sorted(present, key=key)
    lacking = [s for s in ordered if values[s] == NONE]
    if lacking:
        shown = ", ".join(lacking[:5]) + (f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
        notes.append(
            f"{len(lacking)} source{'s' if len(lacking) != 1 else ''} with no {name}, placed last by id: {shown}"
        )
    ties = pd.Series([values[s] for s in ordered if values[s] != NONE]).value_counts()
    if (ties > 1).any():
        notes.append(f"sources with the same {name} are in id order")
    return ordered, values, notes


def check_order(project: Project, order: str) -> str:
    """``date``, ``given``, a source field (phase, source_type, title ...) or a source attribute."""
    choices = [*ORDERS, *(f for f in SOURCE_FIELDS if f != "date"), *source_attribute_keys(project)]
    return check_choice("order", order, list(dict.fromkeys(choices)), "order")


def saturation(
    project: Project,
    layer: str | Layer = "auto",
    order: str = "date",
    base: int = BASE,
    run: int = RUN,
    threshold: str | float = THRESHOLD,
    sources: Sequence[str] = (),
    speakers: Sequence[str] = (),
    phases: Sequence[str] = (),
    source_types: Sequence[str] = (),
    roles: Sequence[str] = (),
    codings: pd.DataFrame | None = None,
) -> Saturation:
    """Assess saturation over the sources in scope (see the module docstring).

    ``order``: ``date`` (the default), ``given`` (the order of ``sources`` when given, else the
    order the sources were added to the project) or a source field or attribute (numbers in
    numeric order). ``threshold`` in percent. ``codings``: the layer's codings with these filters
    when the caller has read them already (``analysis.matrix.codings_frame``)."""
    base = _whole(base, "base", 1)
    run = _whole(run, "run", 1)
    percent = parse_threshold(threshold)
    parsed = known_layer(project, layer)
    order = check_order(project, order)
    given = check_known(project, "source", list(sources), "sources")
    where = SegmentFilter(sources=given, phases=phases, speakers=speakers, roles=roles, source_types=source_types)
    segments = segments_with_sources(project, where)
    frame = codings if codings is not None else layer_codings(project, parsed, where)
    ordered, values, notes = ordered_sources(project, segments, order, given)
    codes_of: dict[str, set[str]] = {s: set() for s in ordered}
    for source, code in zip(frame["source"], frame["code"], strict=True):
        if source in codes_of:
            codes_of[str(source)].add(str(code))
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, source in enumerate(ordered):
        here = codes_of[source]
        new = sorted(here - seen)
        seen |= here
        rows.append(
            {
                "position": i + 1,
                "source": source,
                "order_value": values[source],
                "codes": len(here),
                "new": len(new),
                "cumulative": len(seen),
                "in_base": i < base,
                "new_codes": ", ".join(new),
            }
        )
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    base_codes = int(table["cumulative"].iloc[min(base, len(table)) - 1]) if len(table) else 0
    new_counts = list(table["new"])
    limit = Fraction(str(percent))
    run_rows: list[dict[str, Any]] = []
    for number, first in enumerate(range(base, len(ordered) - run + 1), start=1):
        added = int(sum(new_counts[first : first + run]))
        share = 100 * added / base_codes if base_codes else None
        within = bool(base_codes) and Fraction(100 * added, base_codes) <= limit
        run_rows.append(
            {
                "run": number,
                "first": first + 1,
                "last": first + run,
                "first_source": ordered[first],
                "last_source": ordered[first + run - 1],
                "new": added,
                "percent_new": None if share is None else round(share, 2),
                "within": within,
            }
        )
    runs = pd.DataFrame(run_rows, columns=RUN_COLUMNS)
    point = through = None
    if run_rows and runs["within"].any():
        first_within = runs[runs["within"]].iloc[0]
        point, through = int(first_within["first"]) - 1, int(first_within["last"])
    reasons = _not_reached(len(ordered), base, run, base_codes, percent, runs) if point is None else []
    if through is not None:
        later = [c for row in rows[through:] for c in row["new_codes"].split(", ") if c]
        if later:  # the method's known limit: a quiet stretch is not the end of new codes
            reasons.append(
                f"{len(later)} code{'s' if len(later) != 1 else ''} first appear{'' if len(later) != 1 else 's'} "
                f"after source {through}: "
                + ", ".join(later[:8])
                + (f" and {len(later) - 8} more" if len(later) > 8 else "")
            )
    return Saturation(
        order=order,
        base=base,
        run=run,
        threshold=percent,
        layer=str(parsed),
        table=table,
        runs=runs,
        base_codes=base_codes,
        total_codes=len(seen),
        point=point,
        through=through,
        notes=reasons + notes,
    )


def _not_reached(sources: int, base: int, run: int, base_codes: int, percent: float, runs: pd.DataFrame) -> list[str]:
    """Why saturation was not reached, and how far off the runs were."""
    if sources < base + run:
        return [
            f"{sources} source{'s' if sources != 1 else ''} in scope; a base of {base} and one run of {run} "
            f"need {base + run}"
        ]
    if not base_codes:
        return [f"the base (the first {base} sources) holds no codes, so new information has nothing to be a share of"]
    allowed = math.floor(Fraction(str(percent)) * base_codes / 100)
    best = runs.loc[runs["new"].idxmin()]
    last = runs.iloc[-1]
    return [
        f"every run added more than {_percent(percent)}% of the base's {base_codes} codes (at most {allowed} "
        f"new code{'s' if allowed != 1 else ''}); the last run (sources {int(last['first'])}-{int(last['last'])}) "
        f"added {int(last['new'])} ({_percent(last['percent_new'])}%), the closest (sources {int(best['first'])}-"
        f"{int(best['last'])}) {int(best['new'])} ({_percent(best['percent_new'])}%)"
    ]
