"""The notebook API: ``qualkam.open(path)`` and a project's tables as pandas DataFrames.

Each method is a thin call to the function the matching command calls, so a notebook and
the CLI give the same numbers for the same arguments::

    segments(...)    qualkam.store.segments.segments
    codings(...)     qualkam.store.segments.codings
    excerpts(...)    qualkam.analysis.excerpts.retrieve             (qualkam excerpts)
    matrix(...)      qualkam.analysis.matrix.build_matrix           (qualkam matrix)
    agreement(...)   qualkam.agreement.reliability.reliability      (qualkam reliability)
    cases()             qualkam.analysis.cases.cases_frame          (qualkam cases list)
    codebook_history()  qualkam.coding.history.history_frame        (qualkam codebook history)
    codebook_diff(a, b) qualkam.coding.history.codebook_diff        (qualkam codebook diff)

Arguments are named as in those functions; a filter takes one name or a list of names.
Errors are ``qualkam.errors.QualkamError`` naming the argument at fault (``layer``,
``speakers``), never a CLI flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qualkam.errors import QualkamError, StoreError
from qualkam.store import segments as tables
from qualkam.store.layers import Layer
from qualkam.store.segments import SegmentFilter

if TYPE_CHECKING:
    import pandas as pd

    from qualkam.store.project import Project

Names = str | Sequence[str] | None  # one name, or alternatives (any of them)


def _names(value: Names) -> list[str]:
    """A filter's value as a list: ``"ana"`` is ``["ana"]``, None is no filter."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def open(path: str | Path, create: bool = False) -> ProjectView:  # noqa: A001 - qualkam.open reads like open()
    """The project store at ``path``, for reading tables (``with qualkam.open(p) as project:``).
    ``create=True`` makes an empty project there if there is none (to code a folder into)."""
    from qualkam.store.project import Project

    path = Path(path)
    if not create and not path.exists():
        raise StoreError(
            f"no qualkam project at {path}; make one with qualkam.open({str(path)!r}, create=True) and "
            "qualkam.coding.run.code_folder, or with 'qualkam code DIR'",
            argument="path",
        )
    return ProjectView(Project.open(path, create=create))


class ProjectView:
    """An open project: its segments, codings, excerpts, matrices and agreement as DataFrames.

    ``.project`` is the store itself (``qualkam.store.project.Project``), for the library's
    other functions (``code_folder``, ``decide``, ``import_codings`` ...). Close it with
    ``.close()``, or use it in a ``with`` block.
    """

    def __init__(self, project: Project) -> None:
        self._project: Project | None = project
        self.path = project.path

    @property
    def project(self) -> Project:
        if self._project is None:
            raise QualkamError(f"the project {self.path} is closed; open it again with qualkam.open")
        return self._project

    def close(self) -> None:
        if self._project is not None:
            self._project.close()
            self._project = None

    def __enter__(self) -> ProjectView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._project is None:
            return f"<qualkam project {self.path} (closed)>"
        counts = self._project.counts()
        return (
            f"<qualkam project {self.path}: {counts['sources']} sources, {counts['segments']} segments, "
            f"{counts['suggestions']} suggestions, {counts['human_codings']} people's codings>"
        )

    def segments(
        self,
        sources: Names = None,
        phases: Names = None,
        speakers: Names = None,
        roles: Names = None,
        source_types: Names = None,
    ) -> pd.DataFrame:
        """One row per segment, coded or not, with its speaker, role, time and its source's
        phase and type; the filters keep only those names (each checked against the project)."""
        return tables.segments(self.project, _filter(sources, phases, speakers, roles, source_types))

    def codings(
        self,
        layer: Layer | str = "auto",
        codes: Names = None,
        sources: Names = None,
        phases: Names = None,
        speakers: Names = None,
        roles: Names = None,
        source_types: Names = None,
    ) -> pd.DataFrame:
        """One row per coding of ``layer`` (auto, suggestions, human, consensus, coder:NAME or
        all; see ``qualkam.store.layers``), with its own span (start, end, text), its anchor
        segment (the first its span overlaps), score and evidence; ``codes`` keeps those codes
        and the codes below them, a speaker or role filter the codings that cover such a
        segment. Counts per segment: ``matrix`` (a span counts for every segment it covers)."""
        where = _filter(sources, phases, speakers, roles, source_types)
        return tables.codings(self.project, layer, where, _names(codes))

    def excerpts(
        self,
        codes: Names = None,
        layer: Layer | str | None = None,
        phases: Names = None,
        source_types: Names = None,
        roles: Names = None,
        speakers: Names = None,
        coders: Names = None,
        statuses: Names = None,
        sources: Names = None,
        by_coder: bool = False,
        cases: Names = None,
    ) -> pd.DataFrame:
        """The coded passages, one row per span and code (``by_coder``: per coding), each with
        its ``context``, as ``qualkam excerpts`` lists them; ``layer`` defaults to auto (all with
        coders or statuses)."""
        from qualkam.analysis.excerpts import retrieve

        return retrieve(
            self.project,
            codes=_names(codes),
            phases=_names(phases),
            source_types=_names(source_types),
            roles=_names(roles),
            speakers=_names(speakers),
            coders=_names(coders),
            statuses=_names(statuses),
            layer=None if layer is None else str(Layer.parse(layer, argument="layer")),
            by_coder=by_coder,
            sources=_names(sources),
            cases=_names(cases),
        )

    def matrix(
        self,
        rows: str = "phase",
        cols: str = "code",
        layer: Layer | str = "auto",
        value: str = "segments",
        normalize: str = "none",
        window: int = 0,
        sources: Names = None,
        speakers: Names = None,
        phases: Names = None,
        cases: Names = None,
    ) -> pd.DataFrame:
        """``rows`` x ``cols`` counts, as ``qualkam matrix``: rows a source or segment field
        (phase, source_type, role, speaker ...), ``case`` or ``case:ATTRIBUTE`` (participants as
        cases), or ``code`` (with cols ``code``: co-occurrence); cols ``code`` or ``attr:NAME``;
        ``value`` segments, share, sources or speakers; ``cases`` filters ``ATTRIBUTE=VALUE``."""
        from qualkam.analysis.matrix import build_matrix

        return build_matrix(
            self.project,
            rows=rows,
            cols=cols,
            value=value,
            layer=str(Layer.parse(layer, argument="layer")),
            normalize=normalize,
            window=window,
            sources=_names(sources),
            speakers=_names(speakers),
            phases=_names(phases),
            cases=_names(cases),
        )

    def agreement(
        self,
        coders: Names = None,
        codes: Names = None,
        unit: str = "segment",
        replicates: int = 0,
        seed: int = 0,
        minimum: float = 0.667,
        distance: str = "masi",
        sources: Names = None,
        speakers: Names = None,
        phases: Names = None,
    ) -> pd.DataFrame:
        """Agreement between people per code, as ``qualkam reliability``: percent agreement,
        kappas, AC1 and Krippendorff's alpha (``replicates``: bootstrap intervals). The overall
        figure, the coders, the unit and any notes are in the frame's ``attrs``."""
        from qualkam.agreement.reliability import plain, reliability

        report = reliability(
            self.project,
            _names(coders) or None,
            _names(codes) or None,
            unit,
            replicates,
            seed,
            minimum,
            distance,
            sources=_names(sources),
            speakers=_names(speakers),
            phases=_names(phases),
        )
        frame = report.per_code.copy()
        frame.attrs.update(
            {
                "overall": {k: plain(v) for k, v in report.overall.items()},
                "coders": list(report.coders),
                "unit": report.unit,
                "notes": report.notes,
            }
        )
        return frame

    def cases(self) -> pd.DataFrame:
        """One row per case (a participant, merged across sources by name), as ``qualkam cases
        list``: sources, segments, source_ids, role, unit and the attributes a cases file set."""
        from qualkam.analysis.cases import cases_frame

        return cases_frame(self.project)

    def codebook_history(self) -> pd.DataFrame:
        """Every codebook version the project stored, oldest first, as ``qualkam codebook
        history`` lists them; ``attrs["before_history"]`` counts codings that record none."""
        from qualkam.coding.history import history_frame

        return history_frame(self.project)

    def codebook_diff(self, first: str | int = "previous", second: str | int = "current") -> dict[str, object]:
        """What changed between two stored codebook versions (a number, ``current``,
        ``previous`` or a hash prefix), as ``qualkam codebook diff``: added, removed, renamed,
        split, changed (code, field, before, after), phases added and removed."""
        from qualkam.coding.history import codebook_diff

        return codebook_diff(self.project, first, second)


def _filter(sources: Names, phases: Names, speakers: Names, roles: Names, source_types: Names) -> SegmentFilter:
    return SegmentFilter(_names(sources), _names(phases), _names(speakers), _names(roles), _names(source_types))
