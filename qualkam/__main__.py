"""``python -m qualkam`` runs the CLI."""

from qualkam.cli import main

main()
