"""``qualkam serve``: the coding workspace in the browser (issue 13; docs/workspace.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qualkam.cli.app import app
from qualkam.cli.console import err, out
from qualkam.cli.options import ProjectFile
from qualkam.store.project import DEFAULT_PROJECT


@app.command("serve")
def serve_cli(
    coder: Annotated[
        str | None, typer.Option("--coder", help="Your name as a coder; without it the page asks once.")
    ] = None,
    blind: Annotated[
        bool,
        typer.Option(
            "--blind", help="Show only --coder's own codings and the machine's suggestions, never anyone else's."
        ),
    ] = False,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on. Anything but 127.0.0.1 lets other machines connect.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on; 0 picks a free one.")
    ] = 8765,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser; just print the address.")
    ] = False,
    project: ProjectFile = Path(DEFAULT_PROJECT),
) -> None:
    """Start the coding workspace on this machine and open it in the browser.

    Read whole transcripts, code any passage, accept or reject the machine's suggestions,
    browse the codebook, excerpts and matrices, run coding queries and a concordance, write
    framework summaries; several coders may work at once (the CLI too).
    The address printed carries a session token (as Jupyter's does): every page and every
    write needs it. Stop with Ctrl+C; every coding is saved when it is made.
    """
    if blind and not coder:
        raise typer.BadParameter("needs --coder NAME: whose codings the blind session shows", param_hint="'--blind'")
    from qualkam.web.app import bind, create_app, host_names, is_loopback, run, url_of

    web = create_app(project, coder=coder, blind=blind, allowed_hosts=host_names(host))
    sock = bind(host, port)
    url = url_of(host, sock.getsockname()[1], web.state.settings.token)
    if not is_loopback(host):
        err.print(
            f"[bold yellow]warning:[/] listening on {host}: other machines on the network can reach this "
            "workspace (anyone with the address and its token can read and code the project)",
            highlight=False,
            soft_wrap=True,
        )
    err.print(f"qualkam workspace for {project}{' (blind: ' + coder + ')' if blind and coder else ''}; Ctrl+C stops it")
    out.print(url, soft_wrap=True, highlight=False, markup=False)
    if not no_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        run(web, sock)
    finally:
        sock.close()
