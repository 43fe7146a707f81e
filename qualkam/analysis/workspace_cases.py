"""Cases in the workspace (issue 16, point 7): the Matrix page's rows by case (``case``,
``case:ATTRIBUTE``, as ``qualkam matrix --rows case:role``) and the Excerpts filter that opens a
cell of such a row (``case=ATTRIBUTE:VALUE``).

The filter selects the cases whose attribute *is* the value as the matrix row names it (the
whole value, ignoring letter case), so a cell's link lists exactly the excerpts its count was
made from. (The CLI's ``--case role=X`` also keeps a case whose sources gave it several roles,
``X; Y``: the matrix counts such a case in its own row ``X; Y``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from qualkam.analysis.cases import Case, attribute_names, cases, match_attribute
from qualkam.choices import unknown
from qualkam.errors import QualkamError

if TYPE_CHECKING:
    from qualkam.store.project import Project


def case_rows(project: Project) -> list[str]:
    """The case rows a matrix can have here: ``case`` (participants by name) and
    ``case:ATTRIBUTE`` for each attribute some case has (role, unit, then a cases file's);
    none when no speaker is a case."""
    every = cases(project)
    if not every:
        return []
    return ["case", *(f"case:{name}" for name in attribute_names(every))]


def _attribute(project: Project, name: str, argument: str, with_case: bool) -> str:
    """``name`` as the cases spell it (exactly, else ignoring letter case); unknown: one line."""
    return match_attribute((["case"] if with_case else []) + attribute_names(cases(project)), name, argument)


def check_case_rows(project: Project, by: str, argument: str = "by") -> str:
    """``case`` or ``case:ATTRIBUTE`` with the attribute as the cases spell it; an attribute no
    case has is an error naming it (before any codings are read)."""
    if by == "case":
        return by
    name = by[len("case:") :].strip()
    if not name:
        raise QualkamError(
            "{argument} 'case:' names no case attribute; write case:ATTRIBUTE (case:role)", argument=argument
        )
    return f"case:{_attribute(project, name, argument, with_case=False)}"


def split_case_filter(value: str, argument: str = "case") -> tuple[str, str]:
    """``ATTRIBUTE:VALUE`` (or ``ATTRIBUTE=VALUE``, as the CLI writes it) split at the first of
    the two; ``case:NAME`` names one case."""
    cut = min((i for i in (value.find(":"), value.find("=")) if i >= 0), default=-1)
    attribute, wanted = (value[:cut].strip(), value[cut + 1 :].strip()) if cut >= 0 else ("", "")
    if not attribute or not wanted:
        raise QualkamError(
            f"{{argument}} {value!r}: write a case filter as ATTRIBUTE:VALUE (role:Sales Director), "
            "or case:NAME for one participant",
            argument=argument,
        )
    return attribute, wanted


def case_filter_speakers(project: Project, value: str, argument: str = "case") -> list[str]:
    """The speaker spellings of the cases whose ``ATTRIBUTE`` is ``VALUE`` (``case:NAME``: the
    case of that name). A value no case has is an error listing those there are."""
    from qualkam.analysis.matrix import value_text

    attribute, wanted = split_case_filter(value, argument)
    every = cases(project)
    attribute = _attribute(project, attribute, argument, with_case=True)

    def value_of(case: Case) -> str:
        return value_text(case.name if attribute == "case" else case.values().get(attribute))

    chosen = [c for c in every.values() if value_of(c).casefold() == wanted.casefold()]
    if not chosen:
        what = "case" if attribute == "case" else f"case {attribute}"
        raise unknown(what, wanted, sorted({value_of(c) for c in every.values()}), argument)
    return sorted({s for c in chosen for s in c.spellings})


def narrow_speakers(project: Project, speakers: Sequence[str], value: str, argument: str = "case") -> list[str]:
    """A speakers filter narrowed to the cases ``value`` selects (``case_filter_speakers``); empty
    when none of ``speakers`` (if given) is among them, or those cases speak in no segment."""
    chosen = case_filter_speakers(project, value, argument)
    if not speakers:
        return chosen
    given = {s.casefold() for s in speakers}
    return [s for s in chosen if s.casefold() in given]
