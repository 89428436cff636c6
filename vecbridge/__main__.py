"""``python -m vecbridge`` runs the command line."""

from vecbridge.cli import main

main()
