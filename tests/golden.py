"""Golden files for the turn parser: the fixture and its expected JSON side by side.

``python -m tests.golden`` rewrites the expected files from the current parser. Run it only
after a deliberate change to the turn rules, then read the diff line by line: the expected
files are the specification the tests hold the parser to.
"""

from __future__ import annotations

import json
from pathlib import Path

from qualkam.coding.segment import resolve_turns, text_turns
from qualkam.sources.formats import read_source
from qualkam.sources.metadata import build_meta

TURNS = Path(__file__).parent / "fixtures" / "turns"


def cases() -> list[Path]:
    return sorted(p for p in TURNS.iterdir() if p.suffix in {".txt", ".md"})


def expected(path: Path) -> list[dict]:
    """What the parser makes of one fixture, in the golden files' shape."""
    raw = read_source(path)
    meta = build_meta(raw.front_matter or {}, str(path))
    return [
        {"speaker": s, "role": r, "unit": u, "time": t.time_start, "text": raw.text[t.start : t.end]}
        for t, s, r, u in resolve_turns(text_turns(raw.text, meta), meta)
    ]


if __name__ == "__main__":
    for case in cases():
        case.with_name(case.name + ".json").write_text(json.dumps(expected(case), indent=1, ensure_ascii=False) + "\n")
