"""Benchmark of qualkam's agreement engine (issue 4): per_code on qualkam's main case against
the ``krippendorff`` package.

Generates presence data deterministically (codes x coders x segments of 0/1, prevalences from
1% to 40%, coders who miss and add codes, some segments not seen), then times

- qualkam's point estimates for every code (all seven coefficients),
- the ``krippendorff`` package computing the same nominal alphas, one code at a time,
- qualkam with every coefficient and the bootstrap (Hayes & Krippendorff for alpha, units
  for kappa),

and checks that the alphas agree to 1e-9. Not a test: ``python bench/reliability.py``
(defaults: 50 codes x 20,000 segments x 3 coders, 1,000 replicates). Targets: our point
estimates no slower than the package; the whole run under 10 s on a 2-core machine.
Exit 0, or 1 if the alphas disagree. Needs numpy, pandas and (for the comparison) krippendorff.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without installing

from qualkam.agreement import per_code  # noqa: E402

HEADER = "qualkam agreement benchmark"


def make_presence(codes: int, segments: int, coders: int, seed: int) -> np.ndarray:
    """codes x coders x segments of 0/1 with NaN where a coder did not see a segment."""
    rng = np.random.default_rng(seed)
    prevalence = np.geomspace(0.01, 0.40, codes)
    truth = rng.random((codes, segments)) < prevalence[:, None]
    miss = rng.uniform(0.05, 0.30, (codes, coders, 1))  # a coder overlooks a present code
    extra = prevalence[:, None, None] * rng.uniform(0.02, 0.10, (codes, coders, 1))  # or adds an absent one
    draw = rng.random((codes, coders, segments))
    given = np.where(truth[:, None, :], draw >= miss, draw < extra)
    presence = given.astype(float)
    # The last coder saw 90% of the sources (blocks of 50 segments); 0.5% of cells are missing at random.
    unseen = np.repeat(rng.random(segments // 50 + 1) < 0.10, 50)[:segments]
    presence[:, -1, unseen] = np.nan
    presence[rng.random(presence.shape) < 0.005] = np.nan
    return presence


def best_of(repeats: int, run):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=50)
    parser.add_argument("--segments", type=int, default=20_000)
    parser.add_argument("--coders", type=int, default=3)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="time each step this many times, keep the best")
    args = parser.parse_args(argv)

    wall = time.perf_counter()
    presence = make_presence(args.codes, args.segments, args.coders, args.seed)
    names = [f"code{i:02d}" for i in range(args.codes)]
    ours_time, ours = best_of(args.repeats, lambda: per_code(presence, names))
    try:
        import krippendorff
    except ImportError:
        krippendorff = None
    if krippendorff is not None:

        def package_alphas() -> np.ndarray:
            return np.array(
                [
                    krippendorff.alpha(
                        reliability_data=presence[i], level_of_measurement="nominal", value_domain=[0.0, 1.0]
                    )
                    for i in range(args.codes)
                ]
            )

        theirs_time, theirs = best_of(args.repeats, package_alphas)
        diff = float(np.nanmax(np.abs(ours["krippendorff_alpha"].to_numpy() - theirs)))
        agree = diff <= 1e-9 and np.array_equal(np.isnan(theirs), ours["krippendorff_alpha"].isna().to_numpy())
    full_time, full = best_of(1, lambda: per_code(presence, names, replicates=args.replicates, seed=args.seed))
    wall = time.perf_counter() - wall

    rows = [("qualkam per_code, point estimates (7 coefficients)", f"{ours_time:.4f}")]
    if krippendorff is not None:
        rows += [
            ("krippendorff package, nominal alpha only", f"{theirs_time:.4f}"),
            ("ratio package / qualkam", f"{theirs_time / ours_time:.1f}x"),
        ]
    rows += [
        (f"qualkam per_code + bootstrap ({args.replicates} replicates)", f"{full_time:.4f}"),
        ("whole run (data, timings, checks)", f"{wall:.2f}"),
    ]
    if krippendorff is not None:
        rows.append(("alphas agree to 1e-9", f"{'yes' if agree else 'NO'} (max |diff| {diff:.1e})"))
        rows.append(
            ("target: point estimates no slower than the package", "met" if ours_time <= theirs_time else "MISSED")
        )
    rows.append(("target: whole run under 10 s", "met" if wall < 10 else "MISSED"))
    width = max(len(r[0]) for r in rows)
    print(f"{HEADER}: {args.codes} codes x {args.segments} segments x {args.coders} coders, seed {args.seed}")
    print(f"{'step':<{width}}  seconds / result")
    print(f"{'-' * width}  {'-' * 24}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    prevalence = full["prevalence"]
    print(
        f"prevalence {prevalence.min():.3f}..{prevalence.max():.3f}; alpha {full['krippendorff_alpha'].min():.3f}.."
        f"{full['krippendorff_alpha'].max():.3f}; mean 95% alpha interval width "
        f"{(full['alpha_high'] - full['alpha_low']).mean():.3f}"
    )
    if krippendorff is not None and not agree:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
