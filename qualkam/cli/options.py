"""Options every command says the same way (issue 11, section 8): ``--code``, ``--source``,
``--speaker``, ``--phase`` are repeatable filters; ``--format/-f`` picks a format from fixed
choices, and a wrong one is an error with the choices and a did-you-mean."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import typer

from qualkam.choices import check_choice, split_list
from qualkam.errors import QualkamError


def choice_parser(kind: str, choices: type[Enum] | Sequence[str], option: str) -> Callable[[Any], Any]:
    """A typer ``parser`` for a fixed choice: the Enum member (or the string), else a usage
    error listing the choices with a did-you-mean."""
    names = [m.value for m in choices] if isinstance(choices, type) and issubclass(choices, Enum) else list(choices)

    def parse(value: Any) -> Any:
        if value is None or isinstance(value, Enum):
            return value
        try:
            name = check_choice(option, str(value), names)
        except QualkamError as exc:
            raise typer.BadParameter(str(exc)) from None
        return choices(name) if isinstance(choices, type) else name

    return parse


def format_option(choices: type[Enum] | Sequence[str], default: Any = None, help: str | None = None) -> Any:
    """``--format/-f`` with fixed choices (validated with a did-you-mean)."""
    names = [m.value for m in choices] if isinstance(choices, type) else list(choices)
    return typer.Option(
        default,
        "--format",
        "-f",
        parser=choice_parser("format", choices, "--format"),
        metavar="[" + "|".join(names) + "]",
        help=help or f"{', '.join(names)}" + ("" if default is None else ""),
    )


def code_option(help: str = "Only this code and the codes below it (repeat for more; a,b also works).") -> Any:
    return typer.Option(None, "--code", help=help)


def source_option(help: str = "Only this source (repeat for more).") -> Any:
    return typer.Option(None, "--source", help=help)


def speaker_option(help: str = "Only this speaker's segments (repeat for more).") -> Any:
    return typer.Option(None, "--speaker", help=help)


def phase_option(help: str = "Only sources of this phase (repeat for more).") -> Any:
    return typer.Option(None, "--phase", help=help)


def coder_list_option(help: str) -> Any:
    """``--coder A --coder B`` (the old ``--coders A,B`` is read the same way)."""
    return typer.Option(None, "--coder", "--coders", help=help)


def listed(values: Sequence[str] | str | None) -> list[str]:
    """Repeated values of a list option, the old comma form split too."""
    return split_list(values)


def listed_codes(values: Sequence[str] | None) -> list[str]:
    """``--code`` values: repeated, or the old ``a,b``; ``attr:KEY=VALUE`` is kept whole."""
    out: list[str] = []
    for value in values or []:
        out += [value.strip()] if value.strip().startswith("attr:") else split_list(value)
    return list(dict.fromkeys(v for v in out if v))
