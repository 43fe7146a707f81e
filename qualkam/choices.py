"""One way to say "no such thing": an unknown name or value, the valid choices, a did-you-mean.

Every option that names a coder, code, source, phase, speaker, layer, attribute or format, and
every date, is checked here, so ``matrix --from coder:anaa`` and ``audit --since yesterday``
fail the same way on every command (issue 11, section 3):

    unknown coder 'anaa' in --from; choose from: ana, ben (did you mean 'ana'?)
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from qualkam.errors import QualkamError

SHOWN = 20  # choices listed in a message; more are counted, not listed


def listing(choices: Iterable[object], limit: int = SHOWN) -> str:
    """``a, b, c`` (and ``... and N more``), or ``(none yet)``."""
    names = [str(c) for c in dict.fromkeys(choices)]
    if not names:
        return "(none yet)"
    head = ", ".join(names[:limit])
    return head + (f" ... and {len(names) - limit} more" if len(names) > limit else "")


def closest(value: str, choices: Iterable[object], n: int = 1) -> list[str]:
    """The choices nearest to ``value`` (difflib), ignoring case; empty when none is close."""
    names = [str(c) for c in dict.fromkeys(choices)]
    folded = {name.casefold(): name for name in names}
    hits = difflib.get_close_matches(value.casefold(), list(folded), n=n, cutoff=0.6)
    return [folded[h] for h in hits]


def unknown(kind: str, value: object, choices: Iterable[object], option: str | None = None) -> QualkamError:
    """The error for an unknown ``kind``: its valid choices and, if one is close, a did-you-mean.
    ``option`` is the argument at fault (``layer``; the CLI shows its flag, ``--from``)."""
    names = [str(c) for c in dict.fromkeys(choices)]
    close = closest(str(value), names)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    argument = option if option and not option.startswith("-") else None
    where = " in {argument}" if argument else (f" in {option}" if option else "")
    message = f"unknown {kind} {str(value)!r}{where}; choose from: {listing(names)}{hint}"
    return QualkamError(message, argument=argument)


def check_choice(kind: str, value: str, choices: Sequence[object], option: str | None = None) -> str:
    """``value`` if it is one of ``choices`` (exactly, else ignoring case); otherwise ``unknown``."""
    names = [str(c) for c in choices]
    if value in names:
        return value
    folded = {name.casefold(): name for name in names}
    if str(value).casefold() in folded:
        return folded[str(value).casefold()]
    raise unknown(kind, value, names, option)


def check_all(kind: str, values: Iterable[str], choices: Sequence[object], option: str | None = None) -> list[str]:
    """Every value checked (the first unknown one raises), duplicates dropped, order kept."""
    return list(dict.fromkeys(check_choice(kind, v, choices, option) for v in values))


def split_list(values: Iterable[str] | str | None) -> list[str]:
    """Repeated option values, each possibly the old comma form ``a,b``: ``['a', 'b']``."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return list(dict.fromkeys(part.strip() for value in values for part in value.split(",") if part.strip()))


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATE_FORMATS = "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM] (ISO 8601)"


def parse_date(value: str, argument: str = "since") -> str:
    """An ISO date or time, checked strictly, as the UTC text the store compares against.

    ``2026-11-01`` is the start of that day; a time without a zone is taken as UTC. Anything
    else (``yesterday``, ``1/11/2026``) is an error that names ``argument`` (the CLI shows its
    flag, ``--since``) and the accepted format.
    """
    text = (value or "").strip()
    try:
        if _DATE.fullmatch(text):
            moment = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.timezone.utc)
        elif _DATE.match(text) and len(text) > 10 and text[10] in "T ":
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.timezone.utc)
        else:
            raise ValueError(text)
    except ValueError:
        raise QualkamError(
            f"{{argument}} {value!r} is not a date; write {DATE_FORMATS}, e.g. 2026-11-01 or 2026-11-01T09:30",
            argument=argument,
        ) from None
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def check_known(project: Any, kind: str, values: Iterable[str] | None, option: str | None = None) -> list[str]:
    """Values of an option naming a project's coders, codes, sources, phases, speakers ...:
    each must be one the project has (``qualkam.store.names.known_names``)."""
    from qualkam.store.names import known_names

    values = [v for v in (values or []) if v is not None]
    if not values:
        return []
    return check_all(kind, values, known_names(project, kind), option)
