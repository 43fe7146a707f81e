"""How fast ``qualkam --help`` starts, against a bare ``python -c "import typer, rich"`` (issue 12,
point 7: within 3x).

Runs each command N times in a fresh interpreter, one after the other, and prints the median
wall time of both and their ratio. Not a test (timings depend on the machine and its load):
``python bench/start.py [-n 15]``. Exit 0 when the ratio is within ``--limit`` (default 3), else 1.
The unit test tests/test_cli.py::test_help_imports_nothing_heavy checks the cause instead: no
spaCy, pandas, scikit-learn or matplotlib is imported by ``qualkam --help``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = [sys.executable, "-c", "import typer, rich"]
HELP = [sys.executable, "-m", "qualkam", "--help"]


def seconds(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=15, help="runs of each command (default 15)")
    parser.add_argument("--limit", type=float, default=3.0, help="the ratio to stay within (default 3)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode is written once and reused
    seconds(HELP, env)  # warm the file cache and the bytecode once, for both
    base, help_ = [], []
    for _ in range(args.n):  # interleaved, so a burst of load hits both alike
        base.append(seconds(BASELINE, env))
        help_.append(seconds(HELP, env))
    b, h = statistics.median(base), statistics.median(help_)
    print(f"python -c 'import typer, rich': median {b:.3f} s over {args.n} runs")
    print(f"qualkam --help:                 median {h:.3f} s over {args.n} runs")
    print(f"ratio: {h / b:.1f}x (limit {args.limit:g}x)")
    return 0 if h / b <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
