"""Words beside the numbers: Krippendorff's thresholds, Landis & Koch's bands, the kappa paradox."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

ALPHA_RELIABLE = 0.800
ALPHA_TENTATIVE = 0.667
# Share of the rarer category below which kappa is unstable (issue 4): a convention, not a law.
PARADOX_SHARE = 0.10

# Landis, J. R. & Koch, G. G. (1977). The measurement of observer agreement for categorical
# data. Biometrics 33(1):159-174, p. 165. Upper bounds of each band.
_LANDIS_KOCH = ((0.0, "poor"), (0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial"))


def interpret_alpha(value: float | None) -> str:
    """Krippendorff's (2004, p. 241; 2011) reading of alpha: rely on variables with
    alpha >= .800, draw tentative conclusions from .667 <= alpha < .800, discard the rest."""
    if value is None or value != value:
        return "not computed"
    if value >= ALPHA_RELIABLE:
        return "reliable"
    if value >= ALPHA_TENTATIVE:
        return "tentative conclusions only"
    return "unreliable"


def interpret_kappa(value: float | None) -> str:
    """Landis & Koch (1977) bands: < 0 poor, up to .20 slight, .40 fair, .60 moderate,
    .80 substantial, above .80 almost perfect. Meant for kappa-type coefficients."""
    if value is None or value != value:
        return "not computed"
    if value < 0:
        return "poor"
    for upper, label in _LANDIS_KOCH[1:]:
        if value <= upper:
            return label
    return "almost perfect"


def _shares(prevalence: float | Mapping[object, float] | Iterable[float]) -> list[float]:
    if isinstance(prevalence, Mapping):
        return [float(v) for v in prevalence.values()]
    if isinstance(prevalence, (int, float)):
        return [float(prevalence), 1.0 - float(prevalence)]
    return [float(v) for v in prevalence]


def paradox_warning(prevalence: float | Mapping[object, float] | Iterable[float] | None) -> str | None:
    """A warning when one category dominates, else None.

    ``prevalence`` is the share of a code among all ratings (binary data), or the shares of
    every category (a mapping or a sequence). When the rarer side is below 10%, chance
    agreement is close to 1 and kappa (Cohen, Scott, Fleiss) can be low, or swing widely, even
    though the coders nearly always agree: the "kappa paradox" (Feinstein & Cicchetti 1990,
    J Clin Epidemiol 43:543-549; Gwet 2008, Br J Math Stat Psychol 61:29-48).
    """
    if prevalence is None:
        return None
    shares = [s for s in _shares(prevalence) if s == s]
    if len(shares) < 2 or sum(shares) <= 0:
        return None
    total = sum(shares)
    dominant = max(shares) / total
    rarer = 1.0 - dominant
    if rarer >= PARADOX_SHARE:
        return None
    return (
        f"kappa paradox: one category holds {dominant:.1%} of ratings (the rest {rarer:.1%}); "
        "kappa is unstable here, read Gwet's AC1 and Krippendorff's alpha beside it"
    )
