"""Numbers for reading: the one "number or dash" every renderer uses (issue 12).

A count shows as a count, a share or coefficient with a fixed number of places, and a value
that is not there (None, NaN, pandas' NA) as a dash, so an empty cell never passes for a zero.
``missing`` is the one test for "not there"; ``plain`` turns cells into data JSON can hold
(``qualkam.render.files.json_text`` passes everything through it).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

DASH = "—"


def missing(value: Any) -> bool:
    """None, NaN, pandas' NA or NaT: a value that is not there."""
    if value is None:
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return math.isnan(float(value))
    return type(value).__name__ in ("NAType", "NaTType")  # pandas' NA and NaT, without importing pandas


def plain(value: Any) -> Any:
    """``value`` as plain Python data for JSON: None where :func:`missing`, numpy scalars as Python
    numbers, dicts, lists and tuples walked (a tuple becomes a list, as in JSON)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if missing(value):
        return None
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:  # a numpy scalar; numpy not imported
        return value.item()
    return value


def number(value: Any, places: int = 3, dash: str = DASH, whole: bool = False) -> str:
    """``value`` as text: a count as is, any other number with ``places`` decimals (a whole one
    without them if ``whole``), ``dash`` when missing; text and booleans as they are."""
    if missing(value):
        return dash
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    real = float(value)
    if whole and real.is_integer():
        return str(int(real))
    shown = f"{real:.{places}f}"
    # a value that rounds to zero is shown as 0, never -0.000 (a bootstrap bound just under 0)
    return shown[1:] if shown.startswith("-") and float(shown) == 0 else shown
