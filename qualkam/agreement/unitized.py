"""Krippendorff's unitized alpha: character-level agreement for coders who drew their own
span boundaries, as ATLAS.ti reports it (issue 4).

Each coder marks half-open character spans ``(start, end, value)`` on a source's text, the
continuum ``[0, length)``; the value is the code. What one coder left unmarked is a *gap*.
Two forms of the coefficient are implemented, both as pure functions on breakpoints (no
loop over characters):

``method="2016"`` (the default; what ATLAS.ti reports)
    Krippendorff, K., Mathet, Y., Bouvry, S. & Widlöcher, A. (2016). On the reliability of
    unitizing textual continua: Further developments. *Quality & Quantity* 50:2347-2364,
    erratum 50:2365; restated in Krippendorff (2019) *Content Analysis* 4th ed. §12.6.
    Agreement is counted on the lengths where the coders' segments intersect:

    * ``uα``: nominal over all values, the gap ∅ included (boundaries and codes at once);
    * ``|uα``: binary, unit versus gap (did the coders find the same stretches relevant?);
    * per code: ``|uα`` of the continuum that holds only that code (present versus absent).

``method="2004"``
    Krippendorff, K. (2004). *Content Analysis* 2nd ed. §12.4 (from Krippendorff 1995,
    *Sociological Methodology* 25:47-76): per category ``cuα`` with a squared distance
    between the boundaries of overlapping units, and the joint ``uα`` over categories.
    Reproduces the book's worked example (``cuα`` = .7286 for category c, 1 for k, joint
    .8587; the book's .8591 comes from rounded intermediates).

The formulas are transcribed in the team's ``shared/reliability/unitized-alpha.md`` and
restated next to the code that computes them below; ``docs/unitized-alpha.md`` explains the
figures to users.

Input rules, the same for both forms:

* ``spans`` maps each coder to their spans. A coder listed with no spans coded the source and
  marked nothing (all gap); a coder absent from a source's mapping did not code that source
  (missing, as a missing value in ordinary alpha).
* Overlapping spans of one coder with the same value are merged first. Spans that only touch
  (``end == next start``) stay two units: the coder drew a boundary there, and the 2016 form
  treats units as indivisible.
* Overlapping spans of one coder with *different* values (multi-coding) are handled by giving
  each value its own continuum: the per-code figures (2016 ``|uα`` per code, 2004 ``cuα``)
  and their pooled ``joint`` never need codes to be exclusive. The binary ``|uα`` ("any code"
  versus none) uses the union of a coder's spans. Only the nominal 2016 ``uα``, which needs
  each coder to give every character one value, is then undefined (``None``, with a note
  naming the first overlap), as ATLAS.ti requires the codes of a semantic domain to exclude
  each other.

Several sources are combined as one continuum made of the sources laid end to end, cut at
every source boundary so that no unit or gap runs from one source into the next
(:func:`unitized_alpha_sources`). Observed disagreement pairs segments within a source only;
expected disagreement (chance) is estimated over the whole sample, as ordinary alpha estimates
it from the values of all units rather than unit by unit. For the 2016 form this is exactly
the sum of the per-source coincidence lengths and self-pairing terms (a gap's λ is its length,
so cutting a gap changes nothing); summing per-source *disagreements* instead would estimate
chance per source and drop every source in which a code was not used.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from qualkam.errors import QualkamError

METHODS = ("2016", "2004")

Span = tuple[int, int, Hashable]
Spans = Mapping[str, Iterable[Span]]


class UnitizingError(QualkamError, ValueError):
    """Spans that cannot be placed on their source's text: outside ``[0, length)``, reversed,
    without a code, or not a ``(start, end, value)`` triple. The message names the source, the
    coder and the span."""


@dataclass
class UnitizedResult:
    """What :func:`unitized_alpha` returns.

    ``alpha`` is the headline figure named by ``coefficient``: with ``category=None`` the
    2016 nominal ``uα`` or the 2004 joint ``uα``; with a category, that category's binary
    figure (2016 ``|uα`` of its own continuum, 2004 ``cuα``). ``observed`` and ``expected``
    are the disagreements behind it (2016: the share of pairable character pairs on which
    coders differ, observed and expected by chance; 2004: the book's ``D_o`` and ``D_e``),
    so ``alpha = 1 - observed / expected``.

    ``per_category`` maps each code to its binary figure (the same as
    :func:`per_value_binary`). ``binary`` is the 2016 ``|uα``, any code versus none (``None``
    for 2004). ``joint`` is ``1 - Σ_c D_o(c) / Σ_c D_e(c)`` over the per-code continua: the
    2004 joint ``uα``, and its 2016 analogue, defined even when codes overlap.

    A figure is ``None`` when it is undefined; ``notes`` says why (fewer than 2 coders, an
    empty continuum, a code nobody used, no variation, overlapping codes).
    """

    alpha: float | None
    per_category: dict[Hashable, float | None]
    observed: float | None
    expected: float | None
    n_coders: int  # coders named in any source
    length: int  # characters in all the sources given; those left out are named in notes
    notes: list[str] = field(default_factory=list)
    method: str = "2016"
    coefficient: str = "uα"
    binary: float | None = None
    joint: float | None = None
    n_sources: int = 1


def unitized_alpha(spans: Spans, length: int, method: str = "2016", category: Hashable | None = None) -> UnitizedResult:
    """Krippendorff's unitized alpha for one continuum (one source's text).

    ``spans`` maps coder -> list of ``(start, end, value)`` half-open character spans on
    ``[0, length)``; see the module docstring for overlapping spans and coders who marked
    nothing. ``method`` is ``"2016"`` (default) or ``"2004"``; ``category`` picks one code's
    binary figure instead of the all-codes one.
    """
    return unitized_alpha_sources([(spans, length)], method=method, category=category)


def per_value_binary(spans: Spans, length: int, method: str = "2016") -> dict[Hashable, float | None]:
    """Alpha for each code on its own: code present versus absent, what qualkam reports per
    code at character level.

    2016: ``|uα`` of the continuum on which each coder's spans of that code are the units and
    everything else (other codes included) is gap. 2004: the book's ``cuα``. A code is
    ``None`` when it shows no variation (nobody used it, or everybody covered the whole text
    with it) or there are fewer than two coders.
    """
    return unitized_alpha(spans, length, method=method).per_category


def unitized_alpha_sources(
    sources: Mapping[str, tuple[Spans, int]] | Iterable[tuple[Spans, int]],
    method: str = "2016",
    category: Hashable | None = None,
) -> UnitizedResult:
    """Unitized alpha over several sources: ``{source_id: (spans, length)}`` or a list of
    ``(spans, length)`` pairs.

    The sources form one continuum laid end to end and cut at every source boundary (see the
    module docstring for why). Sources with fewer than two coders or no text add nothing and
    are named in ``notes``. A coder missing from a source is missing there, not "marked
    nothing": the 2016 form pairs only the coders present in each source, as ordinary alpha
    does with missing values; the 2004 form has no rule for that and needs the same coders on
    every source (``alpha`` is ``None`` otherwise).
    """
    if method not in METHODS:
        raise UnitizingError(f"method {method!r} is not one of {', '.join(METHODS)}")
    items = list(sources.items()) if isinstance(sources, Mapping) else list(enumerate(sources, 1))
    table = _collect(items)
    if method == "2016":
        return _result_2016(table, category)
    return _result_2004(table, category)


# --- collecting and checking the spans -------------------------------------------------


@dataclass
class _Table:
    """All sources' spans as arrays, same-value overlaps merged, sources that cannot be paired
    left out. ``m[s]`` coders and ``L[s]`` characters in source ``s``."""

    src: np.ndarray
    coder: np.ndarray
    val: np.ndarray
    start: np.ndarray
    end: np.ndarray
    values: list
    coders: list
    source_ids: list
    m: np.ndarray
    L: np.ndarray
    present: np.ndarray  # (n_sources, n_coders) bool: coder coded the source
    notes: list[str]
    total_length: int
    n_coders_all: int


def _collect(items: Sequence[tuple[object, tuple[Spans, int]]]) -> _Table:
    """Validate every span and build the arrays. Raises UnitizingError naming the span."""
    values: dict[Hashable, int] = {}
    coders: dict[str, int] = {}
    src_l: list[int] = []
    coder_l: list[int] = []
    val_l: list[int] = []
    start_l: list[int] = []
    end_l: list[int] = []
    kept_ids: list[object] = []
    kept_m: list[int] = []
    kept_L: list[int] = []
    kept_coders: list[list[int]] = []
    notes: list[str] = []
    all_coders: set[str] = set()
    total_length = 0
    for source_id, pair in items:
        try:
            spans, length = pair
        except (TypeError, ValueError):
            raise UnitizingError(f"source {source_id!r}: give (spans, length), not {pair!r}") from None
        where = f"source {source_id!r}: " if len(items) > 1 else ""
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise UnitizingError(f"{where}length {length!r} must be a whole number of characters >= 0")
        if not isinstance(spans, Mapping):
            raise UnitizingError(f"{where}spans must map each coder to their spans, not {type(spans).__name__}")
        length = int(length)
        total_length += length
        rows = []
        for name, coder_spans in spans.items():
            all_coders.add(name)
            for span in coder_spans:
                rows.append((name, *_check_span(where, name, span, length)))
                values.setdefault(rows[-1][3], len(values))
        present = list(spans)
        if len(present) < 2 or length == 0:
            if len(items) > 1:
                why = "no text" if length == 0 else f"{len(present)} coder(s)"
                notes.append(f"source {source_id!r} left out: {why}")
            continue
        s_idx = len(kept_ids)
        kept_ids.append(source_id)
        kept_m.append(len(present))
        kept_L.append(length)
        kept_coders.append([coders.setdefault(c, len(coders)) for c in present])
        for who, first, last, value in rows:
            if first == last:
                continue  # an empty span marks no character
            src_l.append(s_idx)
            coder_l.append(coders[who])
            val_l.append(values[value])
            start_l.append(first)
            end_l.append(last)
    n_src, n_cod = len(kept_ids), len(coders)
    present_arr = np.zeros((n_src, n_cod), dtype=bool)
    for s, idx in enumerate(kept_coders):
        present_arr[s, idx] = True
    src = np.asarray(src_l, dtype=np.int64)
    coder = np.asarray(coder_l, dtype=np.int64)
    val = np.asarray(val_l, dtype=np.int64)
    start = np.asarray(start_l, dtype=np.int64)
    end = np.asarray(end_l, dtype=np.int64)
    # Overlapping spans of one coder with one code are one unit (issue 4).
    nv = max(len(values), 1)
    gid, start, end = _merge_runs((src * n_cod + coder) * nv + val, start, end)
    val, rest = gid % nv, gid // nv
    coder, src = rest % max(n_cod, 1), rest // max(n_cod, 1)
    return _Table(
        src=src,
        coder=coder,
        val=val,
        start=start,
        end=end,
        values=list(values),
        coders=list(coders),
        source_ids=kept_ids,
        m=np.asarray(kept_m, dtype=np.int64),
        L=np.asarray(kept_L, dtype=np.int64),
        present=present_arr,
        notes=notes,
        total_length=total_length,
        n_coders_all=len(all_coders),
    )


def _check_span(where: str, coder: str, span: object, length: int) -> tuple[int, int, Hashable]:
    try:
        start, end, value = cast("Iterable[Any]", span)
    except (TypeError, ValueError):
        raise UnitizingError(f"{where}coder {coder!r}: span {span!r} is not (start, end, value)") from None
    if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in (start, end)):
        raise UnitizingError(f"{where}coder {coder!r}: span {span!r} needs whole-number character offsets")
    start, end = int(start), int(end)
    if not 0 <= start <= end <= length:
        raise UnitizingError(
            f"{where}coder {coder!r}: span {span!r} is not inside the text [0, {length}); "
            "spans are half-open character offsets (start <= end) into the source's text"
        )
    if value is None:
        raise UnitizingError(f"{where}coder {coder!r}: span {span!r} has no code (value None)")
    try:
        hash(value)
    except TypeError:
        raise UnitizingError(f"{where}coder {coder!r}: span {span!r}: the code must be hashable") from None
    return start, end, value


def _merge_runs(group: np.ndarray, start: np.ndarray, end: np.ndarray):
    """Sort spans by (group, start) and merge those that overlap within a group.

    Touching spans (``end == next start``) stay apart. Returns (group, start, end) of the runs.
    """
    if len(start) == 0:
        return group, start, end
    order = np.lexsort((start, group))
    g, s, e = group[order], start[order], end[order]
    big = int(e.max()) + 1
    # Running maximum of the end within each group: groups are sorted, so adding group*big
    # keeps earlier groups below every later one.
    run_end = np.maximum.accumulate(g * big + e) - g * big
    new = np.ones(len(s), dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (s[1:] >= run_end[:-1])
    first = np.flatnonzero(new)
    return g[first], s[first], np.maximum.reduceat(e, first)


def _coverage(group: np.ndarray, start: np.ndarray, end: np.ndarray, n_groups: int):
    """For spans in groups (each coder's spans in a group disjoint), with u(x) the number of
    coders covering character x: per group ``Σ_x u(x)`` and ``Σ_x u(x)²``.

    A sweep over the breakpoints: +1 at each start, -1 at each end, cumulated.
    """
    if len(start) == 0:
        return np.zeros(n_groups), np.zeros(n_groups)
    pos = np.concatenate([start, end])
    delta = np.concatenate([np.ones(len(start), np.int64), -np.ones(len(end), np.int64)])
    grp = np.concatenate([group, group])
    order = np.lexsort((pos, grp))
    pos, delta, grp = pos[order], delta[order], grp[order]
    u = np.cumsum(delta)[:-1].astype(float)  # coverage from each breakpoint to the next
    width = np.where(grp[1:] == grp[:-1], pos[1:] - pos[:-1], 0).astype(float)
    s1 = np.bincount(grp[:-1], weights=width * u, minlength=n_groups)
    s2 = np.bincount(grp[:-1], weights=width * u * u, minlength=n_groups)
    return s1, s2


def _ratio(observed: float, expected: float) -> float | None:
    return None if expected <= 0 else float(1.0 - observed / expected)


def _base_notes(t: _Table) -> list[str]:
    notes = list(t.notes)
    if t.n_coders_all < 2:
        notes.append(f"fewer than 2 coders ({t.n_coders_all}): nothing to compare")
    elif t.total_length == 0:
        notes.append("empty continuum: the text has no characters")
    elif len(t.source_ids) == 0:
        notes.append("no source has two coders and some text")
    return notes


# --- the 2016 family --------------------------------------------------------------------


def _result_2016(t: _Table, category: Hashable | None) -> UnitizedResult:
    """Krippendorff, Mathet, Bouvry & Widlöcher (2016); Krippendorff (2019) §12.6.

    Each coder i partitions [0, L) into segments s_ig with value v_ig (∅ = gap). Coincidences
    of lengths between values c and k, over ordered pairs of different coders::

        l_ck = 1/(m-1) · Σ_i Σ_{j≠i} Σ_g Σ_h |s_ig ∩ s_jh| · [v_ig = c] [v_jh = k]

    so l_c· is the length all coders gave value c and l·· = mL. Units are indivisible, gaps
    divisible into unit-length pieces: λ_ig = l_ig² for a unit, l_ig for a gap. Expected::

        e_ck = l·· · (l_c· l_k· - [c = k] Σ_{v_ig = c} λ_ig) / (l··² - Σ_ig λ_ig)

    uα (nominal) = 1 - (l·· - Σ_c l_cc) / (l·· - Σ_c e_cc)
    |uα (binary)  = 1 - Σ_{k≠∅} l_∅k / Σ_{k≠∅} e_∅k

    Pooled over sources: each source's pairs carry its own 1/(m_s - 1), l·· = Σ_s m_s L_s.
    With u(x) coders covering character x with a code, Σ_{i≠j} |C_i ∩ C_j| = Σ_x u(u - 1) and
    Σ_{i≠j} |G_i ∩ C_j| = Σ_x u(m - u); :func:`_coverage` gives those sums from breakpoints.

    cuα / (k)uα of the 2016 paper (coding within units, gaps ignored; eqs. 10-13 in 2016,
    36-38 in 2019) are not computed: their self-pairing term could not be checked against the
    paper (see docs/unitized-alpha.md).
    """
    notes = _base_notes(t)
    n_src, nv = len(t.source_ids), len(t.values)
    result = UnitizedResult(
        alpha=None,
        per_category={},
        observed=None,
        expected=None,
        n_coders=t.n_coders_all,
        length=t.total_length,
        notes=notes,
        method="2016",
        n_sources=n_src,
        coefficient="uα" if category is None else f"|uα of {category!r}",
    )
    if n_src == 0:
        result.per_category = {v: None for v in t.values}
        return result
    m = t.m.astype(float)
    pair_w = 1.0 / (m - 1.0)  # per source
    l_all = float(np.sum(m * t.L))  # l··

    # Per code, on its own continuum (code c versus everything else).
    g = t.src * max(nv, 1) + t.val
    s1, s2 = _coverage(g, t.start, t.end, n_src * max(nv, 1))
    s1, s2 = s1.reshape(n_src, -1)[:, :nv], s2.reshape(n_src, -1)[:, :nv]
    m_col, w_col = m[:, None], pair_w[:, None]
    l_c = s1.sum(axis=0)  # l_c·
    l_cc = ((s2 - s1) * w_col).sum(axis=0)  # coders agreeing on c
    l_gap_c = ((m_col * s1 - s2) * w_col).sum(axis=0)  # Σ_{k≠∅} l_∅k of c's continuum
    lengths = (t.end - t.start).astype(float)
    lam_c = np.bincount(t.val, weights=lengths * lengths, minlength=nv)  # Σ unit λ of c
    lam_all = lam_c + (l_all - l_c)  # + its gaps, λ = length
    e_gap_c = l_all * (l_all - l_c) * l_c / np.maximum(l_all * l_all - lam_all, 1e-300)
    per_category: dict[Hashable, float | None] = {}
    for k, value in enumerate(t.values):
        per_category[value] = _ratio(l_gap_c[k], e_gap_c[k])
        if per_category[value] is None:
            why = "every coder coded all of the text with it"
            if l_c[k] == 0:
                why = "nobody coded it" + (" where two coders worked" if t.notes else "")
            notes.append(f"{value!r}: no variation ({why})")
    result.per_category = per_category
    result.joint = _ratio(float(l_gap_c.sum()), float(e_gap_c[l_c > 0].sum()))

    # |uα, any code versus none: the union of each coder's spans.
    cod = t.coder
    ga, sa, ea = _merge_runs(t.src * max(len(t.coders), 1) + cod, t.start, t.end)
    src_a = ga // max(len(t.coders), 1)
    a1, a2 = _coverage(src_a, sa, ea, n_src)
    l_u = float(a1.sum())
    l_gap_u = float(((m * a1 - a2) * pair_w).sum())
    len_a = (ea - sa).astype(float)
    lam_u = float(np.sum(len_a * len_a)) + (l_all - l_u)
    e_gap_u = l_all * (l_all - l_u) * l_u / (l_all * l_all - lam_u) if l_all * l_all > lam_u else 0.0
    result.binary = _ratio(l_gap_u, e_gap_u)

    if category is not None:
        if category not in per_category:
            notes.append(f"{category!r}: nobody coded it")
            return result
        k = t.values.index(category)
        result.alpha = per_category[category]
        if e_gap_c[k] > 0:
            result.observed = float(2 * l_gap_c[k] / l_all)
            result.expected = float(2 * e_gap_c[k] / l_all)
        return result

    # uα, nominal over all values: needs one value per character and coder.
    clash = _first_overlap(t)
    if clash:
        notes.append(
            f"uα (nominal) undefined: {clash}; it needs each coder's codes to exclude each "
            "other (as ATLAS.ti's semantic domains do). Use the per-code figures, `binary` "
            "or `joint`"
        )
        return result
    # l_∅∅ from gap coverage g = m - U(x): Σ_x g(g - 1) = m²L - 2mΣU + ΣU² - mL + ΣU
    gap_gap = ((m * m * t.L - 2 * m * a1 + a2 - m * t.L + a1) * pair_w).sum()
    agree = float(l_cc.sum() + gap_gap)
    l_gap = l_all - float(l_c.sum())  # l_∅·, also its Σλ
    lam_total = float(lam_c.sum()) + l_gap
    denom = l_all * l_all - lam_total
    e_diag = l_all * (l_c * l_c - lam_c) / denom if denom > 0 else np.zeros(nv)
    e_gapgap = l_all * (l_gap * l_gap - l_gap) / denom if denom > 0 else l_all
    d_o, d_e = l_all - agree, l_all - float(e_diag.sum()) - e_gapgap
    result.alpha = _ratio(d_o, d_e) if denom > 0 else None
    if result.alpha is None:
        why = "nobody coded anything" if l_c.sum() == 0 else "every coder gave all the text one code"
        notes.append(f"uα: no variation ({why})")
    else:
        result.observed, result.expected = d_o / l_all, d_e / l_all
    return result


def _first_overlap(t: _Table) -> str | None:
    """Where one coder's spans with different codes first overlap, or None."""
    if len(t.start) < 2:
        return None
    order = np.lexsort((t.start, t.coder, t.src))
    src, cod, s, e, v = t.src[order], t.coder[order], t.start[order], t.end[order], t.val[order]
    hit = np.flatnonzero((src[1:] == src[:-1]) & (cod[1:] == cod[:-1]) & (s[1:] < e[:-1]))
    if len(hit) == 0:
        return None
    i = int(hit[0])
    where = f"source {t.source_ids[src[i]]!r}, " if len(t.source_ids) > 1 else ""
    return (
        f"{where}coder {t.coders[cod[i]]!r} has {t.values[v[i]]!r} on [{s[i]}, {e[i]}) and "
        f"{t.values[v[i + 1]]!r} on [{s[i + 1]}, {e[i + 1]})"
    )


# --- the 2004 form ----------------------------------------------------------------------


def _result_2004(t: _Table, category: Hashable | None) -> UnitizedResult:
    """Krippendorff (2004) Content Analysis 2nd ed. §12.4; Krippendorff (1995).

    Per category c each coder's continuum is a sequence of segments: begin b, length l,
    w = 1 for a unit of c, 0 for a gap. N_c = number of units of c over all coders.
    Distance between segment g of coder i and h of coder j::

        δ² = (b_ig - b_jh)² + (b_ig + l_ig - b_jh - l_jh)²   both units, overlapping
           = l_ig²     unit ig inside the gap jh;   l_jh²   unit jh inside the gap ig
           = 0         otherwise (a unit that sticks out of a gap, two gaps)

        cD_o = Σ_i Σ_{j≠i} Σ_g Σ_h δ²(ig, jh) / [m(m-1) L²]
        cD_e = (2/L) Σ_{units ig} [ (N_c - 1)(2l³ - 3l² + l)/3
                                    + l² Σ_j Σ_{gaps jh, l_jh ≥ l} (l_jh - l + 1) ]
               / [mL(mL - 1) - Σ_{units} l(l - 1)]          (j over all coders, i included)

        cuα = 1 - cD_o / cD_e;   joint uα = 1 - Σ_c cD_o / Σ_c cD_e

    A unit inside the other coder's gap is one that overlaps none of their units, so the
    observed sum is: overlapping unit pairs (both orders) plus twice Σ l² of units that
    overlap nothing of the other coder. Several sources: L is the total length and gaps are
    cut at source edges (a chance unit never straddles two sources).
    """
    notes = _base_notes(t)
    n_src, nv = len(t.source_ids), len(t.values)
    result = UnitizedResult(
        alpha=None,
        per_category={v: None for v in t.values},
        observed=None,
        expected=None,
        n_coders=t.n_coders_all,
        length=t.total_length,
        notes=notes,
        method="2004",
        n_sources=n_src,
        coefficient="uα (2004, joint)" if category is None else f"cuα of {category!r}",
    )
    if n_src == 0:
        return result
    if not t.present.all():
        notes.append(
            "the 2004 form needs the same coders on every source; "
            + ", ".join(f"{t.coders[c]!r}" for c in np.flatnonzero(~t.present.all(axis=0)))
            + " did not code them all (use method='2016', which pairs the coders present)"
        )
        return result
    if nv == 0:
        notes.append("no variation: nobody coded anything")
        return result
    m = int(t.m[0])
    L = float(t.L.sum())
    d_o = _observed_2004(t) / (m * (m - 1) * L * L)
    d_e = _expected_2004(t, m, L)
    for k, value in enumerate(t.values):
        result.per_category[value] = _ratio(d_o[k], d_e[k])
        if result.per_category[value] is None:
            why = "cD_e = 0"
            if not (t.val == k).any():
                why = "nobody coded it" + (" where two coders worked" if t.notes else "")
            notes.append(f"{value!r}: no variation ({why})")
    result.joint = _ratio(float(d_o.sum()), float(d_e.sum()))
    if category is None:
        result.alpha = result.joint
        if result.alpha is not None:
            result.observed, result.expected = float(d_o.sum()), float(d_e.sum())
        return result
    if category not in t.values:
        notes.append(f"{category!r}: nobody coded it")
        return result
    k = t.values.index(category)
    result.alpha = result.per_category[category]
    result.observed, result.expected = float(d_o[k]), float(d_e[k])
    return result


def _observed_2004(t: _Table) -> np.ndarray:
    """Σ_i Σ_{j≠i} Σ_g Σ_h δ²(ig, jh) per category, by an interval join on breakpoints."""
    nv, nc = len(t.values), len(t.coders)
    total = np.zeros(nv)
    span = int(t.L.max()) + 2
    group = t.src * nv + t.val  # one continuum per source and category
    order = np.lexsort((t.start, group, t.coder))
    cod, grp, s, e, val = t.coder[order], group[order], t.start[order], t.end[order], t.val[order]
    bounds = np.searchsorted(cod, np.arange(nc + 1))
    for i in range(nc):
        a = slice(bounds[i], bounds[i + 1])
        a_grp, a_s, a_e, a_val = grp[a], s[a], e[a], val[a]
        for j in range(nc):
            if i == j:
                continue
            b = slice(bounds[j], bounds[j + 1])
            b_grp, b_s, b_e = grp[b], s[b], e[b]
            # j's units in the same continuum overlapping [a_s, a_e): end > a_s and start < a_e;
            # within a continuum j's units are disjoint and sorted, so they form a range.
            lo = np.searchsorted(b_grp * span + b_e, a_grp * span + a_s, side="right")
            hi = np.searchsorted(b_grp * span + b_s, a_grp * span + a_e, side="left")
            count = np.maximum(hi - lo, 0)
            a_len = (a_e - a_s).astype(float)
            alone = count == 0  # inside one of j's gaps: δ² = l² from (i,j) and from (j,i)
            total += np.bincount(a_val[alone], weights=2 * a_len[alone] ** 2, minlength=nv)
            if count.sum() == 0:
                continue
            ai = np.repeat(np.arange(len(a_s)), count)
            bj = np.repeat(lo, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
            d2 = (a_s[ai] - b_s[bj]).astype(float) ** 2 + (a_e[ai] - b_e[bj]).astype(float) ** 2
            total += np.bincount(a_val[ai], weights=d2, minlength=nv)
    return total


def _expected_2004(t: _Table, m: int, L: float) -> np.ndarray:
    """cD_e per category (see :func:`_result_2004`), gaps of all coders in all sources."""
    nv, nc, ns = len(t.values), len(t.coders), len(t.source_ids)
    length = (t.end - t.start).astype(float)
    n_units = np.bincount(t.val, minlength=nv).astype(float)
    # Gaps: before each unit, after the last unit of each (category, source, coder), and the
    # whole source where a coder has no unit of the category.
    trip = (t.val * ns + t.src) * nc + t.coder
    order = np.lexsort((t.start, trip))
    tr, s, e = trip[order], t.start[order], t.end[order]
    first = np.ones(len(tr), dtype=bool)
    first[1:] = tr[1:] != tr[:-1]
    last = np.ones(len(tr), dtype=bool)
    last[:-1] = tr[1:] != tr[:-1]
    prev_end = np.where(first, 0, np.concatenate([[0], e[:-1]]))
    gap_len = [s - prev_end, t.L[(tr[last] // nc) % ns] - e[last]]
    gap_val = [tr // (ns * nc), tr[last] // (ns * nc)]
    empty = np.flatnonzero(np.bincount(trip, minlength=nv * ns * nc) == 0)
    gap_len.append(t.L[(empty // nc) % ns])
    gap_val.append(empty // (ns * nc))
    g_len, g_val = np.concatenate(gap_len), np.concatenate(gap_val)
    keep = g_len > 0
    g_len, g_val = g_len[keep], g_val[keep]
    # Σ_{gaps of c with l_g ≥ l} (l_g - l + 1) for each unit, from sorted gaps and prefix sums.
    span = int(t.L.max()) + 2
    g_order = np.lexsort((g_len, g_val))
    g_key = (g_val * span + g_len)[g_order]
    csum = np.concatenate([[0.0], np.cumsum(g_len[g_order].astype(float))])
    block_end = np.searchsorted(g_key, (t.val + 1) * span, side="left")
    at = np.searchsorted(g_key, t.val * span + (t.end - t.start), side="left")
    fits = (block_end - at).astype(float)
    fit_sum = csum[block_end] - csum[at]
    within = fit_sum - (length - 1.0) * fits
    per_unit = (n_units[t.val] - 1.0) * (2 * length**3 - 3 * length**2 + length) / 3.0 + length**2 * within
    numer = (2.0 / L) * np.bincount(t.val, weights=per_unit, minlength=nv)
    denom = m * L * (m * L - 1.0) - np.bincount(t.val, weights=length * (length - 1.0), minlength=nv)
    return np.where(denom > 0, numer / np.where(denom > 0, denom, 1.0), 0.0)
