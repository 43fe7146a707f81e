"""qualkam: qualitative coding of ethnographic transcripts, scriptable and auditable.

The library API lives in the modules below; the Typer CLI in ``qualkam.cli`` is a thin
layer over it, so notebooks and tests call the same functions the commands do.
"""

__version__ = "0.1.0"
