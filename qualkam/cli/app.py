"""The Typer application, its error boundary and the registration of every command."""

from __future__ import annotations

import os
import sqlite3
from typing import Any, NoReturn

import typer
from rich.markup import escape
from typer.core import TyperGroup
from typer.exceptions import TyperException

from qualkam.cli.console import err
from qualkam.errors import QualkamError, from_environment

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class QualkamGroup(TyperGroup):
    """Turns core errors into one clear line and an exit code; never a traceback."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except QualkamError as exc:
            message = exc.worded(_flag(self, ctx, exc.argument))
            err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, TyperException):  # usage errors: Typer reports them
            raise
        except (OSError, sqlite3.DatabaseError) as exc:  # a full disk, a read-only project: not a bug
            mapped = from_environment(exc)
            if mapped is None:
                _internal(exc)
            err.print(f"[bold red]error:[/] {escape(str(mapped))}", highlight=False, soft_wrap=True)
            raise typer.Exit(mapped.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted; every finished source is saved")
            raise typer.Exit(130) from None
        except Exception as exc:  # a bug: say so plainly, keep the traceback for QUALKAM_DEBUG=1
            _internal(exc)


def _flag(group: Any, ctx: typer.Context, argument: str | None) -> str | None:
    """The option of the command that ran whose parameter is ``argument`` (``layer`` ->
    ``--from``); a singular parameter name stands for a plural argument (``source`` for
    ``sources``). The argument's own name when no option matches."""
    if not argument:
        return argument
    command = group.get_command(ctx, ctx.invoked_subcommand or "")
    commands = [command] if command is not None else []
    if hasattr(command, "list_commands"):  # a sub-group's command is no longer known: any of them
        commands = [command.get_command(ctx, name) for name in command.list_commands(ctx)]
    names = (
        [argument]
        + ([argument[:-1]] if argument.endswith("s") else [])
        + ([argument[:-2]] if argument.endswith("es") else [])
    )
    for name in names:
        for cmd in commands:
            for param in getattr(cmd, "params", []):
                if param.name == name and getattr(param, "param_type_name", "") == "option":
                    return max(param.opts, key=lambda opt: (opt.startswith("--"), len(opt)))
    return argument


def _internal(exc: Exception) -> NoReturn:
    if os.environ.get("QUALKAM_DEBUG"):
        raise exc
    err.print(
        f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
        "This is a bug in qualkam; run again with QUALKAM_DEBUG=1 and report the traceback.",
        highlight=False,
    )
    raise typer.Exit(EXIT_INTERNAL) from None


app = typer.Typer(
    cls=QualkamGroup,
    name="qualkam",
    help="Qualitative coding of interviews, meetings and field notes: suggest, code, triangulate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        from qualkam import __version__

        typer.echo(f"qualkam {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print qualkam's version and exit."
    ),
) -> None:
    """Qualitative coding of interviews, meetings and field notes: suggest, code, triangulate."""


# Each command module registers itself on `app` when imported, in the order --help lists them.
# isort: off
from qualkam.cli import code as _code  # noqa: E402,F401
from qualkam.cli import codebook as _codebook  # noqa: E402,F401
from qualkam.cli import matrix as _matrix  # noqa: E402,F401
from qualkam.cli import triangulate as _triangulate  # noqa: E402,F401
from qualkam.cli import excerpts as _excerpts  # noqa: E402,F401
from qualkam.cli import search as _search  # noqa: E402,F401
from qualkam.cli import report as _report  # noqa: E402,F401
from qualkam.cli import review as _review  # noqa: E402,F401
from qualkam.cli import memo as _memo  # noqa: E402,F401
from qualkam.cli import audit as _audit  # noqa: E402,F401
from qualkam.cli import project as _project  # noqa: E402,F401
from qualkam.cli import reliability as _reliability  # noqa: E402,F401
from qualkam.cli import sheet as _sheet  # noqa: E402,F401
from qualkam.cli import importing as _importing  # noqa: E402,F401
from qualkam.cli import agreement as _agreement  # noqa: E402,F401
from qualkam.cli import disagreements as _disagreements  # noqa: E402,F401
from qualkam.cli import reconcile as _reconcile  # noqa: E402,F401
from qualkam.cli import export as _export  # noqa: E402,F401
from qualkam.cli import evaluate as _evaluate  # noqa: E402,F401
from qualkam.cli import train as _train  # noqa: E402,F401
# isort: on


def main() -> None:
    """Console-script entry point."""
    app()
