"""``python -m proplens`` runs the command line."""

from proplens.cli import run

run()
