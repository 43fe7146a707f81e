"""Exports: coded excerpts and matrices as CSV, always written atomically.

A failed export must never replace a good file with a broken one, so every file is written
to a temporary file in the target folder and moved into place with ``os.replace``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pandas as pd

from qualkam import __version__
from qualkam.analysis.excerpts import (
    ALL_LAYER,
    EXCERPT_COLUMNS,
    csv_frame,
    evidence_item_text,
    retrieve,
)
from qualkam.analysis.matrix import build_matrix
from qualkam.errors import QualkamError
from qualkam.render.cells import frame_csv
from qualkam.store.project import Project

__all__ = ["EXCERPT_COLUMNS", "atomic_open", "evidence_item_text", "excerpts_frame", "write_csv", "write_outputs"]


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_open(
    path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = ""
) -> Iterator[IO]:
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


def excerpts_frame(project: Project, by_coder: bool = False) -> pd.DataFrame:
    """Every coding of the project (suggestions, people's acceptances and rejections) in
    reading order (source, then position), one row per segment x code with the people who
    applied and rejected it (``qualkam.analysis.excerpts`` says what each column means), or one row
    per coding with ``by_coder``. The CSV columns of ``qualkam excerpts --from all``."""
    frame = retrieve(project, layer=ALL_LAYER, by_coder=by_coder)
    frame = frame.sort_values(["source", "start"], kind="stable").reset_index(drop=True)
    return csv_frame(frame)


MANIFEST = ".qualkam-outputs.json"  # what the outputs in a folder were made from
# Counted up when the outputs' columns or rows change, so outputs in an older layout are
# rebuilt even from an unchanged project. 2: excerpts one row per segment x code (issue 11).
OUTPUTS_LAYOUT = 2


def _made_from(project: Project, layer: str) -> dict[str, Any]:
    uid, revision = project.revision()
    return {
        "project": str(project.path.resolve()),
        "project_uid": uid,
        "revision": revision,
        "counts": project.counts(),
        "layer": layer,
        "qualkam": __version__,
        "layout": OUTPUTS_LAYOUT,
    }


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
        return manifest.get("made_from") == made_from and manifest.get("files") == _file_stamps(
            [out / n for n in names]
        )
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
