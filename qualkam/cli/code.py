"""``qualkam code DIR``: ingest, segment, suggest, store and export in one run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from qualkam.cli.app import EXIT_OK, EXIT_PROBLEMS, app, worded
from qualkam.cli.console import err, out
from qualkam.cli.options import Jobs, SegmentUnit, Suggest, choice
from qualkam.coding.codebook import DEFAULT_CODEBOOK
from qualkam.coding.run import code_folder
from qualkam.coding.segment import Unit
from qualkam.store.project import DEFAULT_PROJECT, Project


@app.command("code")
def code_cli(
    ctx: typer.Context,
    folder: Annotated[
        Path,
        typer.Argument(
            help="Folder of transcripts, read recursively: .txt .md .docx .pdf "
            ".vtt .srt .json (lists of turns) .xlsx .csv .tsv (a turn or sentence a row).",
        ),
    ],
    codebook: Annotated[
        str | None,
        typer.Option(
            "--codebook",
            "-c",
            help="Codebook YAML path, or 'kam' for the built-in one. "
            f"Default: the project's own codebook; '{DEFAULT_CODEBOOK}' for a new project.",
        ),
    ] = None,
    replace_codebook: Annotated[
        bool,
        typer.Option(
            "--replace-codebook",
            help="Use --codebook even though it differs "
            "from the codebook of a project with people's codings (they are kept).",
        ),
    ] = False,
    project: Annotated[
        Path,
        typer.Option("--project", "-p", help="Project store file (created if missing); never read as a source."),
    ] = Path(DEFAULT_PROJECT),
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for excerpts.csv and the matrices.")] = Path(
        "qualkam-out"
    ),
    unit: Annotated[
        SegmentUnit,
        choice(SegmentUnit, "--unit", "-u", help="Segment unit: speaker turn, paragraph or sentence."),
    ] = SegmentUnit.turn,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="An installed trained spaCy pipeline (default: blank English, no download)."
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", help="Force a text encoding (default: BOM, then UTF-8, then Windows-1252)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
    suggest: Annotated[
        Suggest,
        choice(
            Suggest,
            "--suggest",
            help="rules (the codebook's patterns), model (the newest model from 'qualkam train') or both.",
        ),
    ] = Suggest.rules,
    jobs: Jobs = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            "-x",
            help="Files not to read, a gitignore pattern relative "
            "to FOLDER ('drafts/', '*.csv'); repeat it. A .qualkamignore file in FOLDER "
            "or its subfolders works the same way.",
        ),
    ] = None,
) -> None:
    """Code a folder of transcripts: suggest codes with their evidence, store them, export CSVs."""
    with Project.open(project, create=True) as store:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=quiet or not err.is_terminal,
            auto_refresh=False,
        ) as bar:  # no refresh thread: worker processes can be forked
            task = bar.add_task("coding", total=None)

            def tick(done: int, total: int, path: str) -> None:  # in bytes: it moves within a large file
                bar.update(task, completed=done, total=total, description=f"coding {Path(path).name}", refresh=True)

            report = code_folder(
                folder,
                codebook,
                store,
                unit=Unit(unit.value),
                model=model,
                encoding=encoding,
                out_dir=out_dir,
                progress=tick,
                progress_unit="bytes",
                suggest=suggest.value,
                jobs=jobs,
                replace_codebook=replace_codebook,
                exclude=exclude or (),
            )
        book = report.codebook
        assert book is not None
        for warning in book.warnings:
            err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
        for note in report.codebook_notes:
            err.print(f"note: {escape(worded(ctx.command, note))}", soft_wrap=True, highlight=False)
        for problem in report.problems:
            kind = "skipped" if problem.skipped else "warning"
            said = escape(worded(ctx.command, problem))
            err.print(f"[{'red' if problem.skipped else 'yellow'}]{kind}:[/] {said}", soft_wrap=True)
        if report.detached:
            err.print(
                f"[yellow]warning:[/] {report.detached} human coding(s) lost their text after a source changed; "
                "they are kept in the store without a segment"
            )
        for code, count in report.retired_in_use.items():
            err.print(
                f"[yellow]warning:[/] {count} coding(s) by people use {escape(repr(code))}, which this codebook "
                "no longer has; they are kept: map them with 'qualkam codebook migrate'",
                soft_wrap=True,
            )
        if report.missing_sources:
            more = " ..." if len(report.missing_sources) > 5 else ""
            err.print(
                f"note: {len(report.missing_sources)} source(s) in the project are no longer in {escape(str(folder))} "
                f"(kept): {escape(', '.join(report.missing_sources[:5]))}{more}"
            )
        if report.excluded_sources:
            err.print(
                f"note: {len(report.excluded_sources)} source(s) in the project are excluded now (--exclude, "
                f".qualkamignore) and kept as they were: {escape(', '.join(report.excluded_sources[:5]))}"
                f"{' ...' if len(report.excluded_sources) > 5 else ''}",
                soft_wrap=True,
            )
        if not quiet:
            counts = store.counts()
            out.print(f"[bold]qualkam code[/] · codebook {escape(book.describe())}", soft_wrap=True, highlight=False)
            out.print(
                f"files {report.files} · coded {report.coded} · unchanged {report.unchanged} · "
                f"skipped {len(report.skipped)}",
                soft_wrap=True,
            )
            out.print(
                f"project {escape(str(project))}: {counts['sources']} sources, {counts['segments']} segments "
                f"({unit.value}), {counts['suggestions']} suggestions, {counts['human_codings']} human codings",
                soft_wrap=True,
            )
            if report.model_id is not None:
                out.print(f"suggestions: {suggest.value} (model {report.model_id})", soft_wrap=True)
            out.print(f"outputs: {escape(', '.join(str(p) for p in report.outputs))}", soft_wrap=True)
            from qualkam.analysis.matrix import build_matrix  # pandas: only for the summary
            from qualkam.cli.show import matrix_table

            matrix = build_matrix(store, rows="phase", cols="code")
            out.print(matrix_table(matrix, title="Segments per code and phase", transpose=True, hide_empty=True))
    raise typer.Exit(EXIT_PROBLEMS if report.skipped or report.problems else EXIT_OK)
