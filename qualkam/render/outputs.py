"""The outputs of ``qualkam code``: coded excerpts and matrices as CSV, written atomically
through ``qualkam.render.files`` and left alone while the project has not changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualkam import __version__
from qualkam.errors import QualkamError
from qualkam.render.files import json_text, write_csv, write_text
from qualkam.store.project import Project

if TYPE_CHECKING:
    import pandas as pd

# pandas and the frames are imported when outputs are built, not when this module is: a re-run
# whose outputs are up to date (and the file finder, which reads MANIFEST) never loads pandas.

__all__ = ["MANIFEST", "excerpts_frame", "write_outputs"]


def excerpts_frame(project: Project, by_coder: bool = False) -> pd.DataFrame:
    """Every coding of the project (suggestions, people's acceptances and rejections) in
    reading order (source, then position), one row per segment x code with the people who
    applied and rejected it (``qualkam.analysis.excerpts`` says what each column means), or one row
    per coding with ``by_coder``. The CSV columns of ``qualkam excerpts --from all``."""
    from qualkam.analysis.excerpts import ALL_LAYER, csv_frame, retrieve

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
        raise QualkamError(f"{{argument}} {out} is a file; give a folder for the outputs", argument="out_dir")
    names = ["excerpts.csv", "matrix_phase_code.csv", "matrix_source_type_code.csv"]
    made_from = _made_from(project, layer)
    if _up_to_date(out, made_from, names):
        return [out / name for name in names]
    from qualkam.analysis.matrix import build_matrix

    written = [write_csv(excerpts_frame(project), out / names[0])]
    for rows, name in (("phase", names[1]), ("source_type", names[2])):
        written.append(write_csv(build_matrix(project, rows=rows, cols="code", layer=layer), out / name, index=True))
    write_text(json_text({"made_from": made_from, "files": _file_stamps(written)}), out / MANIFEST)
    return written
