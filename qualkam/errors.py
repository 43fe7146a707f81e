"""The one exception family the core raises; the CLI turns it into a message and exit code."""

from __future__ import annotations


class QualkamError(Exception):
    """Base class: an error a user can act on. The message names the place and the fix."""

    exit_code = 2


class InputError(QualkamError):
    """A file or folder the user gave cannot be used (missing, empty, unreadable)."""


class SourceError(QualkamError):
    """One source file cannot be read; the run reports it and goes on with the others."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class CodebookError(QualkamError):
    """A codebook failed validation; ``problems`` lists every error, not just the first."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        head = f"{path}: {len(problems)} problem(s) in the codebook"
        super().__init__(head + "\n" + "\n".join(problems))


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
    return (f"could not be coded: {type(exc).__name__}{': ' + detail if detail else ''} (a bug in qualkam; "
            "run again with QUALKAM_DEBUG=1 and report the traceback)")
