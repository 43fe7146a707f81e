"""Options every command says the same way (issue 11, section 8; issue 12, point 4).

Each shared option is an ``Annotated`` alias (``project: ProjectFile = Path(DEFAULT_PROJECT)``)
and each fixed choice an Enum, checked by :func:`choice`: a wrong value is a usage error (exit
2) with the choices and a did-you-mean, and ``--help`` lists the choices. Repeatable filters
(``--code``, ``--source``, ``--speaker``, ``--phase``, ``--coder``) are named as the core's
arguments (``codes``, ``sources``...), so an error about an argument shows its flag.

This module is light on purpose: typer and the standard library only, never the core (spaCy,
pandas), so a command's module can be read without them. The Enums repeat the core's tuples of
choices; tests/test_cli.py checks that they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from qualkam.choices import check_choice, split_list
from qualkam.errors import QualkamError

LAYER_NAMES = "auto, suggestions, human, consensus, coder:NAME or all"


# -- fixed choices -------------------------------------------------------------------------------
class TableFormat(str, Enum):
    """A table on the terminal, CSV or JSON for piping or a file."""

    table = "table"
    csv = "csv"
    json = "json"


class MatrixFormat(str, Enum):
    """What ``matrix`` writes to stdout: a table for reading, CSV for piping."""

    table = "table"
    csv = "csv"


class JsonFormat(str, Enum):
    """A table on the terminal, or JSON."""

    table = "table"
    json = "json"


class ExcerptFormat(str, Enum):
    """``excerpts``: qualkam.analysis.excerpts.FORMATS."""

    table = "table"
    csv = "csv"
    md = "md"
    html = "html"
    json = "json"


class DisagreementFormat(str, Enum):
    """``disagreements``: qualkam.analysis.disagreements.FORMATS."""

    table = "table"
    md = "md"
    csv = "csv"
    html = "html"


class SegmentUnit(str, Enum):
    """What one segment is (qualkam.coding.segment.Unit)."""

    turn = "turn"
    paragraph = "paragraph"
    sentence = "sentence"


class Suggest(str, Enum):
    """Where suggestions come from (qualkam.coding.run.SUGGEST_MODES)."""

    rules = "rules"
    model = "model"
    both = "both"


class Status(str, Enum):
    """A coding's status (qualkam.analysis.excerpts.STATUSES)."""

    suggested = "suggested"
    accepted = "accepted"
    rejected = "rejected"


class ReviewStatus(str, Enum):
    """Which items ``review`` shows (qualkam.coding.review.STATUSES)."""

    suggested = "suggested"
    accepted = "accepted"
    rejected = "rejected"
    all = "all"


class Order(str, Enum):
    """The order ``review`` shows its items in (qualkam.coding.review.ORDERS)."""

    reading = "reading"
    uncertain = "uncertain"


class Level(str, Enum):
    """Level of measurement for Krippendorff's alpha."""

    nominal = "nominal"
    ordinal = "ordinal"
    interval = "interval"
    ratio = "ratio"


class ReliabilityUnit(str, Enum):
    """What ``reliability`` compares (qualkam.agreement.units.UNITS)."""

    segment = "segment"
    sentence = "sentence"
    character = "character"


class DisagreementUnit(str, Enum):
    """What ``disagreements`` compares (qualkam.analysis.disagreements.UNIT_KINDS)."""

    segment = "segment"
    sentence = "sentence"


class Distance(str, Enum):
    """Distance between two sets of codes for the overall alpha."""

    masi = "masi"
    jaccard = "jaccard"


class Value(str, Enum):
    """What a matrix cell holds (qualkam.analysis.matrix.VALUES)."""

    segments = "segments"
    share = "share"
    sources = "sources"
    speakers = "speakers"


class Normalize(str, Enum):
    """How a matrix is normalised (qualkam.analysis.matrix.NORMALIZE)."""

    none = "none"
    row = "row"


class Entity(str, Enum):
    """What an audit line is about (qualkam.analysis.trail.ENTITIES)."""

    coding = "coding"
    codebook = "codebook"
    code = "code"
    source = "source"
    segment = "segment"
    project = "project"
    memo = "memo"
    model = "model"


class Prefer(str, Enum):
    """How ``project merge`` settles a conflict (qualkam.coding.blind.PREFER)."""

    mine = "mine"
    theirs = "theirs"


def names(choices: type[Enum] | Sequence[str]) -> list[str]:
    """The values a choice takes, in order."""
    return [str(m.value) for m in choices] if isinstance(choices, type) else list(choices)


def choice_parser(kind: str, choices: type[Enum] | Sequence[str]) -> Callable[[Any], Any]:
    """A typer ``parser`` for a fixed choice: the Enum member (or the string), else a usage
    error listing the choices with a did-you-mean (Typer names the option: "Invalid value for
    '--unit': unknown unit 'word'; choose from: ..."). Any case is accepted (``JSON``)."""
    allowed = names(choices)

    def parse(value: Any) -> Any:
        if value is None or isinstance(value, Enum):
            return value
        try:
            name = check_choice(kind, str(value), allowed)
        except QualkamError as exc:
            raise typer.BadParameter(str(exc)) from None
        return choices(name) if isinstance(choices, type) else name

    return parse


def choice(choices: type[Enum], *flags: str, help: str, **extra: Any) -> Any:
    """The ``typer.Option`` of a fixed choice, for ``Annotated``: parsed by
    :func:`choice_parser`, its choices shown as ``[a|b|c]`` in ``--help``."""
    return typer.Option(
        *flags,
        parser=choice_parser(flags[0].lstrip("-"), choices),
        metavar="[" + "|".join(names(choices)) + "]",
        help=help,
        **extra,
    )


def format_option(choices: type[Enum] | Sequence[str], default: Any = None, help: str | None = None) -> Any:
    """``--format/-f`` with fixed choices as a default value (the older style, kept for the
    commands not yet written with ``Annotated``)."""
    return typer.Option(
        default,
        "--format",
        "-f",
        parser=choice_parser("format", choices),
        metavar="[" + "|".join(names(choices)) + "]",
        help=help or ", ".join(names(choices)),
    )


# -- shared options ------------------------------------------------------------------------------
ProjectFile = Annotated[Path, typer.Option("--project", "-p", help="Project store file.")]
NewProjectFile = Annotated[Path, typer.Option("--project", "-p", help="Project store file (created if missing).")]

Codes = Annotated[
    list[str] | None,
    typer.Option(
        "--code",
        "-k",
        help="A code id (its descendants included) or attr:KEY=VALUE (attr:pole=formal); repeat for more.",
    ),
]
CodeTree = Annotated[
    list[str] | None,
    typer.Option("--code", help="Only suggestions of this code and its children (repeat for more)."),
]
"""``--code`` where a code id takes the codes below it, without ``attr:KEY=VALUE`` (``review``)."""
Sources = Annotated[list[str] | None, typer.Option("--source", help="Only this source (repeat for more).")]
Speakers = Annotated[
    list[str] | None, typer.Option("--speaker", help="Only this speaker's segments (repeat for more).")
]
Cases = Annotated[
    list[str] | None,
    typer.Option(
        "--case",
        help="Only the speakers of cases with ATTRIBUTE=VALUE (site=Leeds), or of the case so named "
        "(repeat: values of one attribute are alternatives, different attributes must all hold).",
    ),
]
Phases = Annotated[list[str] | None, typer.Option("--phase", help="Only sources of this phase (repeat for more).")]
Roles = Annotated[list[str] | None, typer.Option("--role", help="A speaker's role, e.g. 'Sales Director'.")]
SourceTypes = Annotated[
    list[str] | None, typer.Option("--source-type", "-t", help="interview, meeting, fieldnote, ...")
]
Coders = Annotated[
    list[str] | None,
    typer.Option(
        "--coder",
        "--coders",
        help="A coder to compare (repeat: --coder ana --coder ben; default: every person who coded).",
    ),
]
"""``--coder A --coder B`` (the old ``--coders A,B`` is read the same way, see :func:`listed`)."""
Coder = Annotated[str, typer.Option("--coder", help="Your name: every decision is recorded under it.")]
"""``--coder NAME``: the one person a command acts for (``review``)."""

Layer = Annotated[str, typer.Option("--from", help=f"Codings to count: {LAYER_NAMES} (rejected ones too).")]
"""``--from``: which codings (qualkam.store.layers.Layer); ``coder:NAME`` is open, so a string."""

OutFile = Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file (atomically).")]
TableFormatOption = Annotated[
    TableFormat | None,
    choice(TableFormat, "--format", "-f", help="table, csv or json. Default: table, or from the --out suffix."),
]
Seed = Annotated[
    int, typer.Option("--seed", min=0, help="Random seed for the bootstrap: the same seed gives the same intervals.")
]
Replicates = Annotated[
    int, typer.Option("--bootstrap", help="Bootstrap replicates for 95% intervals (1000 is usual); 0 for none.")
]
Minimum = Annotated[
    float, typer.Option("--minimum", help="Smallest acceptable alpha; with --bootstrap, reports p(alpha < minimum).")
]
Jobs = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        help="Worker processes for segmenting and matching (default: every core). Results do not depend on it.",
    ),
]


def value_of(choice: Enum | None) -> str | None:
    """The text of a parsed choice (the core takes plain strings), None when not given."""
    return None if choice is None else str(choice.value)


def listed(values: Sequence[str] | str | None) -> list[str]:
    """Repeated values of a list option, the old comma form split too."""
    return split_list(values)


def listed_codes(values: Sequence[str] | None) -> list[str]:
    """``--code`` values: repeated, or the old ``a,b``; ``attr:KEY=VALUE`` is kept whole."""
    out: list[str] = []
    for value in values or []:
        out += [value.strip()] if value.strip().startswith("attr:") else split_list(value)
    return list(dict.fromkeys(v for v in out if v))
