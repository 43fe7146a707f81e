"""Where coders differ: the units, a confusion table per code, who departs from whom, and
who codes more than the others (issue 4).

Reliability coefficients say *how much* coders agree; this module says *where* and *how*
they differ, so a team can talk about the units themselves before reconciling them
(``qualkam.coding.reconcile``). It reads the same data as the coefficients (``qualkam.agreement.units``),
with the same coverage rule: a unit counts for a coder only in a source they have seen.

- The unit list compares the units *every* listed coder has seen; the others are counted
  as skipped (missing), never as disagreements.
- The confusion table, the agreement matrix and Cohen's kappa are pairwise: each pair of
  coders is compared on the units both have seen (with two coders, the same units).
- Prevalence is per coder, over the units that coder has seen.

Every function returns data; ``render_markdown`` and ``qualkam.render.html.disagreements_page`` turn a report into text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from qualkam.agreement.units import coding_data
from qualkam.analysis.excerpts import md_escape
from qualkam.analysis.excerpts import resolve_codes as resolve_code_specs
from qualkam.choices import check_choice
from qualkam.errors import QualkamError
from qualkam.render.cells import frame_csv
from qualkam.render.number import number
from qualkam.store.project import Project
from qualkam.store.reads import code_tree

UNIT_KINDS = ("segment", "sentence")
FORMATS = ("table", "md", "csv", "html")
UNIT_COLUMNS = ("unit", "source", "segment", "speaker", "text")
NO_CODE = "(no code)"
PER_UNIT = "(codes per unit)"


def coder_column(coder: str, taken: Sequence[str] = UNIT_COLUMNS) -> str:
    """The column holding a coder's codes: their name, unless it is already a column's name."""
    return f"coder:{coder}" if coder.casefold() in {t.casefold() for t in taken} else coder


def code_list(codes: frozenset[str] | set[str] | None, order: Sequence[str]) -> str:
    """A set of codes as text in codebook order (``a; b``); empty for no code."""
    if not codes:
        return ""
    rank = {c: i for i, c in enumerate(order)}
    return "; ".join(sorted(codes, key=lambda c: (rank.get(c, len(rank)), c)))


@dataclass
class DisagreementReport:
    """The four views of a disagreement audit, plus the counts a reader needs to trust them."""

    coders: list[str]
    codes: list[str]
    unit: str
    compared: int  # units every coder has seen
    skipped: int  # units some coder has not seen (missing)
    units: pd.DataFrame  # the compared units where the coders' sets differ
    confusion: pd.DataFrame  # per code and pair: both / only_a / only_b / neither
    agreement: pd.DataFrame  # coder x coder percent agreement (+ mean with the others)
    kappa: pd.DataFrame | None  # coder x coder Cohen's kappa; None without the agreement engine
    prevalence: pd.DataFrame  # code x coder share of seen units (+ codes per unit)
    seen: dict[str, int] = field(default_factory=dict)  # coder -> units seen
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def differ(self) -> int:
        return len(self.units)


def expand_codes(project: Project, codes: Sequence[str] | None) -> list[str] | None:
    """``--code`` values as code ids: an id takes its descendants (as in excerpts), or attr:KEY=VALUE."""
    if not codes:
        return None
    return resolve_code_specs(project, list(codes))


def _kappa_engine():  # -> Callable | None
    """Cohen's kappa comes from the agreement engine when it is installed (issue 4)."""
    try:
        from qualkam.agreement import coefficients
    except ImportError:  # TODO(issue 4): the engine is written in parallel; percent agreement only until then
        return None
    return coefficients


def _pair_kappa(engine, a: np.ndarray, b: np.ndarray) -> float:
    """Kappa over every (code, unit) decision both coders made: one pooled nominal rating each."""
    if a.size == 0:
        return float("nan")
    result = engine(np.vstack([a, b]), "nominal")
    value = getattr(result, "cohen_kappa", None)
    return float("nan") if value is None else float(value)


def disagreements(
    project: Project,
    coders: Sequence[str] | None = None,
    codes: Sequence[str] | None = None,
    unit: str = "segment",
    sources: Sequence[str] = (),
    speakers: Sequence[str] = (),
    phases: Sequence[str] = (),
) -> DisagreementReport:
    """Compare the coders' codings: differing units, confusion, pairwise agreement, prevalence;
    ``sources``, ``speakers``, ``phases`` keep only those units."""
    unit = check_choice("unit", unit, UNIT_KINDS, "unit")
    picked = expand_codes(project, codes)
    data = coding_data(project, list(coders) if coders else None, picked, unit, sources, speakers, phases)
    tree = code_tree(project)
    labels = {code: node.label for code, node in tree.items()}
    if picked:
        # A parent pulled in with its children but used by nobody would only add a row of zeros;
        # a leaf code named on purpose stays, so "nobody used it" shows.
        parents = {node.parent for node in tree.values() if node.parent is not None}
        named = set(codes or ()) - parents
        used = ~np.all(np.nan_to_num(data.presence, nan=0.0) == 0, axis=(1, 2))
        keep = [i for i, c in enumerate(data.codes) if used[i] or c in named]
        if not keep:
            raise QualkamError(
                f"no coder among {', '.join(data.coders)} gave {', '.join(codes or ())} "
                "(or a code below it); nothing to compare"
            )
        data.presence = data.presence[keep]
        data.codes = [data.codes[i] for i in keep]
    coders_, codes_, p = data.coders, data.codes, data.presence
    seen_mask = ~np.isnan(p[0])  # coders x units: missingness is per coder and source, the same for every code
    everyone = seen_mask.all(axis=0)
    sets = data.sets()

    # (a) units every coder has seen where their sets are not all the same
    rows = []
    columns = [coder_column(c) for c in coders_]
    for u in np.flatnonzero(everyone):
        given = [sets[c][u] for c in range(len(coders_))]
        if len(set(given)) > 1:
            unit_row = data.units.iloc[u]
            speaker = unit_row["speaker"] if isinstance(unit_row["speaker"], str) else ""
            rows.append(
                [
                    unit_row["unit"],
                    unit_row["source"],
                    int(unit_row["segment"]),
                    speaker,
                    unit_row["text"],
                    *[code_list(g, codes_) for g in given],
                ]
            )
    units = pd.DataFrame(rows, columns=[*UNIT_COLUMNS, *columns])

    # (b) and (c): every pair on the units both have seen
    engine = _kappa_engine()
    confusion_rows = []
    agreement = pd.DataFrame(np.nan, index=pd.Index(coders_, name="coder"), columns=coders_)
    kappa = agreement.copy() if engine is not None else None
    for i, j in combinations(range(len(coders_)), 2):
        both_seen = seen_mask[i] & seen_mask[j]
        a, b = p[:, i, both_seen] == 1, p[:, j, both_seen] == 1  # codes x units
        n = int(both_seen.sum())
        for k, code in enumerate(codes_):
            tp, fa, fb = int((a[k] & b[k]).sum()), int((a[k] & ~b[k]).sum()), int((~a[k] & b[k]).sum())
            confusion_rows.append(
                (
                    code,
                    coders_[i],
                    coders_[j],
                    n,
                    tp,
                    fa,
                    fb,
                    n - tp - fa - fb,
                    (n - fa - fb) / n if n else float("nan"),
                )
            )
        cells = a.size
        share = float((a == b).sum()) / cells if cells else float("nan")
        agreement.iloc[i, j] = agreement.iloc[j, i] = share
        if kappa is not None:
            kappa.iloc[i, j] = kappa.iloc[j, i] = _pair_kappa(engine, a.ravel().astype(float), b.ravel().astype(float))
    confusion = pd.DataFrame(
        confusion_rows,
        columns=["code", "coder_a", "coder_b", "units", "both", "only_a", "only_b", "neither", "agreement"],
    )
    agreement["mean"] = agreement[coders_].mean(axis=1)
    if kappa is not None:
        kappa["mean"] = kappa[coders_].mean(axis=1)

    # (d) prevalence: the share of a coder's seen units that carry each code
    seen = {c: int(seen_mask[j].sum()) for j, c in enumerate(coders_)}
    shares = {}
    for j, coder in enumerate(coders_):
        n = seen[coder]
        carried = (p[:, j, seen_mask[j]] == 1).sum(axis=1) if n else np.zeros(len(codes_))
        shares[coder] = [g / n if n else float("nan") for g in carried]
    prevalence = pd.DataFrame(shares, index=pd.Index(codes_, name="code"))
    prevalence.loc[PER_UNIT] = prevalence.sum(axis=0)
    return DisagreementReport(
        coders=coders_,
        codes=codes_,
        unit=unit,
        compared=int(everyone.sum()),
        skipped=int((~everyone).sum()),
        units=units,
        confusion=confusion,
        agreement=agreement,
        kappa=kappa,
        prevalence=prevalence,
        seen=seen,
        labels={c: labels.get(c, c) for c in codes_},
    )


# -- views shared by the renderers ----------------------------------------------------------
def summary(report: DisagreementReport) -> str:
    """One line: what was compared, what was skipped and why, how many units differ."""
    return (
        f"{report.unit} units · coders {', '.join(report.coders)} · {len(report.codes)} code(s) · "
        f"{report.compared} compared (seen by every coder) · {report.skipped} skipped as missing "
        f"(not seen by every coder) · {report.differ} differ"
    )


def confusion_view(report: DisagreementReport) -> pd.DataFrame:
    """The confusion table as a reader wants it: with two coders, columns named after them."""
    frame = report.confusion.copy()
    if len(report.coders) == 2:
        a, b = report.coders
        frame = frame.drop(columns=["coder_a", "coder_b"]).rename(
            columns={"only_a": f"only {a}", "only_b": f"only {b}"}
        )
    return frame


def unit_view(report: DisagreementReport) -> pd.DataFrame:
    """The unit list with an explicit ``(no code)`` where a coder gave nothing (for reading)."""
    frame = report.units.copy()
    for coder in report.coders:
        column = coder_column(coder)
        frame[column] = frame[column].map(lambda v: v or NO_CODE)
    return frame


def prevalence_view(report: DisagreementReport) -> pd.DataFrame:
    """Prevalence with each coder's number of seen units in the header."""
    return report.prevalence.rename(columns={c: f"{c} (n={report.seen[c]})" for c in report.coders})


def _md_table(frame: pd.DataFrame, index: bool = False) -> list[str]:
    header = ([frame.index.name or ""] if index else []) + [str(c) for c in frame.columns]
    align = (["---"] if index else []) + [
        "---:" if pd.api.types.is_numeric_dtype(frame[c]) else "---" for c in frame.columns
    ]
    lines = ["| " + " | ".join(md_escape(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    for name, row in frame.iterrows():
        cells = ([str(name)] if index else []) + [number(v) for v in row]
        lines.append("| " + " | ".join(md_escape(c) for c in cells) + " |")
    return lines


def _quote(text: str) -> list[str]:
    return [f"> {md_escape(line)}".rstrip() for line in text.strip("\n").split("\n")]


def render_markdown(report: DisagreementReport, title: str = "Disagreements between coders") -> str:
    """All four parts as Markdown, transcript text escaped so quotations stay verbatim."""
    lines = [f"# {md_escape(title)}", "", f"_{md_escape(summary(report))}_", ""]
    lines += [f"## Units where the coders differ ({report.differ})", ""]
    if report.units.empty:
        lines += ["The coders gave the same codes to every compared unit.", ""]
    for row in report.units.to_dict("records"):
        head = f"{row['source']} · {report.unit} {row['unit']}" + (f" · {row['speaker']}" if row["speaker"] else "")
        lines += [f"### {md_escape(head)}", ""] + _quote(row["text"]) + [""]
        lines += [f"- **{md_escape(c)}**: {md_escape(row[coder_column(c)] or NO_CODE)}" for c in report.coders]
        lines.append("")
    lines += ["## Confusion per code", ""]
    if len(report.coders) > 2:
        lines += ["Per pair of coders, on the units both have seen: both gave the code, only A, only B, neither.", ""]
    lines += _md_table(confusion_view(report)) + [""]
    lines += [
        "## Agreement between coders",
        "",
        "Percent agreement over every code and every unit both coders have seen; "
        "`mean` is a coder's mean agreement with the others.",
        "",
    ]
    lines += _md_table(report.agreement, index=True) + [""]
    if report.kappa is not None:
        lines += ["Cohen's kappa on the same decisions:", ""] + _md_table(report.kappa, index=True) + [""]
    lines += [
        "## Prevalence per coder",
        "",
        "Share of the units each coder has seen that the coder gave each code; "
        f"`{PER_UNIT}` is their sum, the mean number of codes a coder gives a unit.",
        "",
    ]
    lines += _md_table(prevalence_view(report), index=True)
    return "\n".join(lines).rstrip() + "\n"


def render(report: DisagreementReport, fmt: str) -> str:
    """A report as file text: md or html (all four parts) or csv (the unit list)."""
    if fmt == "md":
        return render_markdown(report)
    if fmt == "html":
        from qualkam.render.html import disagreements_page  # the renderer reads this module's views

        return disagreements_page(report)
    if fmt == "csv":
        return frame_csv(report.units)
    raise QualkamError(f"unknown {{argument}} {fmt!r} for a file; use md, csv or html", argument="fmt")
