"""``python -m qualkam`` runs the CLI."""

from .cli import main

main()
