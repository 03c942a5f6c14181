"""``python -m detective`` runs the command line."""

from detective.cli import main

main()
