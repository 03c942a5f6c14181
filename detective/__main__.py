"""``python -m detective`` runs the command line."""

from detective.cli.app import main

main()
