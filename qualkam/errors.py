"""The one exception family the core raises; the CLI turns it into a message and exit code."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def fill(text: str, arguments: Iterable[str], names: Mapping[str, str] | None = None) -> str:
    """``text`` with the placeholder ``{NAME}`` of each of ``arguments`` written as ``names``
    spells it (the CLI passes its flags: ``{"codebook": "--codebook"}``), else as NAME itself.
    Only the arguments given are placeholders: any other braces in the text stay as they are."""
    for argument in arguments:
        text = text.replace("{" + argument + "}", (names or {}).get(argument, argument))
    return text


class QualkamError(Exception):
    """Base class: an error a user can act on. The message names the place and the fix.

    ``argument`` names the function argument at fault (``layer``, ``min_examples``) in the
    library's own words; the CLI shows it as its option (``--from``, ``--min-examples``), so
    the core never speaks of flags a notebook user does not have. The message writes it as
    the placeholder ``{argument}``. A message about several arguments lists them in
    ``arguments`` and writes each as ``{NAME}``: ``QualkamError("drop {codebook} or add
    {replace_codebook}", arguments=("codebook", "replace_codebook"))``.
    """

    exit_code = 2

    def __init__(self, *args: object, argument: str | None = None, arguments: Sequence[str] = ()) -> None:
        super().__init__(*args)
        self.argument = argument
        self.named = tuple(arguments)

    @property
    def arguments(self) -> tuple[str, ...]:
        """Every argument the message names: ``argument``, then those of ``arguments``."""
        return tuple(dict.fromkeys([*([self.argument] if self.argument else []), *self.named]))

    def __str__(self) -> str:
        return self.worded()

    def worded(self, names: str | Mapping[str, str] | None = None) -> str:
        """The message with each argument it names written as ``names`` spells it (the CLI
        passes its flags, ``{"layer": "--from"}``), else as the argument's own name. A single
        string spells ``argument`` (``worded("--min-examples")``)."""
        if isinstance(names, str):
            names = {self.argument: names} if self.argument else {}
        text = fill(super().__str__(), self.named, names)
        if self.argument:
            text = text.replace("{argument}", (names or {}).get(self.argument, self.argument))
        return text


class InputError(QualkamError):
    """A file or folder the user gave cannot be used (missing, empty, unreadable)."""


class SourceError(QualkamError):
    """One source file cannot be read; the run reports it and goes on with the others."""

    def __init__(self, path: str, reason: str, arguments: Sequence[str] = ()) -> None:
        super().__init__(f"{path}: {reason}", arguments=arguments)
        self.path = path
        self.reason = reason  # with the placeholders of ``arguments``, as the message


class CodebookError(QualkamError):
    """A codebook failed validation; ``problems`` lists every error, not just the first."""

    def __init__(self, path: str, problems: list[str], arguments: Sequence[str] = ()) -> None:
        self.path = path
        self.problems = problems
        head = f"{path}: {len(problems)} problem(s) in the codebook"
        super().__init__(head + "\n" + "\n".join(problems), arguments=arguments)


class CodebookChangeError(QualkamError):
    """A run would replace the codebook of a project that holds people's codings; ``change``
    (a ``qualkam.coding.codebook.CodebookChange``) says what would change. Nothing was written."""

    def __init__(self, message: str, change: Any, arguments: Sequence[str] = ()) -> None:
        super().__init__(message, arguments=arguments)
        self.change = change


class ModelNotFoundError(QualkamError):
    """A named spaCy pipeline is not installed; the message says how to install it."""


class StoreError(QualkamError):
    """The project store is missing, from a newer qualkam, or locked too long."""


def debugging() -> bool:
    """``QUALKAM_DEBUG=1``: let unexpected exceptions through, with their traceback."""
    import os

    return bool(os.environ.get("QUALKAM_DEBUG"))


def unexpected(exc: BaseException) -> str:
    """The one-line reason for a file that failed in a way qualkam did not foresee: a bug to
    report, said as such, while the run goes on with the other files."""
    detail = " ".join(str(exc).split())[:200]
    return (
        f"could not be coded: {type(exc).__name__}{': ' + detail if detail else ''} (a bug in qualkam; "
        "run again with QUALKAM_DEBUG=1 and report the traceback)"
    )


def from_environment(exc: BaseException, project: str | None = None) -> QualkamError | None:
    """The computer said no (a full disk, a read-only file or folder, no permission): a
    QualkamError saying what to do, exit 2; None for anything else (then it is a bug). The
    advice names the arguments ``project`` and ``out`` (the CLI shows its flags)."""
    import errno
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        where = f"the project {project}" if project else "the project"
        if "disk is full" in text or "disk i/o error" in text:
            return QualkamError(
                f"cannot write {where}: the disk is full (SQLite: {exc}); free some space and run "
                "again: what was stored before is kept"
            )
        if "readonly" in text or "read-only" in text:
            return QualkamError(
                f"cannot write {where}: it is read-only (SQLite: {exc}); make the file and its folder "
                "writable, or copy the project somewhere you can write and use {project}",
                arguments=("project",),
            )
        if "unable to open" in text:
            return QualkamError(
                f"cannot open {where} (SQLite: {exc}); check the path exists and its folder is writable"
            )
        if "locked" in text or "busy" in text:
            return QualkamError(f"{where} is locked by another program (SQLite: {exc}); close it and run again")
        return None
    if isinstance(exc, sqlite3.DatabaseError) and ("malformed" in str(exc) or "not a database" in str(exc)):
        return QualkamError(
            f"the project file is damaged (SQLite: {exc}); restore it from a backup, or make a new "
            "project with another {project} path",
            arguments=("project",),
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
        name = f" {exc.filename}" if exc.filename else ""
        advice = {
            errno.ENOSPC: "the disk is full; free some space and run again",
            errno.EDQUOT: "the disk quota is used up; free some space and run again",
            errno.EROFS: "the file system is read-only; write to another folder (e.g. {out} or {project})",
        }
        return QualkamError(
            f"cannot write{name}: {advice.get(exc.errno, 'permission denied; make it writable or write elsewhere')} "
            f"({exc.strerror or exc})",
            arguments=("out", "project") if exc.errno == errno.EROFS else (),
        )
    return None


class NotFoundError(QualkamError):
    """Something asked for by id (a source, a coding, a suggestion) is not in the project;
    the web layer answers 404."""


class ForbiddenError(QualkamError):
    """The coder may not do this (another person's coding, another coder in a blind session);
    the web layer answers 403."""
