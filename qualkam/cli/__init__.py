"""The ``qualkam`` command line: a thin Typer layer over the library API.

Each command module parses options, calls one library function and prints with rich.
Errors from the core (``QualkamError``) become a message on stderr and an exit code in
exactly one place, ``QualkamGroup.invoke``. Exit codes: 0 success; 1 finished, but inputs
were skipped or a check failed; 2 bad usage or input that stopped the run; 3 internal error.
"""

from __future__ import annotations

from qualkam.cli.app import app, main

__all__ = ["app", "main"]
