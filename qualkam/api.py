"""The notebook API: ``qualkam.open(path)`` and a project's tables as pandas DataFrames.

Each method is a thin call to the function the matching command calls, so a notebook and
the CLI give the same numbers for the same arguments::

    segments(...)    qualkam.store.segments.segments
    codings(...)     qualkam.store.segments.codings
    excerpts(...)    qualkam.analysis.excerpts.retrieve             (qualkam excerpts)
    matrix(...)      qualkam.analysis.matrix.build_matrix           (qualkam matrix)
    agreement(...)   qualkam.agreement.reliability.reliability      (qualkam reliability)
    saturation(...)  qualkam.analysis.saturation.saturation         (qualkam saturation)
    negative_cases(...) qualkam.analysis.negative.negative_cases    (qualkam negative-cases)
    query(...)       qualkam.analysis.query.run_query and its views (qualkam query)
    kwic(...)        qualkam.analysis.kwic.concordance              (qualkam kwic)
    cases()             qualkam.analysis.cases.cases_frame          (qualkam cases list)
    codebook_history()  qualkam.coding.history.history_frame        (qualkam codebook history)
    codebook_diff(a, b) qualkam.coding.history.codebook_diff        (qualkam codebook diff)
    framework(...)      qualkam.analysis.framework.framework_frame  (qualkam framework show)
    framework_references(...) qualkam.analysis.framework.references_frame
    set_framework_summary(...) qualkam.analysis.framework.set_summary (qualkam framework set)

Arguments are named as in those functions; a filter takes one name or a list of names.
Errors are ``qualkam.errors.QualkamError`` naming the argument at fault (``layer``,
``speakers``), never a CLI flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

    def saturation(
        self,
        layer: Layer | str = "auto",
        order: str = "date",
        base: int = 4,
        run: int = 2,
        threshold: str | float = 5.0,
        sources: Names = None,
        speakers: Names = None,
        phases: Names = None,
        source_types: Names = None,
        roles: Names = None,
    ) -> pd.DataFrame:
        """New codes per source in ``order``, as ``qualkam saturation`` (Guest, Namey & Chen
        2020): one row per source. The runs (a DataFrame), the saturation point (``point``,
        ``through``: with the confirming run, None when not reached), the verdict and the
        parameters are in the frame's ``attrs``; ``threshold`` is in percent."""
        from qualkam.analysis.saturation import saturation

        result = saturation(
            self.project,
            layer=str(Layer.parse(layer, argument="layer")),
            order=order,
            base=base,
            run=run,
            threshold=threshold,
            sources=_names(sources),
            speakers=_names(speakers),
            phases=_names(phases),
            source_types=_names(source_types),
            roles=_names(roles),
        )
        frame = result.table.copy()
        frame.attrs.update({**result.summary(), "runs": result.runs.copy()})
        return frame

    def negative_cases(
        self,
        code: Names = None,
        compare: str = "phase",
        layer: Layer | str = "auto",
        kinds: Names = None,
        below: bool = True,
        sources: Names = None,
        speakers: Names = None,
        phases: Names = None,
        source_types: Names = None,
        roles: Names = None,
    ) -> pd.DataFrame:
        """The sources and speakers where ``code`` (None: every code, each on its own) never
        occurs although comparable ones (same ``compare`` value: phase, source_type, role, unit
        or a source attribute) have it, with how often they do; as ``qualkam negative-cases``."""
        from qualkam.analysis.negative import KINDS, negative_cases

        return negative_cases(
            self.project,
            code,
            compare=compare,
            layer=str(Layer.parse(layer, argument="layer")),
            kinds=_names(kinds) or KINDS,
            sources=_names(sources),
            speakers=_names(speakers),
            phases=_names(phases),
            source_types=_names(source_types),
            roles=_names(roles),
            below=below,
        )

    def query(
        self,
        query: str,
        where: Mapping[str, str | Sequence[str]] | Sequence[str] | str | None = None,
        layer: Layer | str = "auto",
        count_by: str | None = None,
        by_coder: bool = False,
        segments: bool = False,
    ) -> pd.DataFrame:
        """A coding query, as ``qualkam query``: ``"funding AND NOT hiring"``, ``"a NEAR/2 b"``,
        ``"a SAME-SPEAKER b"`` (docs/query.md). ``where`` scopes it (``{"phase": "formal_kam"}``
        or ``["role=Sales Director", "case:site=Leeds"]``). The answer as excerpts of the codes
        it asks for; with ``count_by`` (``"phase"``, ``"case:site"``) the matching segments
        counted per value; with ``segments``
        the matching segments themselves, each with its codes. ``attrs["segments"]`` holds how
        many segments matched, ``attrs["query"]`` the query as parsed."""
        from qualkam.analysis import query as queries

        result = queries.run_query(self.project, query, where=where, layer=layer)
        if count_by is not None:
            frame = queries.count_by(self.project, result, count_by)
        elif segments:
            frame = queries.matching_segments(self.project, result)
        else:
            frame = queries.excerpts(self.project, result, by_coder=by_coder)
        frame.attrs.update(query=result.text, segments=len(result.segment_ids), in_scope=len(result.scope.frame))
        return frame

    def kwic(
        self,
        term: str,
        word: bool = False,
        context: int = 5,
        sort: str = "source",
        layer: Layer | str = "auto",
        codes: Names = None,
        where: Mapping[str, str | Sequence[str]] | Sequence[str] | str | None = None,
        phases: Names = None,
        source_types: Names = None,
        roles: Names = None,
        speakers: Names = None,
        sources: Names = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """A concordance, as ``qualkam kwic``: one row per occurrence of ``term`` (by lemma;
        ``word=True``: as written) with ``left`` / ``match`` / ``right`` context and the
        ``codes`` on it; ``sort`` source, left or right (docs/kwic.md)."""
        from qualkam.analysis.kwic import concordance

        return concordance(
            self.project,
            term,
            word=word,
            context=context,
            sort=sort,
            layer=layer,
            codes=_names(codes),
            where=where,
            phases=_names(phases),
            source_types=_names(source_types),
            roles=_names(roles),
            speakers=_names(speakers),
            sources=_names(sources),
            limit=limit,
        )

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

    def framework(
        self,
        cases: str = "case",
        themes: str = "code",
        layer: str | Layer = "auto",
        name: str = "default",
        what: str = "summary",
    ) -> pd.DataFrame:
        """The framework matrix, cases x themes, as ``qualkam framework show``: each cell's
        ``summary`` ("" when none), its ``references`` (``int-06 #12, #14``) or the ``cell`` as
        shown (summary, else references). ``cases`` case or source; ``themes`` code or attr:NAME."""
        from qualkam.analysis.framework import build_framework, framework_frame

        return framework_frame(build_framework(self.project, cases, themes, layer, name), what)

    def framework_references(
        self, cases: str = "case", themes: str = "code", layer: str | Layer = "auto", name: str = "default"
    ) -> pd.DataFrame:
        """One row per excerpt behind a framework cell: case, theme, source, segment, start, end,
        code, speaker, text."""
        from qualkam.analysis.framework import build_framework, references_frame

        return references_frame(build_framework(self.project, cases, themes, layer, name))

    def set_framework_summary(
        self,
        case: str,
        theme: str,
        summary: str | None,
        author: str,
        cases: str = "case",
        themes: str = "code",
        name: str = "default",
    ) -> bool:
        """Write (or clear, with None or "") one framework cell's summary, audited; True when it changed."""
        from qualkam.analysis.framework import set_summary

        return set_summary(self.project, case, theme, summary, author, cases, themes, name)


def _filter(sources: Names, phases: Names, speakers: Names, roles: Names, source_types: Names) -> SegmentFilter:
    return SegmentFilter(_names(sources), _names(phases), _names(speakers), _names(roles), _names(source_types))
