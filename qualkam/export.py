"""Exports: coded excerpts and matrices as CSV, always written atomically.

A failed export must never replace a good file with a broken one, so every file is written
to a temporary file in the target folder and moved into place with ``os.replace``.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

import pandas as pd

from . import __version__
from .cells import frame_csv
from .errors import QualkamError
from .matrix import build_matrix
from .store import Project

EXCERPT_COLUMNS = [
    "source", "segment", "speaker", "role", "unit", "source_type", "phase", "date", "start", "end", "code",
    "code_label", "coder", "origin", "status", "score", "evidence", "text",
]


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = "") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one step."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise QualkamError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **kwargs) as handle:
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; outputs in a shared folder are not
            yield handle
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_csv(frame: pd.DataFrame, path: str | Path, index: bool = False) -> Path:
    """Write a DataFrame as UTF-8 CSV atomically."""
    with atomic_open(path) as handle:
        handle.write(frame_csv(frame, index=index))
    return Path(path)


def evidence_item_text(e: dict) -> str:
    """One piece of evidence for a CSV cell: the words, the rule and where they are in the
    source; a model suggestion's evidence is a similar segment elsewhere, so it has no offsets."""
    if "start" in e:
        return f"{e['text']} [{e['rule']}] @{e['start']}-{e['end']}"
    return f"{e.get('text', '')} [{e.get('rule')}: segment {e.get('segment')} of {e.get('source')}, " \
           f"similarity {e.get('similarity')}]"


def _evidence_text(raw: str) -> str:
    items = json.loads(raw or "[]")
    return "; ".join(evidence_item_text(e) for e in items)


def excerpts_frame(project: Project) -> pd.DataFrame:
    """One row per segment x code x coder: every suggestion and every human coding."""
    frame = pd.read_sql_query(
        """SELECT src.id AS source, c.segment_id AS segment, s.speaker, s.role, s.speaker_unit AS unit,
                  src.type AS source_type, src.phase, src.date, c.start, c."end" AS "end", c.code_id AS code,
                  COALESCE(k.label, c.code_id) AS code_label, c.coder, c.origin, c.status, c.score,
                  c.evidence, c.text
           FROM codings c JOIN sources src ON src.id = c.source_id
           LEFT JOIN segments s ON s.id = c.segment_id
           LEFT JOIN codes k ON k.id = c.code_id
           ORDER BY src.id, c.start, k.position, c.coder""",
        project.conn,
    )
    frame["evidence"] = frame["evidence"].map(_evidence_text)
    frame["segment"] = frame["segment"].astype("Int64")
    return frame[EXCERPT_COLUMNS]


MANIFEST = ".qualkam-outputs.json"  # what the outputs in a folder were made from


def _made_from(project: Project, layer: str) -> dict[str, Any]:
    uid, revision = project.revision()
    return {"project": str(project.path.resolve()), "project_uid": uid, "revision": revision,
            "counts": project.counts(), "layer": layer, "qualkam": __version__}


def _file_stamps(paths: list[Path]) -> dict[str, list[int]]:
    stamps = {}
    for path in paths:
        st = path.stat()
        stamps[path.name] = [st.st_size, st.st_mtime_ns]
    return stamps


def _up_to_date(out: Path, made_from: dict[str, Any], names: list[str]) -> bool:
    """The folder's outputs were made from this very state of the project and are untouched."""
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        return manifest.get("made_from") == made_from and manifest.get("files") == _file_stamps([out / n for n in names])
    except (OSError, ValueError):
        return False


def write_outputs(project: Project, out_dir: str | Path, layer: str = "auto") -> list[Path]:
    """The standard outputs of ``qualkam code``: excerpts and the two triangulation matrices.

    Outputs already made from the same project revision (and not touched since) are left as
    they are, so re-running over an unchanged archive does not rebuild them.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise QualkamError(f"--out {out} is a file; give a folder for the outputs")
    names = ["excerpts.csv", "matrix_phase_code.csv", "matrix_source_type_code.csv"]
    made_from = _made_from(project, layer)
    if _up_to_date(out, made_from, names):
        return [out / name for name in names]
    written = [write_csv(excerpts_frame(project), out / names[0])]
    for rows, name in (("phase", names[1]), ("source_type", names[2])):
        written.append(write_csv(build_matrix(project, rows=rows, cols="code", layer=layer), out / name, index=True))
    with atomic_open(out / MANIFEST) as handle:
        json.dump({"made_from": made_from, "files": _file_stamps(written)}, handle, indent=1)
    return written
