"""qualkam: qualitative coding of ethnographic transcripts, scriptable and auditable.

The library API lives in the modules below; the Typer CLI in ``qualkam.cli`` is a thin
layer over it, so notebooks and tests call the same functions the commands do.
``qualkam.open(path)`` opens a project for reading its tables as DataFrames (``qualkam.api``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: importing qualkam loads nothing else
    from pathlib import Path

    from qualkam.api import ProjectView

__version__ = "0.1.0"
__all__ = ["__version__"]  # not "open": ``from qualkam import *`` must not hide the built-in open()


def open(path: str | Path, create: bool = False) -> ProjectView:
    """The project store at ``path`` as a ``qualkam.api.ProjectView``: ``.segments()``,
    ``.codings(layer)``, ``.excerpts()``, ``.matrix()``, ``.agreement()``, each a DataFrame.
    Imported on first call, so ``import qualkam`` stays light."""
    from qualkam import api

    return api.open(path, create=create)
