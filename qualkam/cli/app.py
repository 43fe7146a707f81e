"""The Typer application, its error boundary and the registration of every command.

Commands are registered lazily (issue 12): ``qualkam --help`` lists them from ``COMMANDS``
without importing their modules, so it starts without spaCy, pandas or the store; a
command's module, and the core it needs, is imported when that command runs or shows its
own help.
"""

from __future__ import annotations

import importlib
import os
import sqlite3
from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, NoReturn, Protocol

import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException

from qualkam.cli.console import err
from qualkam.errors import QualkamError, from_environment

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class Lazy(NamedTuple):
    """Where a top-level command lives, and the line ``qualkam --help`` shows for it (the first
    paragraph of its help; tests/test_cli.py checks the two agree)."""

    module: str
    summary: str


# In the order --help lists them: commands, then the command groups.
COMMANDS: dict[str, Lazy] = {
    "code": Lazy(
        "qualkam.cli.code",
        "Code a folder of transcripts: suggest codes with their evidence, store them, export CSVs.",
    ),
    "matrix": Lazy(
        "qualkam.cli.matrix",
        "Count coded segments (or sources, speakers, shares) per row value and code; or codes\n"
        "applied together, with --rows code --cols code.",
    ),
    "triangulate": Lazy(
        "qualkam.cli.triangulate",
        "Per code: how many sources, speakers, source types, phases and roles support it, and\n"
        "which codes rest on one source, one speaker or one kind of source.",
    ),
    "saturation": Lazy(
        "qualkam.cli.saturation",
        "New codes per source in order, runs of new information and the saturation point, after\n"
        "Guest, Namey & Chen (2020): a base of sources, runs after it, and a threshold of new codes.",
    ),
    "negative-cases": Lazy(
        "qualkam.cli.negative",
        "Where a code never occurs although it occurs in comparable sources or speakers (same phase,\n"
        "source type or attribute), with how often it occurs in those: cases to check.",
    ),
    "excerpts": Lazy(
        "qualkam.cli.excerpts",
        "Retrieve coded excerpts with their source, speaker, role, phase, time, coders and evidence.",
    ),
    "search": Lazy(
        "qualkam.cli.search",
        "Search the segments by lemma: 'account plans' finds 'Account Plan' and 'account planning'.",
    ),
    "query": Lazy(
        "qualkam.cli.query",
        "Find the segments where a combination of codes holds; quote them as excerpts or count them.",
    ),
    "kwic": Lazy(
        "qualkam.cli.kwic",
        "A concordance: each occurrence of a word or its lemma, with the words around it and its codes.",
    ),
    "report": Lazy(
        "qualkam.cli.report",
        "Write one self-contained HTML report: summary, heatmaps, the balance of\n"
        "each code attribute the codebook compares (compare:), triangulation, excerpts.",
    ),
    "review": Lazy("qualkam.cli.review", "Review suggestions segment by segment; resumes where you stopped."),
    "audit": Lazy("qualkam.cli.audit", "Export the audit trail: who changed what, when, before and after."),
    "reliability": Lazy(
        "qualkam.cli.reliability",
        "Agreement per code and overall: percent agreement, kappas, AC1, Krippendorff's alpha.",
    ),
    "agreement": Lazy(
        "qualkam.cli.agreement",
        "Agreement between coders on one variable: percent agreement, Cohen's kappa, Scott's pi,\n"
        "Fleiss' kappa, Brennan & Prediger, Gwet's AC1 and Krippendorff's alpha (docs/agreement.md).",
    ),
    "disagreements": Lazy(
        "qualkam.cli.disagreements",
        "Where coders differ: each unit they coded differently (with the text and what each gave),\n"
        "a confusion table per code, a coder x coder agreement matrix, and each coder's prevalence.",
    ),
    "reconcile": Lazy(
        "qualkam.cli.reconcile",
        "Reconcile coders segment by segment into a consensus coder; resumes where you stopped.",
    ),
    "evaluate": Lazy(
        "qualkam.cli.evaluate",
        "Precision, recall and F1 of the suggestions per code, on the sources the reference has seen,\n"
        "with the false positives (which rule over-fires) and false negatives (what the patterns miss).",
    ),
    "train": Lazy(
        "qualkam.cli.train",
        "Train a text classifier on people's codings; report held-out precision, recall and F1 vs the rules.",
    ),
    "serve": Lazy("qualkam.cli.serve", "Start the coding workspace on this machine and open it in the browser."),
    "codebook": Lazy("qualkam.cli.codebook", "Check and show codebooks."),
    "memo": Lazy("qualkam.cli.memo", "Write, list, edit and delete memos."),
    "framework": Lazy(
        "qualkam.cli.framework",
        "Framework matrices: cases x themes, a summary per cell linked to its excerpts; XLSX round trip, HTML.",
    ),
    "cases": Lazy("qualkam.cli.cases", "Participants as cases: list them with their attributes, import a cases file."),
    "project": Lazy("qualkam.cli.project", "Clone a project for a coder, merge coders' projects back."),
    "sheet": Lazy("qualkam.cli.sheet", "Coding sheets: a spreadsheet per coder, filled in Excel and imported back."),
    "import": Lazy(
        "qualkam.cli.importing",
        "Import codings made outside qualkam: coding sheets, span CSVs, REFI-QDA projects.",
    ),
    "export": Lazy(
        "qualkam.cli.export",
        "Export the project (.qdpx) or a codebook (.qdc) for NVivo, ATLAS.ti, MAXQDA and other REFI-QDA tools.",
    ),
}


def option_name(command: Command, argument: str) -> str:
    """How ``command`` spells the core's ``argument``: the flag of the parameter of that name
    (``layer`` -> ``--from``), or the metavar of a positional argument (``FOLDER``)."""
    # a command that still names a list option in the singular (``--code`` for ``codes``)
    names = [argument] + [argument[: -len(s)] for s in ("es", "s") if argument.endswith(s)]
    for name in names:
        for param in command.params:
            if param.name == name:
                if param.param_type_name == "argument":
                    return param.metavar or argument.upper()
                flags = [o for o in param.opts if o.startswith("--")] or list(param.opts)
                return flags[0]
    return "--" + argument.replace("_", "-")  # the flag Typer would make for it


class Worded(Protocol):
    """A core message that names arguments: a QualkamError, a run's note."""

    @property
    def arguments(self) -> tuple[str, ...]: ...

    def worded(self, names: Mapping[str, str] | None = None) -> str: ...


def worded(command: Command | None, said: Worded) -> str:
    """A core message with each argument it names written as ``command`` spells it (its flag,
    or the metavar of a positional argument); without a command, as the arguments' names."""
    if command is None:
        return str(said)
    return said.worded({argument: option_name(command, argument) for argument in said.arguments})


class QualkamGroup(TyperGroup):
    """Turns core errors into one clear line and an exit code; never a traceback.

    Every command group (``codebook``, ``memo`` ...) uses this class, so the innermost group
    catches the error and knows the command that ran: a core error about an ``argument`` is
    worded with that command's flag."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except QualkamError as exc:
            err.print(f"[bold red]error:[/] {escape(self._worded(ctx, exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, TyperException):  # usage errors: Typer reports them
            raise
        except (OSError, sqlite3.DatabaseError) as exc:  # a full disk, a read-only project: not a bug
            mapped = from_environment(exc)
            if mapped is None:
                _internal(exc)
            err.print(f"[bold red]error:[/] {escape(self._worded(ctx, mapped))}", highlight=False, soft_wrap=True)
            raise typer.Exit(mapped.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted; every finished source is saved")
            raise typer.Exit(130) from None
        except Exception as exc:  # a bug: say so plainly, keep the traceback for QUALKAM_DEBUG=1
            _internal(exc)

    def _worded(self, ctx: Context, exc: QualkamError) -> str:
        """The message, each argument it names (``{argument}``, ``{codebook}`` ...) written as
        the invoked command's flag."""
        if not exc.arguments or ctx.invoked_subcommand is None:
            return str(exc)
        return worded(self.get_command(ctx, ctx.invoked_subcommand), exc)


class _Commands(MutableMapping[str, "Command"]):
    """The top-level commands: every name in ``COMMANDS``, each module imported on first use."""

    def __init__(self, loaded: MutableMapping[str, Command]) -> None:
        self.loaded = loaded

    def __getitem__(self, name: str) -> Command:
        if name not in self.loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            importlib.import_module(COMMANDS[name].module)  # registers the command on `app`
            self.loaded[name] = typer.main.get_group(app).commands[name]
        return self.loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self.loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self.loaded if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self.loaded if name not in COMMANDS)

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self.loaded


class QualkamApp(QualkamGroup):
    """The ``qualkam`` group: its commands load when used; ``--help`` lists their summaries."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self.commands)
        self._summaries = False

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        commands = self.commands
        assert isinstance(commands, _Commands)
        if self._summaries and cmd_name in COMMANDS and cmd_name not in commands.loaded:
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].summary)
        return commands.get(cmd_name)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._summaries = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._summaries = False


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
    cls=QualkamApp,
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
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print qualkam's version and exit."),
    ] = False,
) -> None:
    """Qualitative coding of interviews, meetings and field notes: suggest, code, triangulate."""


def main() -> None:
    """Console-script entry point."""
    app()
