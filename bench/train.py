"""Benchmark of learned suggestions (issue 6): training time and suggestion speed.

Generates a project deterministically: a codebook of ``--codes`` codes (two poles and one
group without a pole), each with its own words, of which the codebook's rules know only two;
``--coded`` speaker turns in sources of 50 turns, each turn holding 0-2 codes' words among
common English filler and a stray word of another code now and then; a person (``bench``)
accepts the true codes of every turn. Then it times

- ``qualkam train`` on those codings (cross-validation by source, calibration, final model),
- ``qualkam code`` over a second, unseen folder of about ``--words`` words with the rules
  alone, with the model alone and with both (outputs not written, the same work otherwise;
  loading the model is part of the run; best of ``--repeats``),

and prints the cross-validated micro F1 of the rules and the model. Not a test:
``python bench/train.py`` (defaults: 2,000 coded segments, 30 codes, 100,000 words);
``--embeddings``: the model with the optional embedding classifier (issue 15).
Targets on a 2-core machine: training within 2 minutes; suggesting with the model at no
less than half the speed of the rules alone. Exit 0, or 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without installing

from qualkam.coding.codebook import load_codebook  # noqa: E402
from qualkam.coding.decisions import Action, apply_decision  # noqa: E402
from qualkam.coding.learn import train  # noqa: E402
from qualkam.coding.run import code_folder  # noqa: E402
from qualkam.store.project import Project  # noqa: E402
from qualkam.store.training import segments  # noqa: E402

HEADER = "qualkam train benchmark"
TURNS_PER_SOURCE = 50
FILLER = """the a and to of in that it we was for on with as they have be at this but he had not you are
from or by one all were there when what so their which said if do will about would out up them then she
many some time could people into has more other two like him see now than first been who its over only
new after work year back use way well also good because any give day most us think say meeting account
team customer business plan month week report number talk point issue part thing place case group
company question right left call need feel know make take come look want tell ask seem try leave put
mean keep let begin help show hear play run move live believe bring happen write provide sit stand lose
pay meet include continue set learn change lead understand watch follow stop create speak read spend
grow open walk win offer remember consider appear buy wait serve die send expect build stay fall cut
reach kill remain suggest raise pass sell require decide pull""".split()
SYLLABLES = ["ba", "ke", "lo", "mi", "nu", "ra", "si", "to", "ve", "zu", "da", "fe", "go", "hi", "ju", "pa"]


def code_words(codes: int, per_code: int, rng: random.Random) -> list[list[str]]:
    """Distinct made-up words per code (three syllables), so codes do not share vocabulary."""
    used: set[str] = set()
    words = []
    for _ in range(codes):
        mine = []
        while len(mine) < per_code:
            word = "".join(rng.choice(SYLLABLES) for _ in range(3))
            if word not in used:
                used.add(word)
                mine.append(word)
        words.append(mine)
    return words


def codebook_yaml(words: list[list[str]]) -> str:
    """Three parents: a formal pole, a post-bureaucratic pole, and a group with no pole; the
    rules know two words of each code."""
    lines = ["name: Bench codebook", 'version: "1"', "codes:"]
    third = max(1, len(words) // 3)
    parents = [("formal_dims", "formal"), ("post_dims", "post_bureaucratic"), ("context", None)]
    for p, (parent, pole) in enumerate(parents):
        members = range(p * third, len(words) if p == 2 else (p + 1) * third)
        lines += [f"  - id: {parent}", f"    label: {parent}", "    children:"]
        for i in members:
            attrs = f"{{pole: {pole}}}" if pole else "{}"
            lines += [
                f"      - id: code{i:02d}",
                f"        label: Code {i}",
                f"        attributes: {attrs}",
                "        patterns:",
                f"          lemmas: [{words[i][0]}, {words[i][1]}]",
            ]
    return "\n".join(lines) + "\n"


def turn(rng: random.Random, words: list[list[str]], codes: list[int], length: int) -> str:
    body = [rng.choice(FILLER) for _ in range(length)]
    for c in codes:
        for w in rng.sample(words[c], rng.randint(2, 4)):
            body.insert(rng.randrange(len(body) + 1), w)
    if rng.random() < 0.15:  # a stray word of some code: noise for the rules and the model
        body.insert(rng.randrange(len(body) + 1), rng.choice(rng.choice(words)))
    return " ".join(body).capitalize() + "."


def write_corpus(
    folder: Path, words: list[list[str]], turns: int, length: int, seed: int, prefix: str
) -> dict[tuple[str, int], list[int]]:
    """Sources of TURNS_PER_SOURCE turns; returns (source id, turn position) -> true codes."""
    rng = random.Random(seed)
    truth: dict[tuple[str, int], list[int]] = {}
    folder.mkdir(parents=True, exist_ok=True)
    for s in range((turns + TURNS_PER_SOURCE - 1) // TURNS_PER_SOURCE):
        sid = f"{prefix}{s:03d}"
        n = min(TURNS_PER_SOURCE, turns - s * TURNS_PER_SOURCE)
        lines = ["---", f"id: {sid}", "type: interview", "---"]
        for t in range(n):
            k = rng.choices([0, 1, 2], weights=[0.35, 0.45, 0.20])[0]
            codes = rng.sample(range(len(words)), k)
            truth[(sid, t)] = codes
            lines += [f"{'Ann' if t % 2 else 'Bob'}: {turn(rng, words, codes, length)}", ""]
        (folder / f"{sid}.md").write_text("\n".join(lines), encoding="utf-8")
    return truth


def timed(run):
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coded", type=int, default=2000, help="coded segments to train on")
    parser.add_argument("--codes", type=int, default=30)
    parser.add_argument("--words", type=int, default=100_000, help="words in the folder to suggest on")
    parser.add_argument("--turn-words", type=int, default=40, help="filler words per turn")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="time each coding run this many times, keep the best")
    parser.add_argument("--embeddings", action="store_true", help="train with the optional embeddings (the extra)")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    words = code_words(args.codes, 12, rng)
    with tempfile.TemporaryDirectory(prefix="qualkam-bench-") as tmp:
        root = Path(tmp)
        book_path = root / "bench.yaml"
        book_path.write_text(codebook_yaml(words), encoding="utf-8")
        book = load_codebook(book_path)
        truth = write_corpus(root / "coded", words, args.coded, args.turn_words, args.seed, "c")
        db = root / "project.db"
        with Project.open(db, create=True) as project:
            code_folder(root / "coded", book, project, out_dir=None)
            frame = segments(project)
            ids = {
                (s, int(p)): int(i)
                for s, p, i in zip(frame["source"], frame["position"], frame["segment"], strict=True)
            }
            with project.transaction():  # one person codes every turn (bulk, one transaction)
                for key, codes in truth.items():
                    for c in codes:  # turns left uncoded are negatives: the person saw their source
                        apply_decision(project, "bench", ids[key], f"code{c:02d}", Action.add, via="bench")
            options: dict[str, object] = {"epochs": args.epochs} if args.epochs else {}
            if args.embeddings:  # issue 15: the model with the embedding classifier
                options["embeddings"] = True
            train_time, result = timed(
                lambda: train(project, layer="coder:bench", min_examples=5, folds=args.folds, seed=args.seed, **options)
            )
        # A second, unseen folder of about --words words: rules alone, model alone, both.
        per_turn = args.turn_words + 4
        fresh_turns = max(TURNS_PER_SOURCE, args.words // per_turn)
        write_corpus(root / "fresh", words, fresh_turns, args.turn_words, args.seed + 1, "f")
        total_words = sum(len(p.read_text(encoding="utf-8").split()) for p in (root / "fresh").glob("*.md"))
        timings: dict[str, float] = {}
        for _ in range(args.repeats):  # modes interleaved, best of each kept: a busy machine hits all alike
            for mode in ("rules", "model", "both"):
                copy = root / f"{mode}.db"  # a fresh copy each time, so every source is coded anew
                shutil.copy(db, copy)
                with Project.open(copy) as project:
                    seconds, report = timed(
                        partial(code_folder, root / "fresh", book, project, out_dir=None, suggest=mode)
                    )
                timings[mode] = min(seconds, timings.get(mode, seconds))
                timings[mode + "_suggestions"] = report.suggestions
    overall = result.metrics["overall"]
    rows = [
        (
            f"train: {result.segments} segments, {len(result.codes)} codes, {result.metrics['folds']} folds + final",
            f"{train_time:.1f} s",
        ),
        (
            "cross-validated micro F1: rules / model",
            f"{overall['rules']['micro']['f1']:.3f} / {overall['model']['micro']['f1']:.3f}",
        ),
        (
            "cross-validated macro F1: rules / model",
            f"{overall['rules']['macro']['f1']:.3f} / {overall['model']['macro']['f1']:.3f}",
        ),
    ]
    for mode in ("rules", "model", "both"):
        rows.append(
            (
                f"code --suggest {mode}: {total_words:,} words ({timings[mode + '_suggestions']:,} suggestions)",
                f"{timings[mode]:.2f} s, {total_words / timings[mode]:,.0f} words/s",
            )
        )
    ratio_model = timings["rules"] / timings["model"]
    ratio_both = timings["rules"] / timings["both"]
    rows += [
        ("speed with the model / rules alone (model, both)", f"{ratio_model:.2f}, {ratio_both:.2f}"),
        ("target: training within 2 minutes", "met" if train_time <= 120 else "MISSED"),
        ("target: model at least half the speed of rules", "met" if min(ratio_model, ratio_both) >= 0.5 else "MISSED"),
    ]
    width = max(len(r[0]) for r in rows)
    print(
        f"{HEADER}: {args.coded} coded segments, {args.codes} codes, seed {args.seed}"
        + (" (model with embeddings)" if args.embeddings else "")
    )
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0 if train_time <= 120 and min(ratio_model, ratio_both) >= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
