"""Benchmark of ``qualkam agreement`` on many distinct values (issue 14): is it linear?

Generates long ratings (one row per unit x coder, 3 coders, 5% missing) of continuous values
(gamma-distributed truth plus each coder's noise, 6 decimals: nearly every rating a distinct
value), then times, for 10k, 100k and 1M rows:

- ``coefficients`` on the coders x units matrix (all seven coefficients, alpha at the level),
- the whole ``qualkam agreement`` path: ``read_long`` of the CSV, ``long_to_ratings``,
  ``coefficients``,

at the nominal (every distinct value a category), interval and ratio levels, plus ratio on
values to one decimal (distinct values bounded, as measurements usually are). It prints the
time per row and the ratio of time per row between one size and the next: near 1 means
linear. The ratio level's expected disagreement visits every pair of distinct values (no
closed form), so continuous ratio data are quadratic in distinct values; sizes whose pairs
would take longer than ``--budget`` seconds are not run, and their time is estimated from
the measured time per pair. Not a test: ``python bench/agreement.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without installing

from qualkam.agreement import coefficients, long_to_ratings, read_long  # noqa: E402
from qualkam.agreement._core import _ratio_expected_sum  # noqa: E402

HEADER = "qualkam agreement benchmark (issue 14)"
CODERS = 3


def make_ratings(rows: int, decimals: int, seed: int) -> np.ndarray:
    """coders x units of values >= 0 (NaN = missing), rows = coders x units."""
    rng = np.random.default_rng(seed)
    units = rows // CODERS
    truth = rng.gamma(2.0, 10.0, units)
    ratings = np.abs(truth[None, :] + rng.normal(0.0, 2.0, (CODERS, units))).round(decimals)
    ratings[rng.random(ratings.shape) < 0.05] = np.nan
    return ratings


def write_long(ratings: np.ndarray, path: Path) -> None:
    with path.open("w") as out:
        out.write("unit,coder,value\n")
        for coder, row in enumerate(ratings):
            out.writelines(f"u{unit},c{coder},{'' if v != v else repr(float(v))}\n" for unit, v in enumerate(row))


def ns_per_pair() -> float:
    """The ratio sum's time per pair of distinct values, measured on 20,000 of them."""
    x = np.sort(np.random.default_rng(1).random(20_000))
    start = time.perf_counter()
    _ratio_expected_sum(x, np.ones_like(x))
    return (time.perf_counter() - start) / (x.size * (x.size - 1) / 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=float, default=120.0, help="seconds of ratio pairs a size may take")
    parser.add_argument("--no-csv", action="store_true", help="time coefficients only, not the CSV path")
    args = parser.parse_args(argv)
    per_pair = ns_per_pair()
    cases = [("nominal", 6), ("interval", 6), ("ratio", 6), ("ratio", 1)]
    print(f"{HEADER}: {CODERS} coders, 5% missing, seed {args.seed}; ratio sum {per_pair * 1e9:.1f} ns a pair")
    print(f"{'level':<18} {'rows':>9} {'distinct':>9} {'coefficients s':>15} {'us/row':>7} {'x prev':>7}", end="")
    print("" if args.no_csv else f" {'CSV path s':>11} {'us/row':>7} {'x prev':>7}")
    with tempfile.TemporaryDirectory() as folder:
        for level, decimals in cases:
            label = f"{level}" + (" (to 0.1)" if decimals == 1 else "")
            previous: tuple[float, float] | None = None
            for rows in args.sizes:
                ratings = make_ratings(rows, decimals, args.seed)
                distinct = np.unique(ratings[~np.isnan(ratings)]).size
                pairs = distinct * (distinct - 1) / 2
                if level == "ratio" and pairs * per_pair > args.budget:
                    print(
                        f"{label:<18} {rows:>9,} {distinct:>9,} {'not run':>15}   (the ratio pairs alone: "
                        f"about {pairs * per_pair:,.0f} s)"
                    )
                    continue
                start = time.perf_counter()
                result = coefficients(ratings, level=level)
                lib = time.perf_counter() - start
                line = f"{label:<18} {rows:>9,} {distinct:>9,} {lib:>15.3f} {lib / rows * 1e6:>7.2f}"
                line += f" {lib / rows / previous[0]:>7.2f}" if previous else f" {'':>7}"
                csv_time = float("nan")
                if not args.no_csv:
                    path = Path(folder) / f"{level}{decimals}-{rows}.csv"
                    write_long(ratings, path)
                    start = time.perf_counter()
                    via_csv = coefficients(long_to_ratings(read_long(path, level=level)), level=level)
                    csv_time = time.perf_counter() - start
                    line += f" {csv_time:>11.3f} {csv_time / rows * 1e6:>7.2f}"
                    line += f" {csv_time / rows / previous[1]:>7.2f}" if previous else f" {'':>7}"
                    same = via_csv.krippendorff_alpha == result.krippendorff_alpha
                    line += "" if same else f"  alpha differs: {via_csv.krippendorff_alpha} {result.krippendorff_alpha}"
                print(line, flush=True)
                previous = (lib / rows, csv_time / rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
