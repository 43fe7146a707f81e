"""The agreement engine: every reliability coefficient qualkam reports (issue 4).

Public API (``from qualkam.agreement import ...``):

- :func:`coefficients` - percent agreement, Cohen's kappa, Scott's pi, Fleiss' kappa,
  Brennan & Prediger, Gwet's AC1 and Krippendorff's alpha for any coders x units data.
- :func:`bootstrap` - 95% intervals for alpha (Hayes & Krippendorff 2007) and kappa, and
  the probability that alpha is below a minimum.
- :func:`per_code` - the fast path for codes x coders x units presence data.
- :func:`set_alpha` - alpha over the set of codes each coder gave a unit (MASI or Jaccard).
- :func:`interpret_alpha`, :func:`interpret_kappa`, :func:`paradox_warning`.
- :func:`read_long`, :func:`long_to_ratings` - long CSV files in, validated.

Formulas, sources and the rules for degenerate data: docs/agreement.md.
"""

from __future__ import annotations

from qualkam.agreement._binary import per_code
from qualkam.agreement._bootstrap import BootstrapResult, bootstrap
from qualkam.agreement._core import COEFFICIENTS, JSON_KEYS, AgreementResult, coefficients
from qualkam.agreement._data import LEVELS, long_to_ratings, read_long
from qualkam.agreement._interpret import interpret_alpha, interpret_kappa, paradox_warning
from qualkam.agreement._sets import jaccard_distance, masi_distance, set_alpha

__all__ = [
    "COEFFICIENTS",
    "JSON_KEYS",
    "LEVELS",
    "AgreementResult",
    "BootstrapResult",
    "bootstrap",
    "coefficients",
    "interpret_alpha",
    "interpret_kappa",
    "jaccard_distance",
    "long_to_ratings",
    "masi_distance",
    "paradox_warning",
    "per_code",
    "read_long",
    "set_alpha",
]
